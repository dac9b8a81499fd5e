"""Customers' consents and their purposes: imported from the seller's records, asked by the gate."""
