"""Encrypted customer records, blind indexes and the one read path."""
