"""Schema migrations (Alembic), callable from the command line, the application and the tests.

The migration scripts live inside the package (taktline/migrations), so an installed
`taktline` finds them wherever it runs. The database URL is handed to Alembic on its config
object; env.py builds the engine with `taktline.db.create_db_engine`.
"""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import TypeDecorator

from taktline.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# pg_advisory_xact_lock key held while migrating, so that concurrent migrators take turns.
ADVISORY_LOCK_ID = 7_242_158_001

# Schema objects the first revision writes by hand because SQLAlchemy's metadata cannot say
# them (a PostgreSQL exclusion constraint): autogenerate must neither add nor drop them.
HAND_WRITTEN = frozenset({"ex_resource_bookings_no_overlap"})
# PostgreSQL trigram indexes behind the `q` text filters, written by hand in the migrations,
# and SQLite's (FTS5 virtual tables of numbers, with the shadow tables FTS5 makes of them).
TRIGRAM_INDEX_PREFIX = "ix_trgm_"
TRIGRAM_TABLE_PREFIX = "trgm_"


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return name not in HAND_WRITTEN and not (name or "").startswith(
        (TRIGRAM_INDEX_PREFIX, TRIGRAM_TABLE_PREFIX)
    )


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Our column types (Quantity, UTCDateTime) store differently per database, so revisions
    # use them by name rather than freezing one database's storage type; this adds the import.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        module = type(obj).__module__
        if module.startswith("taktline."):
            autogen_context.imports.add(f"import {module}")
            return f"{module}.{obj!r}"
    return False


def context_options(dialect_name: str) -> dict[str, Any]:
    """The options of every migration context: env.py and `pending_changes` use the same."""
    sqlite = dialect_name == "sqlite"
    return {
        "compare_type": True,
        "include_object": _include_object,
        "render_item": _render_item,
        # SQLite alters a table by copying it; batch mode does that for us.
        "render_as_batch": sqlite,
        # Our SQLite engine issues BEGIN itself, so SQLite DDL is transactional too: a failed
        # migration leaves the schema as it was.
        "transactional_ddl": True if sqlite else None,
    }


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The config is an ini parser: a literal % (an escaped password) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrates the database to `revision` (the newest by default); a no-op when it is there."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrates the database back to `revision` (empty by default)."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(database_url: str) -> str | None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def pending_changes(database_url: str) -> list[Any]:
    """What autogenerate would still add to a revision for this database: empty when the
    models and the migrations agree."""
    from taktline.models import Base  # every table, imported only when needed

    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts=context_options(connection.dialect.name)
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()
