"""The `taktline` command: tokens, migrations, and the demo."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from taktline import cli, migrate
from taktline.app import create_app
from taktline.config import Settings
from taktline.db import create_db_engine, create_session_factory
from tests.helpers import API, db_counts


@pytest.fixture
def cli_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def run(cli_database: str) -> Callable[..., Result]:
    """Runs `taktline ARGS...` in-process on the test's own SQLite file."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli.app, list(args), env={"TAKTLINE_DATABASE_URL": cli_database})

    return invoke


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1].strip()


def test_db_upgrade_migrates_to_head_and_running_it_again_changes_nothing(
    run, cli_database: str
) -> None:
    first = run("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert migrate.current_revision(cli_database) == migrate.head_revision()
    app = create_app(Settings(database_url=cli_database))
    counts = db_counts(app.state.engine)

    second = run("db", "upgrade")

    assert second.exit_code == 0, second.output
    assert migrate.current_revision(cli_database) == migrate.head_revision()
    assert db_counts(app.state.engine) == counts
    app.state.engine.dispose()


def test_token_create_prints_a_working_token_as_the_last_line(run, cli_database: str) -> None:
    assert run("db", "upgrade").exit_code == 0

    result = run(
        "token",
        "create",
        "--org",
        "Acme Co-Pack",
        "--email",
        "Ann@Acme.example",
        "--role",
        "planner",
    )

    assert result.exit_code == 0, result.output
    token = _last_line(result.stdout)
    assert token.startswith("tkl_")
    with TestClient(create_app(Settings(database_url=cli_database))) as client:
        response = client.get(f"{API}/items", headers={"Authorization": f"Bearer {token}"})
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text


def test_token_create_for_an_existing_user_adds_a_second_working_token(
    run, cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    args = ("token", "create", "--org", "Acme", "--email", "ann@acme.example", "--role", "admin")

    first, second = _last_line(run(*args).stdout), _last_line(run(*args).stdout)

    assert first != second
    with TestClient(create_app(Settings(database_url=cli_database))) as client:
        for token in (first, second):
            response = client.get(f"{API}/items", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
        client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_token_create_refuses_an_unknown_role_naming_the_valid_ones(run, cli_database: str) -> None:
    assert run("db", "upgrade").exit_code == 0
    app = create_app(Settings(database_url=cli_database))
    before = db_counts(app.state.engine)

    result = run("token", "create", "--org", "Acme", "--email", "a@acme.example", "--role", "boss")

    assert result.exit_code == 2
    assert "--role" in result.output
    assert "'boss' is not one of" in result.output
    for role in ("admin", "planner", "operator", "viewer"):
        assert role in result.output
    assert db_counts(app.state.engine) == before
    app.state.engine.dispose()


def test_token_create_refuses_an_email_of_another_organisation(run, cli_database: str) -> None:
    assert run("db", "upgrade").exit_code == 0
    first = run("token", "create", "--org", "A", "--email", "a@x.example", "--role", "admin")
    assert first.exit_code == 0, first.output

    result = run("token", "create", "--org", "B", "--email", "a@x.example", "--role", "admin")

    assert result.exit_code == 1
    assert "already belongs to another organisation" in result.output


def test_token_create_on_an_unmigrated_database_says_to_run_db_upgrade(run) -> None:
    result = run("token", "create", "--org", "A", "--email", "a@x.example", "--role", "admin")

    assert result.exit_code == 1
    assert "taktline db upgrade" in result.output


def test_demo_loads_once_and_running_it_again_adds_nothing(run, cli_database: str) -> None:
    first = run("demo")
    assert first.exit_code == 0, first.output
    app = create_app(Settings(database_url=cli_database))
    counts = db_counts(app.state.engine)

    second = run("demo")

    assert second.exit_code == 0, second.output
    assert db_counts(app.state.engine) == counts
    app.state.engine.dispose()


def test_up_loads_the_demo_into_an_empty_database_and_prints_a_working_admin_token(
    run, cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(cli, "_serve", lambda host, port: served.append((host, port)))

    result = run("up", "--port", "8123")

    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 8123)]
    assert "http://127.0.0.1:8123/docs" in result.output
    token = _last_line(result.stdout)
    with TestClient(create_app(Settings(database_url=cli_database))) as client:
        response = client.get(f"{API}/resources", headers={"Authorization": f"Bearer {token}"})
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) >= 5  # the demo's resources


def test_up_prints_a_portal_password_for_the_demo_users_once_and_it_signs_in(
    run, cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from taktline.portal import security

    monkeypatch.setattr(cli, "_serve", lambda host, port: None)

    first = run("up")
    again = run("up")

    match = re.search(r"with the password (\S+)", first.stdout)
    assert match is not None, first.stdout
    assert "with the password shown at the first start" in again.stdout
    engine = create_db_engine(cli_database)
    with create_session_factory(engine)() as session:
        for email in ("planner@sunshine.example", "operator@sunshine.example"):
            assert security.sign_in(session, email, match.group(1), "127.0.0.1")
    engine.dispose()


def test_db_purge_deletes_only_idempotency_answers_older_than_the_ttl(
    run, cli_database: str
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from taktline.auth import service as auth_service
    from taktline.db import utcnow
    from taktline.idempotency import IdempotencyRecord

    assert run("db", "upgrade").exit_code == 0
    engine = create_db_engine(cli_database)
    with create_session_factory(engine)() as session:
        org = auth_service.get_or_create_org(session, "Purge Co")
        for key, age in (("old", timedelta(hours=25)), ("fresh", timedelta(hours=1))):
            session.add(
                IdempotencyRecord(
                    org_id=org.id,
                    key=key,
                    fingerprint="f" * 64,
                    status_code=201,
                    body={},
                    created_at=utcnow() - age,
                )
            )
        session.commit()

    result = run("db", "purge")

    assert result.exit_code == 0, result.output
    assert "Purged 1 " in result.output
    with create_session_factory(engine)() as session:
        assert session.scalars(select(IdempotencyRecord.key)).all() == ["fresh"]
    engine.dispose()
