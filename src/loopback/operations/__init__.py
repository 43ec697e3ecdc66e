"""Running an installation: the doctor's checks, backup and restore, upgrades."""
