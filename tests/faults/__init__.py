"""Fault injection against the scale-out topology: real processes killed, stopped and restarted."""
