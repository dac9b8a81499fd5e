"""Security monitoring: rules over the audit stream raise de-duplicated alerts."""
