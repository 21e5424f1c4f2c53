"""Generate aerich migrations for both dialects from the same models.

Usage: python scripts/make_migrations.py NAME
       python scripts/make_migrations.py --check

Writes `migrations/sqlite/models/N_<timestamp>_NAME.py` and the PostgreSQL twin. Runs offline:
aerich diffs the models against the state recorded in the last migration file, so no database
is touched. With no migration yet, the first one (the full schema) is written.

`--check` writes nothing: it generates into a scratch copy of each dialect's migrations and
exits 1 when either dialect would get a new migration (the models drifted from the last one).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

# Import the models and app of this checkout, whatever the current directory is.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aerich import Command
from aerich.migrate import Migrate
from tortoise import Tortoise

from app.db import APP_LABEL, migrations_dir, tortoise_config

# URLs only pick the dialect; offline generation never connects.
DIALECT_URLS = {
    "sqlite": "sqlite://:memory:",
    "postgres": "postgres://phospho@127.0.0.1:5432/phospho_offline",
}


def _reset_aerich_state() -> None:
    """Forget what aerich's `Migrate` (class-level state) collected for the previous dialect.

    aerich appends the diff's SQL to lists on the class and never clears them, so without this
    the second dialect's migration would also contain the first dialect's statements.
    """
    Migrate.upgrade_operators = []
    Migrate.downgrade_operators = []
    Migrate._upgrade_fk_m2m_index_operators = []
    Migrate._downgrade_fk_m2m_index_operators = []
    Migrate._upgrade_m2m = []
    Migrate._downgrade_m2m = []
    Migrate._rename_fields = {}
    Migrate._rename_models = {}
    Migrate._last_version_content = None


async def generate(dialect: str, name: str, location: Path | None = None) -> str:
    """Write the next migration of one dialect into `location`; returns its file name or ""."""
    location = location or migrations_dir(dialect)
    folder = location / APP_LABEL
    command = Command(
        tortoise_config(DIALECT_URLS[dialect], with_reader=False), APP_LABEL, str(location)
    )
    _reset_aerich_state()
    try:
        if not folder.exists() or not any(folder.glob("*.py")):
            await command.init_migrations(safe=True)
            return "initial migration"
        await Tortoise.init(config=command.tortoise_config)
        await command.init(offline=True)
        return await command.migrate(name, no_input=True, offline=True) or ""
    finally:
        await Tortoise._reset_apps()
        _reset_aerich_state()


async def check(dialect: str) -> str:
    """What generating now would write for `dialect` ("" when the models match), writing nothing."""
    source = migrations_dir(dialect) / APP_LABEL
    with tempfile.TemporaryDirectory(prefix=f"phospho-check-{dialect}-") as scratch:
        location = Path(scratch)
        (location / APP_LABEL).mkdir()
        existing = {path.name for path in source.glob("*.py")}
        for name in existing:
            shutil.copy2(source / name, location / APP_LABEL / name)
        result = await generate(dialect, "check", location)
        if not result:
            return ""
        written = sorted({p.name for p in (location / APP_LABEL).glob("*.py")} - existing)
        details = "".join(
            (location / APP_LABEL / name).read_text().split("MODELS_STATE", 1)[0]
            for name in written
        )
        return f"{result}\n{details}".rstrip()


async def main(argv: list[str] | None = None) -> int:
    """Generate (or with --check, verify) the migration of every dialect."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("name", nargs="?", default="update", help="name of the new migration")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the models differ from the last migration of a dialect",
    )
    args = parser.parse_args(argv)
    if not args.check:
        for dialect in DIALECT_URLS:
            result = await generate(dialect, args.name)
            print(f"{dialect}: {result or 'no changes'}")
        return 0
    drifted = False
    for dialect in DIALECT_URLS:
        result = await check(dialect)
        if result:
            drifted = True
            print(f"{dialect}: models differ from the last migration; would write {result}")
        else:
            print(f"{dialect}: models match the last migration")
    if drifted:
        print("run `python scripts/make_migrations.py NAME` to add the migrations", file=sys.stderr)
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
