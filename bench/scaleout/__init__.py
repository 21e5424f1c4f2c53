"""`python -m bench.scaleout --postgres URL`: ingest with 1, 2 and 4 workers, and live delivery
across processes (see cli.py)."""
