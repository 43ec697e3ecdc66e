"""Providers: the storage backends an operator configures, their regions, and the adapters that drive them."""
