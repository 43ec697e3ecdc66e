"""Buckets: the first-class record of a tenant's storage and its life cycle."""
