"""Helpers shared by test modules of more than one directory (never test modules themselves)."""
