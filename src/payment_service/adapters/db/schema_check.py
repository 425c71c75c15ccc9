"""Is the database at the schema this code needs? And running Alembic from code.

Alembic runs in a worker thread (its env.py drives its own event loop there), so the
caller's event loop is never blocked by a migration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def _project_root() -> Path:
    """Where alembic.ini and migrations/ live: the source checkout, else the working directory.

    From a checkout (editable install) that is the repository root; an installed
    package (the Docker image) runs from a directory holding both, e.g. /app.
    """
    checkout = Path(__file__).resolve().parents[4]
    if (checkout / "migrations" / "env.py").exists():
        return checkout
    return Path.cwd()


PROJECT_ROOT = _project_root()
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


class SchemaNotCurrent(RuntimeError):
    """The database's Alembic revision is not the one the code was written for."""

    def __init__(self, current: str | None, expected: str) -> None:
        super().__init__(
            f"database schema is at revision {current or 'none (empty database)'}, "
            f"code needs {expected}: run `payment-service migrate` or `make migrate`"
        )
        self.current = current
        self.expected = expected


def alembic_config(url: str | None = None) -> Config:
    """Alembic config for this project; ``url`` overrides ``PAYMENT_DATABASE_URL``."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logging"] = False
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision_of)


async def ensure_schema_current(engine: AsyncEngine) -> None:
    """Raise SchemaNotCurrent unless the database is exactly at Alembic head."""
    expected = head_revision()
    current = await current_revision(engine)
    if current != expected:
        raise SchemaNotCurrent(current, expected)


async def upgrade_to_head(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade_to_base(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)
