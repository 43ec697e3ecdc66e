"""Billing: an organization's usage over a period, integrated from the buckets' usage samples."""
