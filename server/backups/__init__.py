"""Backups: one encrypted archive of the database and every blob (`hamlet backup` / `hamlet restore`,
docs/operations.md)."""
