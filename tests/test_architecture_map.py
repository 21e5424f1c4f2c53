"""docs/ARCHITECTURE.md is the map of the code: every path it names must exist, so that a
change that moves a module also moves its place on the map (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "ARCHITECTURE.md"
# A path: one of the repository's top-level folders, then anything up to a space or quote.
PATH = re.compile(
    r"(?<![\w/.])((?:app|web|models|tests|bench|migrations|scripts|docs|graphql|sdks)/[\w./-]*)"
)


def named_paths(text: str) -> set[str]:
    """The repository paths a Markdown text names (a trailing full stop is punctuation)."""
    return {found.rstrip(".") for found in PATH.findall(text)}


def test_every_path_the_map_names_exists() -> None:
    paths = named_paths(MAP.read_text())
    assert len(paths) > 40, sorted(paths)  # the map names the modules, not a few of them
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_the_check_sees_a_path_that_does_not_exist() -> None:
    """Negative control: a renamed module is caught, in backquotes or in a table cell."""
    text = "| `app/services/rollups.py` | x |\nthen app/services/gone.py."
    assert named_paths(text) == {"app/services/rollups.py", "app/services/gone.py"}
    assert not (ROOT / "app/services/rollups.py").exists()


def test_every_server_module_is_on_the_map() -> None:
    """Each module of app/ and web/ is named (its path, or its file name in a list of
    modules), so a new module cannot be added without a place on the map."""
    text = MAP.read_text()
    unnamed = []
    for module in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("web/*.py")]):
        rel = module.relative_to(ROOT).as_posix()
        if module.name == "__init__.py" or rel in text or f"`{module.name}`" in text:
            continue
        unnamed.append(rel)
    assert not unnamed, f"modules missing from docs/ARCHITECTURE.md: {unnamed}"
