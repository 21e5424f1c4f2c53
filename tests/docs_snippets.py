"""The public documentation's snippets, extracted verbatim for the tests that run them.

The tests read the copy committed at docs/phospho-docs.txt, so they run the same in a clean
clone; test_docs_snippets.py checks that copy against the published original (the shared
spec beside the checkout) wherever that is present.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DOCS = REPO.parent / "shared" / "spec" / "phospho-docs.txt"
COPY = REPO / "docs" / "phospho-docs.txt"
DOCS_BASE_URL = "https://co-phospho-dak.nanocorp.app"
DOCS_KEY = "ph_your_api_key"


def docs_text() -> str:
    """The docs, as committed (docs/phospho-docs.txt)."""
    return COPY.read_text()


def _between(start: str, end: str) -> str:
    text = docs_text()
    begin = text.index(start)
    stop = text.index(end, begin) + len(end)
    return text[begin:stop]


def curl_log_event() -> str:
    """The 'Log an Event' curl command."""
    return _between(f"curl -X POST {DOCS_BASE_URL}/api/v1/events \\", "  }'")


def curl_feedback() -> str:
    """The 'User Feedback' curl command."""
    return _between(
        f"curl -X POST {DOCS_BASE_URL}/api/v1/events/EVENT_ID/feedback",
        """-d '{"score": 1, "comment": "Great response!"}'""",
    )


def python_quick_start() -> str:
    """The quick start's Python `requests` snippet."""
    return _between("import requests", "print(response.json())")


def adapt(snippet: str, base_url: str, key: str) -> str:
    """Swap the documented base URL and placeholder key for real ones; nothing else changes."""
    return snippet.replace(DOCS_BASE_URL, base_url).replace(DOCS_KEY, key)


def documented_response_fields() -> list[str]:
    """Field names in the documented '201 Created' response example."""
    block = _between("201 Created", "}")
    return re.findall(r'"(\w+)":', block)
