"""Pieces every domain shares: settings, database, errors, identifiers."""
