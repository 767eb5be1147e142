"""The scheduling tests with a database share one application per database for the whole
run (as the API tests do): they isolate by tenant, and building the application is most of
what a short test would otherwise cost. The pure core's tests need none of this."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from taktline.app import create_app
from taktline.config import Settings


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[FastAPI]:
    application = create_app(Settings(database_url=database_url))
    application.state.test_sessions = []
    yield application
    application.state.engine.dispose()
