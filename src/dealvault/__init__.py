"""dealvault: keep customer data safe through a company transfer."""

__version__ = "0.1.0"
