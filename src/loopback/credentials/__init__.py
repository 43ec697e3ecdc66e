"""Credentials: per-bucket access keys and the encrypted secret store behind them."""
