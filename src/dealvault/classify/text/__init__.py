"""Internals of the free-text scanner; the public API is dealvault.classify.freetext."""
