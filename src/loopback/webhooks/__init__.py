"""Lifecycle webhooks: an organization's HTTPS endpoints, and the signed CloudEvents delivered to them."""
