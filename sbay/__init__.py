"""sbay — the Servicebay command-line client. Talks to the REST API only (no Django)."""

__version__ = "0.1.0"
