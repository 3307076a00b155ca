"""Reads of the marketplace app, always through portal.access so outsiders see nothing."""
