"""Alerts: rules over a project's metrics, evaluated from the rollups, and their messages to
webhooks and Slack-compatible destinations.

- `rules`: what a rule is (metric, window, comparison) and the checks of one written by a client.
- `urls`: destination URLs (http(s) only, no internal addresses unless allowed), re-checked
  and pinned at each delivery.
- `manage`: the project's rules, destinations and history (create, change, delete, list).
- `measure`: a rule's value, from the rollups.
- `store`: the writes that must happen once across processes (state changes, leases).
- `delivery`: the body, its signature, three tries with backoff, the recorded outcome.
- `evaluator`: the lifespan's loop (`Evaluator`), one pass (`evaluate_once`), `send_test`.
"""
