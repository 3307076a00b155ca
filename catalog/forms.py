"""Forms of the catalog app."""
