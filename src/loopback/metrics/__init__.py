"""What an installation publishes to Prometheus: its collectors and the /metrics answer."""
