"""Alembic environment for Taktline.

Run from `taktline db upgrade` / `taktline.migrate` (which set `sqlalchemy.url` on the config)
or from the `alembic` command at the repository root (which falls back to
TAKTLINE_DATABASE_URL, then the default setting). The engine comes from
`taktline.db.create_db_engine`, so that migrations talk to the database exactly as the
application does (psycopg for postgresql://, our SQLite pragmas).
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text

from taktline.config import Settings
from taktline.db import create_db_engine
from taktline.migrate import ADVISORY_LOCK_ID, context_options
from taktline.models import Base

config = context.config

# Only the developer's alembic.ini configures logging; called from the application or the
# tests, the caller's logging is left alone.
if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        **context_options(connection.dialect.name),
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several app servers may run `taktline up` at once: they take turns, and the
            # later ones find the schema already at head. Released at commit.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))
        context.run_migrations()


def _run_sqlite(connection: Connection) -> None:
    # SQLite rebuilds a table to alter it (batch mode): with foreign keys on, dropping the
    # old copy would cascade deletes into child tables. The pragma is a no-op inside a
    # transaction, so it is set on the driver connection before the migration's BEGIN,
    # the result checked, and foreign keys turned back on for whoever uses it next.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        _run(connection)
        broken = driver.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run_sqlite(given) if given.dialect.name == "sqlite" else _run(given)
        return
    engine = create_db_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run_sqlite(connection) if engine.dialect.name == "sqlite" else _run(connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    url = _database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        **context_options(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
