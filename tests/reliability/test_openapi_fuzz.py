"""schemathesis over the OpenAPI document, against a real server, with every check.

The document fuzzed is the one the server serves (`test_the_served_document_is_the_one_fuzzed`),
built in-process at import so that schemathesis can parametrise one test per operation (its
`from_fixture` loader cannot run on pytest 9.2). Each operation runs the examples, coverage and
fuzzing phases with positive and negative data; every response goes through all of
schemathesis' checks (server errors, status codes, content types, response schemas and
headers, acceptance of valid and rejection of invalid data, authentication, unsupported
methods and the `Allow` header). Then a stateful run follows the document's links (an event's
id into its feedback). The number of cases is counted and must reach `MIN_CASES` per database.

Negative controls: the same checks, on the same server, against documents broken on purpose
(one rule or answer wrong each) must report the failure that rule deserves.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.openapi import checks

from app.factory import create_app
from app.services.keys import hash_key
from app.settings import Settings
from tests.harness import BACKENDS, Server, serving

MIN_CASES = 500  # per database, stateless and stateful together
FUZZ_EXAMPLES = 50  # the fuzzing phase's cases per operation (examples and coverage add theirs)
STATEFUL_SCENARIOS = 40
SEED = 17  # reproducible in CI; change it locally to explore further
API_KEY = "ph_" + secrets.token_urlsafe(32)  # stored into each server's database by `target`

# Default settings, not the environment's: the servers under test get the defaults too.
DOCUMENT: dict[str, Any] = create_app(Settings.model_construct()).openapi()
CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
    # Only the document's own links: the stateful test checks those, not what is inferred.
    "phases": {"stateful": {"inference": {"algorithms": []}}},
}


def _without_binary_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """The document less its binary request bodies (OTLP's protobuf): their schema is a
    .proto, so any bytes fit `format: binary`, and random bytes are rightly refused (400),
    which schemathesis would report as valid data refused. Protobuf bodies are tested with
    real exports in tests/otlp/; their JSON twins are fuzzed here."""
    fuzzed = copy.deepcopy(document)
    for item in fuzzed["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media, body in list(content.items()):
                if body.get("schema", {}).get("format") == "binary" and len(content) > 1:
                    del content[media]
    return fuzzed


FUZZED = _without_binary_bodies(DOCUMENT)
schema = schemathesis.openapi.from_dict(FUZZED, config=schemathesis.Config.from_dict(CONFIG))
OPERATIONS = {
    f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items() for method in item
}
CASES: Counter[str] = Counter()  # backend -> cases run
SEEN: dict[str, set[str]] = {}  # backend -> operations fuzzed


@schema.auth(refresh_interval=None)
class ApiKey:
    """Every generated request carries the project's key (checks remove it to test auth)."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return API_KEY

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """`operationName` must name an operation of `query` (else 400), a rule across two fields
    that JSON Schema cannot state: valid requests get a name the query defines."""
    body = case.body
    if (
        case.operation.label == "POST /graphql"
        and case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(body, dict)
        and isinstance(body.get("operationName"), str)
    ):
        names = _operation_names(body.get("query"))
        if names is not None and body["operationName"] not in names:
            body["operationName"] = names[0] if names else None
    if case.operation.label == "GET /api/v1/events/export":
        _since_not_after_until(case)
    return case


def _since_not_after_until(case: schemathesis.Case) -> None:
    """The export refuses `since` after `until` (another rule across two fields): valid
    requests get them in order."""
    query = case.query or {}
    if not (case.meta is not None and case.meta.generation.mode.is_positive):
        return
    try:
        since, until = (datetime.fromisoformat(query[name]) for name in ("since", "until"))
    except (KeyError, TypeError, ValueError):  # absent or empty
        return
    if since.replace(tzinfo=since.tzinfo or UTC) > until.replace(tzinfo=until.tzinfo or UTC):
        query["since"], query["until"] = query["until"], query["since"]


def _operation_names(query: Any) -> list[str] | None:
    """The operations a query names; None when it does not parse (then the name is unread)."""
    try:
        document = graphql.parse(query)
    except (graphql.GraphQLError, TypeError):
        return None
    return [
        node.name.value
        for node in document.definitions
        if isinstance(node, graphql.OperationDefinitionNode) and node.name is not None
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own per database, with one project whose key is `API_KEY`."""
    with serving(request.param, tmp_path_factory.mktemp(f"fuzz-{request.param}")) as server:
        _add_project_key(server, API_KEY)
        yield server


def _add_project_key(server: Server, secret: str) -> None:
    now = "2026-01-01 00:00:00+00:00"
    server.query("INSERT INTO projects (name, created_at) VALUES (?, ?)", "fuzz", now)
    project_id = int(server.query("SELECT max(id) FROM projects WHERE name = 'fuzz'")[0][0])
    server.query(
        "INSERT INTO api_keys (project_id, name, prefix, key_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        project_id, "fuzz", secret[:11] + uuid.uuid4().hex[:4], hash_key(secret), now,
    )  # fmt: skip


def test_the_served_document_is_the_one_fuzzed(target: Server) -> None:
    served = httpx.get(target.base_url + "/openapi.json").json()
    assert served == DOCUMENT


@schema.parametrize()
def test_openapi_document_matches_the_server(case: schemathesis.Case, target: Server) -> None:
    CASES[target.backend] += 1
    SEEN.setdefault(target.backend, set()).add(case.operation.label)
    case.call_and_validate(base_url=target.base_url)


def test_stateful_links_hold(target: Server) -> None:
    """Sequences along the document's links: log an event (or a batch), then its feedback."""
    linked: Counter[int] = Counter()

    class Workflow(schema.as_state_machine()):
        def before_call(self, case: schemathesis.Case) -> None:
            _fresh_event_ids(case.body)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": target.base_url}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            CASES[target.backend] += 1
            if case.operation.label.endswith("/feedback"):
                linked[response.status_code] += 1

    Workflow.run(
        settings=settings(
            Workflow.TestCase.settings,
            max_examples=STATEFUL_SCENARIOS,
            database=None,
            derandomize=True,
        )
    )
    assert linked[201] > 0, f"no feedback reached a logged event through a link: {linked}"


def test_enough_cases_ran(target: Server) -> None:
    """Runs after the tests above (pytest keeps file order within one database)."""
    if SEEN.get(target.backend) != OPERATIONS:
        pytest.skip("not every operation was fuzzed in this run (a -k selection)")
    assert CASES[target.backend] >= MIN_CASES, CASES


# Negative controls: (name, how to break the document, operation, data mode, the failure due).
Mutation = Callable[[dict[str, Any]], None]
EVENTS = "/api/v1/events"


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]


def _log_event(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["paths"][EVENTS]["post"]


def _forget_201(doc: dict[str, Any]) -> None:
    # Valid events are stored (201) whatever the generator draws: a control that does not
    # depend on which invalid bodies a derandomized run happens to send.
    del _log_event(doc)["responses"]["201"]


def _session_id_integer(doc: dict[str, Any]) -> None:
    _schemas(doc)["EventResult"]["properties"]["session_id"] = {"type": "integer"}


def _created_is_text(doc: dict[str, Any]) -> None:
    created = _log_event(doc)["responses"]["201"]
    created["content"] = {"text/plain": {"schema": {"type": "string"}}}


def _location_header(doc: dict[str, Any]) -> None:
    location = {"required": True, "schema": {"type": "string"}}
    _log_event(doc)["responses"]["201"]["headers"] = {"Location": location}


def _require_unknown_field(doc: dict[str, Any]) -> None:
    event = _schemas(doc)["LogEventInput"]
    event["properties"]["tag"] = {"type": "string"}
    event["required"] = [*event["required"], "tag"]


def _health_needs_a_number(doc: dict[str, Any]) -> None:
    number = {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}}
    doc["paths"]["/api/v1/health"]["get"]["parameters"] = [number]


def _health_needs_key(doc: dict[str, Any]) -> None:
    doc["paths"]["/api/v1/health"]["get"]["security"] = [{"bearer": []}]


@dataclass(frozen=True)
class Broken:
    """A document broken in one way, and what schemathesis must say about it."""

    mutate: Mutation
    operation: str
    mode: schemathesis.GenerationMode
    failure: type[Exception]


POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
BROKEN = {
    "undocumented status": Broken(
        _forget_201, "POST " + EVENTS, POSITIVE, checks.UndefinedStatusCode
    ),
    "wrong response schema": Broken(
        _session_id_integer, "POST " + EVENTS, POSITIVE, checks.JsonSchemaError
    ),
    "wrong content type": Broken(
        _created_is_text, "POST " + EVENTS, POSITIVE, checks.UndefinedContentType
    ),
    "missing header": Broken(_location_header, "POST " + EVENTS, POSITIVE, checks.MissingHeaders),
    "valid data refused": Broken(
        _require_unknown_field, "POST " + EVENTS, POSITIVE, checks.RejectedPositiveData
    ),
    "invalid data accepted": Broken(
        _health_needs_a_number, "GET /api/v1/health", NEGATIVE, AcceptedNegativeData
    ),
    "authentication ignored": Broken(
        _health_needs_key, "GET /api/v1/health", POSITIVE, checks.IgnoredAuth
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_wrong_document_is_reported(name: str, target: Server) -> None:
    broken = BROKEN[name]
    document = copy.deepcopy(DOCUMENT)
    broken.mutate(document)
    wrong = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(CONFIG))
    wrong.auth(refresh_interval=None)(ApiKey)
    operation = wrong.find_operation_by_label(broken.operation)
    assert operation is not None
    failures = _failures(operation, broken.mode, target.base_url)
    assert any(isinstance(failure, broken.failure) for failure in failures), failures


def _fresh_event_ids(body: Any) -> None:
    """A new id for each client-chosen event id. Hypothesis replays steps and expects the same
    answers; a replayed event_id would answer 200 (a retry) where it first answered 201, and
    Hypothesis would call the run flaky. (The stateless test covers retries.)"""
    events = body.get("events") if isinstance(body, dict) else None
    for event in events if isinstance(events, list) else [body]:
        if isinstance(event, dict) and _is_uuid(event.get("event_id")):
            event["event_id"] = str(uuid.uuid4())


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _failures(operation: Any, mode: schemathesis.GenerationMode, base_url: str) -> list[Exception]:
    """Run the checks on generated cases until one fails; that failure's parts (or none)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=100,
        database=None,
        derandomize=True,
        phases=[Phase.generate],  # no shrinking: the first failure is enough
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url)

    try:
        run()
    except FailureGroup as group:
        return list(group.exceptions)
    return []
