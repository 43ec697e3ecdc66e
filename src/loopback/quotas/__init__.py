"""Quotas: how many buckets a project may hold, and bytes and objects, per organization and project."""
