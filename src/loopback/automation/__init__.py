"""Automation: the task queue (Huey), its workers, and the periodic jobs that keep state honest."""
