"""The reliability suite: no input, tenant or load can stop, slow or exhaust the server (issue 17).

Every part runs against real servers (SQLite, and PostgreSQL when `PHOSPHO_TEST_POSTGRES` is
set), is bounded in time, and carries a negative control or a check that it can fail:

- OpenAPI fuzz (`test_openapi_fuzz.py`): schemathesis with every check over `/openapi.json`,
  at least 500 cases per database, 0 failures, stateful links followed; negative control:
  documents broken on purpose must each be reported by the check that guards that rule.
- GraphQL fuzz and amplification: schemathesis over the GraphQL schema (at least 300 cases,
  no server error) and the cost limits against the amplification query (memory stays bounded).
- Poison pill and rollup bounds: no accepted input makes a later write fail; one tenant's
  junk does not slow another's writes; rollup sums cannot overflow.
- Overload: admission control answers 503/429 with `Retry-After` instead of buffering.
- Login race and revocation: concurrent wrong passwords are counted before the hash check;
  revoking a key closes its subscriptions and streams.
- Crash (`tests/test_crash.py`, kept where it is): `kill -9` under load loses no acknowledged
  event.

Run it alone with `make reliability` (or `pytest -m reliability`); `make test` runs it too.
Every test in this folder gets the `reliability` marker from this folder's conftest.py.
"""
