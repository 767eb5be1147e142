"""The fixtures of the whole suite.

Every test that asks for `database_url` (or anything built on it: `app`, `client`, `session`,
`tenant`, `live_server`) runs twice, on SQLite and on PostgreSQL, each a database migrated
once per test run with `taktline.migrate.upgrade` (the schema the application really has,
never `create_all`). Tests isolate by tenant: each gets fresh organisations, so nothing is
ever truncated between tests.

PostgreSQL is TAKTLINE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
its tests are skipped with the reason when it cannot be reached, unless
TAKTLINE_REQUIRE_POSTGRES=1, which makes that an error. Mark a test `postgres_only` to skip it
on SQLite.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from taktline import migrate
from taktline.app import create_app
from taktline.config import Settings
from tests.helpers import postgres
from tests.helpers.server import serve_in_thread
from tests.helpers.tenants import Tenant, create_tenant

DATABASES = ("sqlite", "postgresql")
# Fixtures parametrized over DATABASES; `postgres_only` skips their "sqlite" cases.
DATABASE_FIXTURES = ("database_url", "empty_database_url")

# Database round trips make example timings uneven; a deadline would only make tests flaky.
hypothesis.settings.register_profile("taktline", deadline=None, print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "taktline"))


def pytest_sessionstart(session: pytest.Session) -> None:
    # When PostgreSQL is required (CI), say so once, before any test, rather than per test.
    if postgres.required() and (reason := postgres.unreachable_reason()) is not None:
        pytest.exit(f"TAKTLINE_REQUIRE_POSTGRES=1, but {reason}", returncode=3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="PostgreSQL only (marked postgres_only)")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("postgres_only") is None or callspec is None:
            continue
        if any(callspec.params.get(name) == "sqlite" for name in DATABASE_FIXTURES):
            item.add_marker(skip)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a database migrated to head, one per kind for the whole test run.

    SQLite: a file in a temporary folder. PostgreSQL: a fresh `taktline_test_<hex>` database,
    dropped at the end.
    """
    if request.param == "sqlite":
        url = _sqlite_url(tmp_path_factory.mktemp("sqlite") / "taktline.db")
        migrate.upgrade(url)
        yield url
        return
    server = postgres.require_server()
    with postgres.temporary_database(server) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new database of each kind, not migrated: for tests of migrations themselves."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path / "empty.db")
        return
    server = postgres.require_server()
    with postgres.temporary_database(server) as url:
        yield url


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    """The application on the test database; its connection pool is closed afterwards."""
    application = create_app(Settings(database_url=database_url))
    application.state.test_sessions = []
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient of `app`. Send a tenant's headers: `client.get(url, headers=tenant.headers())`.

    Around every request it looks after the `session` fixture's session: before, on SQLite,
    it refuses to go on while that session holds a transaction (every SQLite transaction holds
    the write lock from BEGIN, see taktline.db, so the request would wait 30 s and fail);
    after, it expires that session's objects, so that they reload what the request committed.
    """

    def before(request: httpx.Request) -> None:
        for session in app.state.test_sessions:
            if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
                raise RuntimeError(
                    "The test's `session` holds an open transaction, which on SQLite holds the "
                    "write lock: call session.commit() or session.rollback() before calling "
                    f"the API ({request.method} {request.url.path})."
                )

    def after(response: httpx.Response) -> None:
        for session in app.state.test_sessions:
            session.expire_all()

    with TestClient(app) as test_client:
        test_client.event_hooks = {"request": [before], "response": [after]}
        yield test_client


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    """A Session of the application's session factory, closed after the test.

    End its transaction (commit or rollback) before calling the API through `client`: on
    SQLite an open transaction holds the write lock (`client` says so if you forget).
    """
    with app.state.session_factory() as db_session:
        app.state.test_sessions.append(db_session)
        yield db_session
        app.state.test_sessions.remove(db_session)


@pytest.fixture
def tenant(app: FastAPI) -> Tenant:
    """A fresh organisation with a user and an API token for each role."""
    return create_tenant(app.state.session_factory)


@pytest.fixture
def other_tenant(app: FastAPI) -> Tenant:
    """Another fresh organisation, whose records `tenant` must never see or change."""
    return create_tenant(app.state.session_factory)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The application served over real HTTP by uvicorn in a background thread, on a free
    127.0.0.1 port; yields the base URL (`http://127.0.0.1:PORT`, no trailing slash)."""
    with serve_in_thread(app) as base_url:
        yield base_url
