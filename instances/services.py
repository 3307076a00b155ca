"""Every write of the instances app: one transaction each, audited, enqueuing operations on commit."""
