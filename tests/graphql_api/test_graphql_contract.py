"""The published contract: graphql/schema.graphql matches the code, the documented operations
validate against it, and graphql/ stays data only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from app.schema.schema import build_schema as build_code_schema
from app.schema.schema import schema_sdl
from tests.graphql_api.helpers import OPERATIONS
from tests.harness import REPO

SCHEMA_FILE = REPO / "graphql" / "schema.graphql"
DOCUMENTS = sorted(OPERATIONS.glob("*.graphql"))


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), "run `phospho export-schema`"


def test_export_schema_check_reports_drift(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    run = [sys.executable, "-m", "app.cli", "export-schema", "--output", str(target)]
    assert subprocess.run([*run, "--check"], cwd=REPO, capture_output=True).returncode == 1
    assert subprocess.run(run, cwd=REPO, capture_output=True).returncode == 0
    assert target.read_text() == schema_sdl()
    assert subprocess.run([*run, "--check"], cwd=REPO, capture_output=True).returncode == 0


def test_the_documented_operations_exist() -> None:
    names = {path.stem for path in DOCUMENTS}
    assert {"latest_events", "negative_feedback_since", "session_replay", "live_tail",
            "add_feedback", "metrics"} <= names  # fmt: skip


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.stem)
def test_operation_validates_against_the_schema(path: Path) -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    errors = validate(schema, parse(path.read_text()))
    assert not errors, errors


def test_every_root_field_declares_its_permission() -> None:
    schema = build_code_schema()
    for root in ("Query", "Mutation", "Subscription"):
        definition = schema.get_type_by_name(root)
        assert definition is not None
        for field in definition.fields:
            assert field.permission_classes, f"{root}.{field.python_name} has no permission"


def test_graphql_folder_holds_no_python() -> None:
    assert not list((REPO / "graphql").rglob("*.py"))
