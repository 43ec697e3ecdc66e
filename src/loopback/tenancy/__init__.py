"""Tenancy: users, organizations, projects, memberships and API tokens."""
