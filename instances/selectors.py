"""Reads of the instances app, always through portal.access so outsiders see nothing."""
