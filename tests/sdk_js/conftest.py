"""The JavaScript SDK is built once per session (`npm run build` takes ~7 s); the modules
take it through `tests.sdk_js.test_js_sdk.built_sdk`."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """sdks/js with its dev dependencies installed and built."""
    from tests.sdk_js.test_js_sdk import build_sdk

    return build_sdk()
