"""Sizes as people read them, for the console and the CLI alike."""

from __future__ import annotations

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def binary_size(size: int) -> str:
    """Binary units, one decimal past a kibibyte: "512 B", "1.2 MiB"."""
    value = float(size)
    for unit in BINARY_UNITS[:-1]:
        if abs(value) < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {BINARY_UNITS[-1]}"
