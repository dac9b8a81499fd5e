"""Key providers, the key hierarchy, the AEAD envelope, blind indexes and shredding."""
