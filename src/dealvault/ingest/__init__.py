"""Readers for customer exports: streaming Arrow batches, mapping, validation, reject reports."""
