"""Incidents: the category catalogue now; logging, routing, lifecycle and escalation build on it."""
