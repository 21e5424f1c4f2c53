"""Figures of one mix from its phases, the targets of issue 17, and the printed table."""

from __future__ import annotations

import statistics
from typing import Any

GOODPUT_RATIO = 0.8  # goodput >= 80% of capacity
P99_RATIO = 10.0  # p99 of accepted requests <= 10x its unloaded value
PEAK_RATIO = 2.0  # RSS peak <= 2x the loaded steady state
AFTER_RATIO = 1.25  # RSS after the phase <= 1.25x the steady state ("returns near it")
HEALTH_MS = 100.0  # every health check answered within 100 ms


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _ok(figures: dict[str, Any]) -> int:
    return sum(count for status, count in figures["status"].items() if status.startswith("2"))


def _stored_check(result: dict[str, Any], figures: dict[str, Any]) -> tuple[int, int, int]:
    """(events acknowledged with 2xx, of those stored, stored but never acknowledged)."""
    per = result["mix"].events
    acked = {n * per + k for n in figures["ok_ids"] for k in range(per)}
    stored = result["stored"].get(figures["run_id"], set())
    return len(acked), len(acked & stored), len(stored - acked)


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """Everything printed for one mix, as plain numbers."""
    phases, sampler, probes = result["phases"], result["sampler"], result["probes"]
    cap = phases["capacity"]
    capacity = _ok(cap) / cap["seconds"]
    half = (cap["started"] + cap["ended"]) / 2
    steady = statistics.median(sampler.between(half, cap["ended"]) or [result["rss_start"]])
    unloaded = phases["unloaded"]["latencies"]
    out: dict[str, Any] = {
        "mix": result["mix"].name,
        "events_per_request": result["mix"].events,
        "capacity_req_s": capacity,
        "capacity_cpu_us": cap["cpu"] / max(1, sum(cap["status"].values())) * 1e6,
        "capacity_clients": result["mix"].capacity_clients,
        "capacity_refused": sum(cap["status"].values()) - _ok(cap),
        "unloaded_p50_ms": _pct(unloaded, 0.5) * 1000,
        "unloaded_p99_ms": _pct(unloaded, 0.99) * 1000,
        "rss_start_mb": result["rss_start"],
        "rss_steady_mb": steady,
        "stored": {name: _stored_check(result, phases[name]) for name in phases},
        "overload": [],
    }
    for name, phase in phases.items():
        if "settled" not in phase:
            continue
        answered = sum(phase["status"].values())
        window = [at for at, _ in probes if phase["started"] <= at <= phase["settled"]]
        health = [s for at, s in probes if phase["started"] <= at <= phase["ended"]]
        after = sampler.between(phase["settled"] - 1.0, phase["settled"])
        out["overload"].append(
            {
                "name": name,
                "offered_req_s": phase["sent"] / phase["seconds"],
                "goodput_req_s": phase["ok_in_window"] / phase["seconds"],
                "ratio": phase["ok_in_window"] / phase["seconds"] / capacity,
                "p50_ms": _pct(phase["latencies"], 0.5) * 1000,
                "p99_ms": _pct(phase["latencies"], 0.99) * 1000,
                "shed_p99_ms": _pct(phase["shed_latencies"], 0.99) * 1000,
                "status": phase["status"],
                "retry_after_missing": phase["retry_after_missing"],
                "non_json_errors": phase["non_json_errors"],
                "unanswered": phase["unanswered"],
                "client_dropped": phase["client_dropped"],
                "cpu_us_per_answer": phase["cpu"] / max(1, answered) * 1e6,
                "server_core": phase["cpu"] / phase["seconds"],
                "loadgen_core": phase["loadgen_cpu"],
                "rss_peak_mb": max(sampler.between(phase["started"], phase["settled"]) or [0.0]),
                "rss_after_mb": statistics.median(after) if after else float("nan"),
                "health_max_ms": max(health, default=float("nan")) * 1000,
                "health_p99_ms": _pct(sorted(health), 0.99) * 1000,
                "health_probes": len(window),
            }
        )
    return out


def verdicts(fig: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, passed, the measured figure) for every target of every overload phase."""
    lines = []
    for phase in fig["overload"]:
        name = f"{fig['mix']} {phase['name']}"
        p99_ratio = phase["p99_ms"] / fig["unloaded_p99_ms"]
        peak = phase["rss_peak_mb"] / fig["rss_steady_mb"]
        after = phase["rss_after_mb"] / fig["rss_steady_mb"]
        acked, stored, _ = fig["stored"][phase["name"]]
        shed = sum(count for status, count in phase["status"].items() if status in ("429", "503"))
        lines += [
            (f"{name}: goodput >= {GOODPUT_RATIO:.0%} of capacity",
             phase["ratio"] >= GOODPUT_RATIO, f"{phase['ratio']:.2f}x"),
            (f"{name}: p99 of accepted <= {P99_RATIO:g}x unloaded",
             p99_ratio <= P99_RATIO, f"{p99_ratio:.1f}x"),
            (f"{name}: RSS peak <= {PEAK_RATIO:g}x loaded steady state",
             peak <= PEAK_RATIO, f"{peak:.2f}x"),
            (f"{name}: RSS afterwards <= {AFTER_RATIO:g}x steady state",
             after <= AFTER_RATIO, f"{after:.2f}x"),
            (f"{name}: health answered within {HEALTH_MS:g} ms",
             phase["health_max_ms"] <= HEALTH_MS, f"max {phase['health_max_ms']:.0f} ms"),
            (f"{name}: every refusal has Retry-After and a JSON body",
             phase["retry_after_missing"] == 0 and phase["non_json_errors"] == 0,
             f"{shed} refused, {phase['retry_after_missing']} without Retry-After"),
            (f"{name}: every 2xx stored", acked == stored, f"{stored:,} of {acked:,} events"),
        ]  # fmt: skip
    return lines


def table(fig: dict[str, Any]) -> str:
    """The human-readable figures of one mix."""
    per = fig["events_per_request"]
    out = [
        f"mix {fig['mix']} ({per} event{'s' if per > 1 else ''} per request)",
        f"  capacity (closed loop, {fig['capacity_clients']} connections): "
        f"{fig['capacity_req_s']:,.0f} req/s ({fig['capacity_req_s'] * per:,.0f} events/s), "
        f"{fig['capacity_cpu_us']:,.0f} µs server CPU per request, "
        f"{fig['capacity_refused']:,} refused",
        f"  unloaded ({'0.1x'}): p50 {fig['unloaded_p50_ms']:.1f} ms, p99 "
        f"{fig['unloaded_p99_ms']:.1f} ms",
        f"  RSS: start {fig['rss_start_mb']:.0f} MB, loaded steady {fig['rss_steady_mb']:.0f} MB",
        "  load | offered req/s | goodput req/s (x capacity) | accepted p50 / p99 ms "
        "| refused (503/429) | CPU µs/answer | RSS peak / after MB | health p99 / max ms",
    ]
    for p in fig["overload"]:
        refused = sum(v for k, v in p["status"].items() if k in ("429", "503"))
        out.append(
            f"  {p['name']:>4} | {p['offered_req_s']:>13,.0f} | {p['goodput_req_s']:>9,.0f} "
            f"({p['ratio']:.2f}x)       | {p['p50_ms']:>8.1f} / {p['p99_ms']:<8.1f} "
            f"| {refused:>17,} | {p['cpu_us_per_answer']:>13.0f} "
            f"| {p['rss_peak_mb']:>6.0f} / {p['rss_after_mb']:<6.0f}      "
            f"| {p['health_p99_ms']:>5.0f} / {p['health_max_ms']:.0f}"
        )
        out.append(
            f"         CPU used: server {p['server_core']:.0%} of its core, load generator "
            f"{p['loadgen_core']:.0%} of its own (near 100%: the generator limits the figures)"
        )
        if p["unanswered"] or p["client_dropped"]:
            out.append(
                f"         unanswered at the end: {p['unanswered']:,}; "
                f"not sent (client queue full): {p['client_dropped']:,}"
            )
    for name, (acked, stored, extra) in fig["stored"].items():
        if acked != stored or extra:
            out.append(f"  {name}: {stored:,} of {acked:,} acknowledged events stored; {extra:,} "
                       "stored without an acknowledgement (answer lost at the end)")  # fmt: skip
    return "\n".join(out)
