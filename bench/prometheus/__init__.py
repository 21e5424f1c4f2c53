"""`python -m bench.prometheus`: what a `GET /metrics` scrape costs (see __main__.py)."""
