"""Generate aerich migrations for both dialects from the same models.

Usage: python scripts/make_migrations.py NAME

Writes `migrations/sqlite/models/N_<timestamp>_NAME.py` and the PostgreSQL twin. Runs offline:
aerich diffs the models against the state recorded in the last migration file, so no database
is touched. With no migration yet, the first one (the full schema) is written.
"""

from __future__ import annotations

import asyncio
import sys

from aerich import Command
from tortoise import Tortoise

from app.db import APP_LABEL, migrations_dir, tortoise_config

# URLs only pick the dialect; offline generation never connects.
DIALECT_URLS = {
    "sqlite": "sqlite://:memory:",
    "postgres": "postgres://phospho@127.0.0.1:5432/phospho_offline",
}


async def generate(dialect: str, name: str) -> None:
    """Write the next migration of one dialect."""
    location = migrations_dir(dialect)
    folder = location / APP_LABEL
    command = Command(
        tortoise_config(DIALECT_URLS[dialect], with_reader=False), APP_LABEL, str(location)
    )
    if not folder.exists() or not any(folder.glob("*.py")):
        await command.init_migrations(safe=True)
        print(f"{dialect}: initial migration written")
    else:
        await Tortoise.init(config=command.tortoise_config)
        await command.init(offline=True)
        result = await command.migrate(name, no_input=True, offline=True)
        print(f"{dialect}: {result or 'no changes'}")
    await Tortoise._reset_apps()


async def main() -> None:
    """Generate the migration for every dialect."""
    name = sys.argv[1] if len(sys.argv) > 1 else "update"
    for dialect in DIALECT_URLS:
        await generate(dialect, name)


if __name__ == "__main__":
    asyncio.run(main())
