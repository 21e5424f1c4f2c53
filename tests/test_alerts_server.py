"""Alerts end to end on a real server (SQLite and PostgreSQL): a rule made over GraphQL fires on
slow events and resolves on fast ones, one message each way to every destination (never a
repeat while it stays firing), signed so that the receiver can check it, through a receiver
that fails twice first; the history over GraphQL; refusals. Then two PostgreSQL processes on
one database (still one message per change), and the Settings → Alerts page in a browser.

The servers evaluate every 0.3 s (PHOSPHO_ALERT_EVALUATE_SECONDS) so that the tests take
seconds; the default 60 s path is tests/test_alerts.py's evaluator call a minute later."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.alerts_support import (
    CREATE_DESTINATION,
    CREATE_RULE,
    EVENTS,
    Receiver,
    gql,
    gql_errors,
    log_latencies,
    start_receiver,
    verify,
)
from tests.browser_session import signed_in_tab
from tests.harness import (
    BACKENDS,
    Server,
    Tenant,
    create_migrated_pg_database,
    drop_pg_database,
    require_backend,
    serving,
)
from tests.test_dashboard_browser import browser  # noqa: F401 (the module's chromium)

FAST_ENV = {
    "PHOSPHO_ALERT_EVALUATE_SECONDS": "0.3",
    "PHOSPHO_WEBHOOK_ALLOW_PRIVATE": "1",
    "PHOSPHO_WEBHOOK_BACKOFF_SECONDS": "0.1",
}
SLOW_RULE = {
    "name": "slow answers",
    "metric": "LATENCY_P95",
    "window": "FIVE_MINUTES",
    "comparison": "GT",
    "threshold": 1000.0,
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The loopback webhook receiver."""
    state, httpd = start_receiver()
    yield state
    httpd.shutdown()


@pytest.fixture(scope="module", params=BACKENDS)
def alerting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server evaluating its rules every 0.3 s, allowed to deliver to loopback."""
    with serving(
        request.param, tmp_path_factory.mktemp(f"alerts-{request.param}"), **FAST_ENV
    ) as srv:
        yield srv


def destination(server: Server, tenant: Tenant, name: str, kind: str, url: str) -> tuple[str, str]:
    """A destination made over GraphQL: (id, secret)."""
    made = gql(server, tenant, CREATE_DESTINATION, name=name, kind=kind, url=url)
    return made["createAlertDestination"]["destination"]["id"], made["createAlertDestination"][
        "secret"
    ]


def test_a_rule_fires_once_and_resolves_once_through_a_flaky_receiver(
    alerting: Server, receiver: Receiver
) -> None:
    tenant = alerting.new_tenant()
    base = f"/{alerting.backend}-{tenant.project_id}"
    receiver.fail_first[base + "/flaky"] = 2
    plain, secret = destination(alerting, tenant, "plain", "WEBHOOK", receiver.url(base + "/plain"))
    flaky, flaky_secret = destination(
        alerting, tenant, "flaky", "WEBHOOK", receiver.url(base + "/flaky")
    )
    slack, _ = destination(alerting, tenant, "chat", "SLACK", receiver.url(base + "/slack"))
    rule = gql(
        alerting, tenant, CREATE_RULE, input={**SLOW_RULE, "destinationIds": [plain, flaky, slack]}
    )
    rule_id = rule["createAlertRule"]["id"]
    assert rule["createAlertRule"]["state"] == "ok"

    log_latencies(alerting, tenant, [3000.0] * 20)
    started = time.monotonic()
    fired = receiver.wait_for(base + "/plain", 1)[0]
    assert time.monotonic() - started < 70
    assert fired.json["type"] == "alert.firing" and fired.json["rule"]["id"] == int(rule_id)
    assert fired.json["value"] >= 2900 and "FIRING" in fired.json["text"]
    assert verify(secret, fired.headers, fired.body)
    assert not verify(flaky_secret, fired.headers, fired.body)  # another destination's secret
    assert not verify(secret, fired.headers, fired.body.replace(b"FIRING", b"FIRINH"))
    flaky_got = receiver.wait_for(base + "/flaky", 1)
    assert len(receiver.of(base + "/flaky", None)) == 3  # two 500s, then delivered
    assert verify(flaky_secret, flaky_got[0].headers, flaky_got[0].body)
    tries = {r.headers["x-phospho-delivery"] for r in receiver.of(base + "/flaky", None)}
    assert len(tries) == 1  # the same delivery id on every try
    text = receiver.wait_for(base + "/slack", 1)[0].json
    assert set(text) == {"text"} and "slow answers" in text["text"]

    time.sleep(2.0)  # ~6 more evaluations while it stays firing: no repeat
    assert [len(receiver.of(base + p, None)) for p in ("/plain", "/flaky", "/slack")] == [1, 3, 1]

    log_latencies(alerting, tenant, [10.0] * 400)  # p95 back to 10 ms
    resolved = receiver.wait_for(base + "/plain", 2)[1]
    assert resolved.json["type"] == "alert.resolved" and verify(
        secret, resolved.headers, resolved.body
    )
    receiver.wait_for(base + "/flaky", 2)
    receiver.wait_for(base + "/slack", 2)
    time.sleep(1.5)
    assert [len(receiver.of(base + p, None)) for p in ("/plain", "/flaky", "/slack")] == [2, 4, 2]

    history = gql(alerting, tenant, EVENTS, rule=rule_id)["alertEvents"]
    assert [e["kind"] for e in history] == ["resolved", "firing"]
    firing = {d["destination"]: d for d in history[1]["deliveries"]}
    assert firing["flaky"]["status"] == "delivered" and firing["flaky"]["attempts"] == 3
    assert firing["flaky"]["lastError"] is None
    assert firing["plain"]["attempts"] == 1
    # Delivery latency: the evaluator's commit of the change → the receiver got it.
    made = alerting.query(
        "SELECT created_at FROM alert_events WHERE rule_id = ? ORDER BY id", int(rule_id)
    )
    at = [m[0] if isinstance(m[0], datetime) else datetime.fromisoformat(m[0]) for m in made]
    got = [fired.at, resolved.at]
    latency = [round((g - a.timestamp()) * 1000, 1) for g, a in zip(got, at, strict=True)]
    print(f"\n{alerting.backend}: delivery latency (ms): {latency}")


def test_refusals_and_other_tenants(alerting: Server, receiver: Receiver) -> None:
    tenant, other = alerting.new_tenant(), alerting.new_tenant()
    errors = gql_errors(
        alerting, tenant, CREATE_DESTINATION, name="x", kind="WEBHOOK", url="ftp://example.com/"
    )
    assert errors[0]["extensions"]["code"] == "invalid" and "http://" in errors[0]["message"]
    errors = gql_errors(
        alerting,
        tenant,
        CREATE_DESTINATION,
        name="x",
        kind="WEBHOOK",
        url="http://no-such-host.invalid/",
    )
    assert "does not resolve" in errors[0]["message"]
    errors = gql_errors(
        alerting, tenant, CREATE_RULE, input={**SLOW_RULE, "destinationIds": ["999999"]}
    )
    assert "destination 999999 not found" in errors[0]["message"]
    errors = gql_errors(
        alerting,
        tenant,
        CREATE_RULE,
        input={**SLOW_RULE, "metric": "COST_PER_END_USER", "model": "m"},
    )
    assert "no model filter" in errors[0]["message"]
    dest, _ = destination(alerting, tenant, "mine", "WEBHOOK", receiver.url("/unused"))
    rule = gql(alerting, tenant, CREATE_RULE, input={**SLOW_RULE, "destinationIds": [dest]})[
        "createAlertRule"
    ]
    # Another project sees nothing of it and cannot touch it.
    assert gql(alerting, other, "{ alertRules { id } alertDestinations { id } }") == {
        "alertRules": [],
        "alertDestinations": [],
    }
    errors = gql_errors(
        alerting, other, "mutation($id: ID!) { deleteAlertRule(id: $id) }", id=rule["id"]
    )
    assert errors[0]["extensions"]["code"] == "not_found"
    errors = gql_errors(alerting, other, CREATE_RULE, input={**SLOW_RULE, "destinationIds": [dest]})
    assert "not found" in errors[0]["message"]
    update = """mutation($id: ID!, $input: AlertRuleInput!) {
      updateAlertRule(id: $id, input: $input) { threshold window destinations { id } } }"""
    changed = gql(
        alerting,
        tenant,
        update,
        id=rule["id"],
        input={**SLOW_RULE, "threshold": 5, "window": "ONE_DAY"},
    )
    assert changed["updateAlertRule"] == {
        "threshold": 5.0,
        "window": "ONE_DAY",
        "destinations": [{"id": dest}],
    }
    assert gql(alerting, tenant, "mutation($id: ID!) { deleteAlertRule(id: $id) }", id=rule["id"])
    assert gql(alerting, tenant, "{ alertRules { id } }") == {"alertRules": []}
    # Without a key: 401, as for every GraphQL request.
    answer = httpx.post(alerting.base_url + "/graphql", json={"query": "{ alertRules { id } }"})
    assert answer.status_code == 401


def test_a_server_without_the_setting_refuses_internal_urls(server: Server, tenant: Tenant) -> None:
    """The shared server (PHOSPHO_WEBHOOK_ALLOW_PRIVATE unset) refuses loopback and private
    destinations with a reason, and stores none."""
    for url in ("http://127.0.0.1:8000/hook", "http://localhost/", "https://10.0.0.8/x"):
        errors = gql_errors(server, tenant, CREATE_DESTINATION, name="x", kind="WEBHOOK", url=url)
        assert errors[0]["extensions"]["code"] == "invalid", errors
        assert "PHOSPHO_WEBHOOK_ALLOW_PRIVATE" in errors[0]["message"]
    assert gql(server, tenant, "{ alertDestinations { id } }") == {"alertDestinations": []}


def test_two_postgres_processes_send_one_message_per_change(
    tmp_path: Path, receiver: Receiver
) -> None:
    require_backend("postgres")
    url = create_migrated_pg_database()
    one = Server("postgres", tmp_path / "one", url, extra_env=FAST_ENV)
    two = Server("postgres", tmp_path / "two", url, extra_env=FAST_ENV)
    try:
        for srv in (one, two):
            srv.data_dir.mkdir()
            srv.start()
        tenant = one.new_tenant()
        path = f"/two-processes-{tenant.project_id}"
        dest, secret = destination(one, tenant, "hook", "WEBHOOK", receiver.url(path))
        gql(two, tenant, CREATE_RULE, input={**SLOW_RULE, "destinationIds": [dest]})
        log_latencies(two, tenant, [3000.0] * 20)
        receiver.wait_for(path, 1)
        time.sleep(3.0)  # ~10 passes of each process
        assert len(receiver.of(path, None)) == 1
        log_latencies(one, tenant, [10.0] * 400)
        got = receiver.wait_for(path, 2)
        time.sleep(3.0)
        assert len(receiver.of(path, None)) == 2
        assert [r.json["type"] for r in got] == ["alert.firing", "alert.resolved"]
        assert all(verify(secret, r.headers, r.body) for r in got)
        kinds = one.query(
            "SELECT kind FROM alert_events WHERE project_id = ? ORDER BY id", tenant.project_id
        )
        assert kinds == [("firing",), ("resolved",)]
    finally:
        one.stop()
        two.stop()
        drop_pg_database(url)


def test_settings_alerts_in_a_browser(
    alerting: Server,
    receiver: Receiver,
    browser: Browser,  # noqa: F811
) -> None:
    if alerting.backend != "sqlite":
        pytest.skip("the browser flow runs once, on the SQLite server")
    receiver.fail_first["/browser-down"] = 1000
    with signed_in_tab(browser, alerting) as (tab, _):
        tab.goto(alerting.base_url + "/")
        tab.get_by_role("link", name="Alerts").click()
        tab.get_by_label("Destination name").fill("ops hook")
        tab.get_by_label("Kind").select_option("webhook")
        tab.get_by_label("URL").fill("gopher://example.com/")
        tab.get_by_role("button", name="Add destination").click()
        assert "http:// or https://" in tab.get_by_role("alert").inner_text()
        tab.get_by_label("Destination name").fill("ops hook")
        tab.get_by_label("URL").fill(receiver.url("/browser-ok"))
        tab.get_by_role("button", name="Add destination").click()
        secret = tab.locator("#new-secret").inner_text()
        assert secret.startswith("whsec_")
        tab.get_by_role("button", name="Send test to ops hook").click()
        assert tab.locator("#alerts-notice").inner_text() == "Test message delivered."
        got = receiver.wait_for("/browser-ok", 1)[0]
        assert verify(secret, got.headers, got.body) and got.json["type"] == "alert.test"

        tab.get_by_label("Destination name").fill("broken hook")
        tab.get_by_label("URL").fill(receiver.url("/browser-down"))
        tab.get_by_role("button", name="Add destination").click()
        tab.get_by_role("button", name="Send test to broken hook").click()
        assert "failed" in tab.locator("#alerts-notice").inner_text()
        row = tab.locator("table.alert-destinations tr", has_text="broken hook")
        assert "HTTP 500" in row.locator(".last-error").inner_text()
        history = tab.locator("table.alert-history").inner_text()
        assert "broken hook: failed after 3 tries — last error: HTTP 500" in history
        assert "ops hook: delivered after 1 try" in history

        tab.get_by_label("Rule name").fill("costly")
        tab.get_by_label("Metric").select_option("cost")
        tab.get_by_label("Window").select_option("1h")
        tab.get_by_label("Comparison").select_option("gte")
        tab.get_by_label("Threshold").fill("2.5")
        tab.get_by_label("ops hook").check()
        tab.get_by_role("button", name="Add rule").click()
        tab.wait_for_url("**/settings/alerts")
        row = tab.locator("table.alert-rules tr", has_text="costly")
        assert "cost (USD) over 1h >= 2.5" in row.inner_text()
        assert "ops hook" in row.inner_text() and row.locator(".state").inner_text() == "ok"
        tab.get_by_role("button", name="Pause costly").click()
        assert (
            tab.locator("table.alert-rules tr", has_text="costly").locator(".state").inner_text()
            == "ok (paused)"
        )
        tab.get_by_role("button", name="Resume costly").click()
        tab.get_by_role("button", name="Pause costly").wait_for()
