"""PII discovery: detectors, column classifier, free-text scanner, data inventory."""
