"""Reads of the catalog app, always through portal.access so outsiders see nothing."""
