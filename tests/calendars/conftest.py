"""One application per database for the calendar tests (they isolate by tenant)."""

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
