"""Forms of the marketplace app."""
