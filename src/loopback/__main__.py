"""``python -m loopback`` runs the CLI."""

from loopback.cli import app

app()
