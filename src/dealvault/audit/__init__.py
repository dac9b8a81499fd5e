"""The tamper-evident audit log: events, RFC 9162 Merkle tree, signed checkpoints, proofs."""
