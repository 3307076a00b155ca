"""Every write of the marketplace app: one transaction each, audited, enqueuing operations on commit."""
