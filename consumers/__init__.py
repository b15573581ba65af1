"""Consumers of the unified records: registration desks and operations."""
