"""Per-customer notices in bulk: messages rendered from template sets, a delivery file for the
seller's gateway, and the gateway's status file imported back (any purpose: incidents, PIPL
art. 22 transfer notices)."""
