"""Cross-domain use cases; each runs in one transaction (unit of work) and commits it."""
