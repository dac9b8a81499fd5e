"""Organisations, people, deals, memberships and (later) agreements, training, policy, grants."""
