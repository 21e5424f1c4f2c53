"""--pauses: the server's event-loop stalls and garbage collections in each run, sorted by cause
(what bench/live/pauses/sitecustomize.py records in the server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "pauses"  # on the server's PYTHONPATH
ON_CPU = 0.7  # a stall whose loop thread ran this share of it was work on the loop


def server_env(path: Path) -> dict[str, str]:
    """What the server's environment needs to record its pauses into `path`."""
    return {"PYTHONPATH": str(FOLDER), "PHOSPHO_BENCH_PAUSES": str(path)}


def summarise(path: Path, start: float, end: float) -> dict[str, Any]:
    """The pauses recorded between `start` and `end` (monotonic seconds)."""
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if start <= record["t"] <= end:
                records.append(record)
    gcs = [r for r in records if r["kind"] == "gc"]
    stalls = [r for r in records if r["kind"] == "stall"]
    busy = [s for s in stalls if s["loop_cpu_ms"] >= ON_CPU * s["ms"]]
    return {
        "gc_count": len(gcs),
        "gc_max_ms": max((g["ms"] for g in gcs), default=0.0),
        "gc_gens": sorted({g["gen"] for g in gcs}),
        "stalls": len(stalls),
        "stall_max_ms": max((s["ms"] for s in stalls), default=0.0),
        "busy": len(busy),
        "busy_max_ms": max((s["ms"] for s in busy), default=0.0),
        "off_cpu": len(stalls) - len(busy),
        "off_cpu_max_ms": max((s["ms"] for s in stalls if s not in busy), default=0.0),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The printed pauses, one line per run."""
    out = [
        "",
        "server pauses (stalls of the event loop >= 20 ms; collections >= 2 ms); 'on loop': its "
        "thread ran >= 70% of the stall; 'off CPU': the process was descheduled or blocked",
        "rate | kind    | subs | stalls | max ms | on loop (max ms) | off CPU (max ms) "
        "| GCs >= 2 ms (gens) | GC max ms",
    ]
    for r in rows:
        p = r.get("pauses")
        if p is None:
            continue
        out.append(
            f"{r['rate']:>4} | {r['kind']:<7} | {r['subscribers']:>4} | {p['stalls']:>6} | "
            f"{p['stall_max_ms']:6.1f} | {p['busy']:>4} ({p['busy_max_ms']:6.1f})   | "
            f"{p['off_cpu']:>4} ({p['off_cpu_max_ms']:6.1f})   | "
            f"{p['gc_count']:>5} ({','.join(map(str, p['gc_gens'])) or '-':<5})      | "
            f"{p['gc_max_ms']:6.1f}"
        )
    return "\n".join(out)
