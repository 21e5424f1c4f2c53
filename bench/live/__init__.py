"""`python -m bench.live`: 201 -> subscriber latency, misses and server CPU per delivered live
event, GraphQL and SSE subscribers (see cli.py)."""
