"""Loopback object storage: a control plane that provisions S3-compatible buckets."""

__version__ = "0.1.0"
