"""De-identification: masking, tokens, generalisation, k-anonymity, safe aggregates."""
