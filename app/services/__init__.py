"""Services: write path, reads, auth. Tenant scoping lives here; no web framework imports."""
