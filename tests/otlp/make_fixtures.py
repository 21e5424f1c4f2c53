"""Regenerate tests/otlp/fixtures: real exports of real instrumentations (see its README.md).

`python -m tests.otlp.make_fixtures [DIR]` runs each instrumentation (tests/otlp/emit.py) with
the real `openai` client against the fake OpenAI server, the SDK's OTLP/HTTP protobuf exporter
pointed at a capture server, and writes each captured body as NAME.bin (protobuf) and NAME.json
(OTLP/JSON). Two fixtures no current instrumentation emits are built with the SDK's own tracer
and exported the same way: the legacy `gen_ai.prompt.N.*` attributes, and one LLM span among
five HTTP spans.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.otlp import otlp_json
from tests.otlp.fake_openai import capture_server, fake_openai

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SESSION, USER = "fixture-session-1", "fixture-user-1"
CAPTURED = {
    "openinference": "openinference",
    "openllmetry": "openllmetry",
    "openai-v2": "openai_v2",
    "openai-v2-default": "openai_v2_default",
}


def _emit(instrumentation: str, openai_base: str, endpoint: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, PYTHONPATH=str(REPO))
    subprocess.run(
        [sys.executable, "-m", "tests.otlp.emit", instrumentation, "--openai-base", openai_base,
         "--calls", "3", "--session", SESSION, "--user", USER],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def _write(out: Path, name: str, bodies: list[bytes]) -> None:
    body = otlp_json.merge(bodies)
    (out / f"{name}.bin").write_bytes(body)
    (out / f"{name}.json").write_bytes(otlp_json.to_json(body))
    print(f"{name}: {len(bodies)} export(s), {len(body)} bytes")


def _js_fixture(out: Path) -> None:
    """js_exporter.json: what the JavaScript exporter posts (OTLP/JSON, chunked), verbatim."""
    js = Path(__file__).resolve().parent / "js"
    if not (js / "node_modules").exists():
        print("js_exporter: skipped (run `npm ci` in tests/otlp/js first)")
        return
    with capture_server() as sink:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=sink.base_url)
        subprocess.run(["node", "send.mjs", "js-session-1", "js-user-1"], cwd=js, env=env,
                       check=True, capture_output=True, timeout=60)  # fmt: skip
    (body,) = [c.body for c in sink.exports]
    (out / "js_exporter.json").write_bytes(body)
    print(f"js_exporter: 1 export, {len(body)} bytes")


def main(argv: list[str] | None = None) -> int:
    """Write every fixture into DIR (default tests/otlp/fixtures)."""
    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0]) if args else FIXTURES
    out.mkdir(parents=True, exist_ok=True)
    with fake_openai() as openai_base:
        for instrumentation, name in CAPTURED.items():
            with capture_server() as sink:
                _emit(instrumentation, openai_base, sink.base_url)
            traces = [c.body for c in sink.exports if c.path == "/v1/traces"]
            _write(out, name, traces)
    _js_fixture(out)
    from tests.otlp import crafted

    for name, emit_spans in crafted.CRAFTED.items():
        with capture_server() as sink:
            crafted.export(emit_spans, sink.base_url + "/v1/traces")
        _write(out, name, [c.body for c in sink.exports])
    return 0


if __name__ == "__main__":
    sys.exit(main())
