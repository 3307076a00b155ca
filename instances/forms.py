"""Forms of the instances app."""
