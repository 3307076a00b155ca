"""Every write of the catalog app: one transaction each, audited, enqueuing operations on commit."""
