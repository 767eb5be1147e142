"""Throw-away PostgreSQL databases for the tests.

The server is TAKTLINE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test;
any database on it will do, it is only used to create and drop others). When the server cannot
be reached, PostgreSQL tests are skipped with the reason, unless TAKTLINE_REQUIRE_POSTGRES=1
asks for a failure instead (CI).
"""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("TAKTLINE_TEST_POSTGRES_URL") or DEFAULT_SERVER_URL


def required() -> bool:
    return os.environ.get("TAKTLINE_REQUIRE_POSTGRES", "") == "1"


def _conninfo(url: str) -> str:
    # psycopg takes a plain postgresql:// URL; SQLAlchemy's may name a driver.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@cache
def unreachable_reason() -> str | None:
    """Why the test server cannot be used, or None. Asked once per test run."""
    try:
        with psycopg.connect(_conninfo(server_url()), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"PostgreSQL is not reachable at {_shown(server_url())} ({first_line}); "
            "set TAKTLINE_TEST_POSTGRES_URL to use another server"
        )
    return None


def require_server() -> str:
    """The server URL; skips the calling test when it is unreachable (fails if required)."""
    reason = unreachable_reason()
    if reason is not None:
        if required():
            pytest.fail(f"TAKTLINE_REQUIRE_POSTGRES=1, but {reason}", pytrace=False)
        pytest.skip(reason)
    return server_url()


def create_database(server: str) -> str:
    """Creates an empty database `taktline_test_<random hex>` and returns its URL."""
    name = f"taktline_test_{secrets.token_hex(6)}"
    with psycopg.connect(_conninfo(server), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, url: str) -> None:
    """Drops the database of `url`, first ending every session still connected to it."""
    name = make_url(url).database or ""
    if not name.startswith("taktline_test_"):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    with psycopg.connect(_conninfo(server), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def temporary_database(server: str) -> Iterator[str]:
    url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)
