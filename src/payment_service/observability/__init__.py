"""Logging and metrics shared by every listener."""
