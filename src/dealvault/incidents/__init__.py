"""Incidents: a team, notes, a timeline and the impact of a leak (issue 19, docs/monitoring.md)."""
