"""Which of an event's text columns a selection asks for.

Events are read with only the text the client selected (`reads_events.TEXT_COLUMNS`): a page
of ids over 1 MB events loads no text, and the byte budget is charged for what is answered.
Fragments and inline fragments are followed; `@skip`/`@include` are ignored, so a column is
read whenever it might be answered. The answer is cached per operation and response path, so a
field resolved for each of 100 items is analysed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graphql.pyutils import Path
from strawberry.types.nodes import SelectedField, Selection

from app.schema.context import PhosphoInfo
from app.services.reads_events import TEXT_COLUMNS


def event_text(info: PhosphoInfo, below: Sequence[str] = ()) -> tuple[str, ...]:
    """The text columns of the events the current field answers, found at `below` (e.g.
    ("edges", "node") for a connection) under its selection."""
    wanted = selected_names(info, below)
    return tuple(column for column in TEXT_COLUMNS if column in wanted)


def selected_names(info: PhosphoInfo, below: Sequence[str] = ()) -> frozenset[str]:
    """The names of the fields selected at `below` under the current field's selection
    (e.g. which relations a page's nodes ask for, to load them once for the page)."""
    path: list[str] = []
    step: Path | None = info.path
    while step is not None:
        if isinstance(step.key, str):
            path.append(step.key)
        step = step.prev
    key = (id(info.operation), tuple(path), tuple(below))
    cache = info.context.selections
    if key not in cache:
        level = _fields(info.selected_fields)
        for name in below:
            level = _fields(field for field in level if field.name == name)
        cache[key] = frozenset(field.name for field in level)
    return cache[key]


def _fields(parents: Iterable[Selection]) -> list[SelectedField]:
    """The fields selected under `parents`, through fragments."""
    found: list[SelectedField] = []
    stack = [child for parent in parents for child in parent.selections]
    while stack:
        node = stack.pop()
        if isinstance(node, SelectedField):
            found.append(node)
        else:
            stack.extend(node.selections)
    return found
