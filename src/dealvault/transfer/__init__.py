"""Transfer: plans, packages, reconciliation, canaries, backups, destruction certificates."""
