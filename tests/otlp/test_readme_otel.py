"""The README's "Send OpenTelemetry" examples, run verbatim against a real server: the Python
one (real `openai` client and OpenInference, calling the fake OpenAI server) and the JavaScript
one (Node, the exporter's default OTLP/JSON), configured only by the two variables it names.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.harness import REPO, Server, Tenant
from tests.otlp.exporting import otel_env, stored_events
from tests.otlp.fake_openai import answer_text, fake_openai
from tests.otlp.test_js_exporter import js_project  # noqa: F401  (fixture)
from tests.sdk_js.test_js_sdk import run

QUESTION = "What is machine learning?"


def readme_block(language: str) -> str:
    """The one `language` code block of the README's "Send OpenTelemetry" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Send OpenTelemetry\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    return block


def test_readme_sets_the_two_variables() -> None:
    section = (REPO / "README.md").read_text().split("## Send OpenTelemetry\n", 1)[1]
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8000\n" in section
    assert 'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20ph_your_api_key"' in section


def test_python_example_stores_one_event(server: Server, tenant: Tenant) -> None:
    env = otel_env(server, tenant.key)
    with fake_openai() as openai_base:
        env.update(OPENAI_BASE_URL=openai_base, OPENAI_API_KEY="sk-fake")
        done = subprocess.run(
            [sys.executable, "-c", readme_block("python")],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == answer_text(QUESTION)
    (event,) = stored_events(server, tenant, "conversation-42")
    assert event["userId"] == "user-7" and QUESTION in event["input"]
    assert answer_text(QUESTION) in event["output"]
    assert event["model"] == "gpt-4o-mini-2024-07-18" and event["costUsd"]


def test_javascript_example_stores_one_event(
    server: Server,
    tenant: Tenant,
    js_project: Path,  # noqa: F811
) -> None:
    script = js_project / f"readme-example-{server.backend}.mjs"
    script.write_text(readme_block("js"))
    try:
        run(["node", script.name], js_project, env=otel_env(server, tenant.key))
    finally:
        script.unlink()
    (event,) = stored_events(server, tenant, "conversation-42")
    assert event["userId"] == "user-7" and QUESTION in event["input"]
    assert "A way to learn from data." in event["output"]
    assert (event["tokensIn"], event["tokensOut"]) == (12, 30)
