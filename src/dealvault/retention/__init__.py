"""Retention rules per dataset and category: review reminders and scheduled crypto-shredding."""
