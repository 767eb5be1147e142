"""The `taktline` command: tokens, migrations, and the demo."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
    # `*_`: and whatever else it is given (the number of workers)
    monkeypatch.setattr(cli, "_serve", lambda host, port, *_: served.append((host, port)))

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

    monkeypatch.setattr(cli, "_serve", lambda *_, **__: None)

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


def test_db_purge_deletes_sign_in_attempts_past_every_window_and_expired_sessions(
    run, cli_database: str
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from taktline.auth.models import LoginAttempt, PortalSession, User
    from taktline.db import utcnow

    assert run("db", "upgrade").exit_code == 0
    assert run("demo").exit_code == 0
    engine = create_db_engine(cli_database)
    now = utcnow()
    with create_session_factory(engine)() as session:
        user = session.scalars(select(User)).first()
        assert user is not None
        for email, age in (
            ("old@x.example", timedelta(days=31)),
            ("new@x.example", timedelta(days=29)),
        ):
            session.add(LoginAttempt(email=email, client="10.0.0.1", succeeded=True, at=now - age))
        for digest, expires in (
            ("a" * 64, now - timedelta(minutes=1)),
            ("b" * 64, now + timedelta(hours=1)),
        ):
            session.add(
                PortalSession(
                    token_hash=digest, user_id=user.id, csrf_token="c", expires_at=expires
                )
            )
        session.commit()

    result = run("db", "purge")

    assert result.exit_code == 0, result.output
    assert "Purged 1 sign-in attempts older than 30 days and 1 expired sign-in sessions." in (
        result.output
    )
    with create_session_factory(engine)() as session:
        assert session.scalars(select(LoginAttempt.email)).all() == ["new@x.example"]
        assert session.scalars(select(PortalSession.token_hash)).all() == ["b" * 64]
    engine.dispose()


# --- API tokens: expiry, list, revoke --------------------------------------------------------


def _token_of(run: Callable[..., Result], *options: str, email: str = "ann@acme.example") -> str:
    args = ("token", "create", "--org", "Acme", "--email", email, "--role", "viewer", *options)
    result = run(*args)
    assert result.exit_code == 0, result.output
    return _last_line(result.stdout)


def _answers(cli_database: str, token: str) -> tuple[int, str]:
    """The status of a read with the token, and the problem's detail if refused."""
    with TestClient(create_app(Settings(database_url=cli_database))) as client:
        response = client.get(f"{API}/items", headers={"Authorization": f"Bearer {token}"})
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
    return response.status_code, response.json().get("detail", "") if response.text else ""


def _age_tokens(cli_database: str, by: timedelta) -> None:
    """Moves every token's expiry back by `by`: time passing, as far as tokens can tell."""
    from sqlalchemy import select

    from taktline.auth.models import ApiToken

    engine = create_db_engine(cli_database)
    with create_session_factory(engine)() as session:
        for token in session.scalars(select(ApiToken).where(ApiToken.expires_at.is_not(None))):
            token.expires_at = token.expires_at - by if token.expires_at else None
        session.commit()
    engine.dispose()


def test_token_create_with_an_expiry_says_when_and_the_token_then_expires(
    run: Callable[..., Result], cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    result = run(
        "token", "create", "--org", "Acme", "--email", "a@acme.example", "--role", "viewer",
        "--expires-in-days", "30",
    )  # fmt: skip
    at = run(
        "token", "create", "--org", "Acme", "--email", "b@acme.example", "--role", "viewer",
        "--expires-at", "2031-06-01T12:00:00+02:00",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert at.exit_code == 0, at.output
    in_30_days = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"expires {in_30_days}" in result.stdout
    assert "expires 2031-06-01 10:00 UTC" in at.stdout
    token = _last_line(result.stdout)
    assert _answers(cli_database, token) == (200, "")
    _age_tokens(cli_database, timedelta(days=31))
    assert _answers(cli_database, token) == (401, "The token has expired.")
    assert (
        "never expires"
        in run(
            "token", "create", "--org", "Acme", "--email", "c@acme.example", "--role", "viewer"
        ).stdout
    )


@pytest.mark.parametrize(
    ("options", "named", "words"),
    [
        (("--expires-in-days", "0"), "--expires-in-days", ""),
        (("--expires-in-days", "3651"), "--expires-in-days", ""),
        (("--expires-at", "2020-01-01T00:00:00+00:00"), "--expires-at", "must be in the future"),
        (("--expires-at", "2031-01-01T00:00:00"), "--expires-at", "needs an offset"),
        (("--expires-at", "next week"), "--expires-at", "is not an ISO 8601 date and time"),
        (("--expires-at", "9999-12-31T23:00:00-05:00"), "--expires-at", "within 3650 days"),
        (
            ("--expires-in-days", "3", "--expires-at", "2031-01-01T00:00:00Z"),
            "--expires-at",
            "not both",
        ),
    ],
)
def test_token_create_refuses_a_bad_expiry_naming_the_option_and_changes_nothing(
    options: tuple[str, ...], named: str, words: str, run: Callable[..., Result], cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    engine = create_db_engine(cli_database)
    before = db_counts(engine)

    result = run(
        "token", "create", "--org", "Acme", "--email", "a@acme.example", "--role", "viewer",
        *options,
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert named in result.output
    assert words in " ".join(result.output.replace("│", " ").split())  # unwrapped
    assert "tkl_" not in result.output
    assert db_counts(engine) == before
    engine.dispose()


def test_token_list_shows_tokens_without_their_secrets_by_organisation_and_user(
    run: Callable[..., Result], cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    ann = _token_of(run, "--expires-in-days", "7")
    bob = _token_of(run, email="bob@acme.example")
    other = run("token", "create", "--org", "Zeta", "--email", "z@zeta.example", "--role", "admin")
    assert other.exit_code == 0, other.output
    _answers(cli_database, ann)  # used once: it shows when

    every, acme, of_bob = (
        run("token", "list"),
        run("token", "list", "--org", "Acme"),
        run("token", "list", "--email", "BOB@acme.example"),
    )

    for result in (every, acme, of_bob):
        assert result.exit_code == 0, result.output
        for secret in (ann, bob, _last_line(other.stdout)):
            assert secret not in result.output
    header, *rows = every.stdout.strip().splitlines()
    assert header.split()[:5] == ["id", "organisation", "user", "role", "state"]
    assert "last used" in header
    assert len(rows) == 3
    assert [line.split()[1:5] for line in rows] == [
        ["Acme", "ann@acme.example", "viewer", "active"],
        ["Acme", "bob@acme.example", "viewer", "active"],
        ["Zeta", "z@zeta.example", "admin", "active"],
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert rows[0].count(today) == 2  # created, last used
    assert "never" in rows[1]  # bob's expires never and was never used
    assert len(acme.stdout.strip().splitlines()) == 1 + 2
    assert [line.split()[2] for line in of_bob.stdout.strip().splitlines()[1:]] == [
        "bob@acme.example"
    ]
    assert run("token", "list", "--org", "Nobody").stdout.strip() == "No API tokens."


def test_token_revoke_makes_the_token_answer_401_and_revoking_again_changes_nothing(
    run: Callable[..., Result], cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    token, kept = _token_of(run), _token_of(run)
    token_id = run("token", "list").stdout.strip().splitlines()[1].split()[0]

    revoked = run("token", "revoke", token_id)
    again = run("token", "revoke", token_id)

    assert revoked.exit_code == 0, revoked.output
    assert f"Revoked the API token {token_id}" in revoked.stdout
    assert _answers(cli_database, token) == (401, "The token has been revoked.")
    assert _answers(cli_database, kept) == (200, "")
    assert again.exit_code == 0, again.output
    assert "was revoked already" in again.stdout
    states = [line.split()[4] for line in run("token", "list").stdout.strip().splitlines()[1:]]
    assert states == ["revoked", "active"]
    engine = create_db_engine(cli_database)
    with create_session_factory(engine)() as session:
        from sqlalchemy import select

        from taktline.events.models import Event

        actions = session.scalars(
            select(Event.action).where(Event.entity_type == "api_token").order_by(Event.id)
        ).all()
    engine.dispose()
    assert actions == ["create", "create", "revoke"]


@pytest.mark.parametrize(
    ("token_id", "status", "words"),
    [
        ("01a230d8-473f-7b6f-86bd-bca89261c49e", 1, "No API token with id"),
        ("not-an-id", 2, "is not a token id"),
    ],
)
def test_token_revoke_of_an_unknown_or_malformed_id_fails_and_changes_nothing(
    token_id: str, status: int, words: str, run: Callable[..., Result], cli_database: str
) -> None:
    assert run("db", "upgrade").exit_code == 0
    token = _token_of(run)
    engine = create_db_engine(cli_database)
    before = db_counts(engine)

    result = run("token", "revoke", token_id)

    assert result.exit_code == status, result.output
    assert words in result.output
    assert db_counts(engine) == before
    engine.dispose()
    assert _answers(cli_database, token) == (200, "")


def test_up_prints_a_token_only_when_it_loads_the_demo(
    run: Callable[..., Result], cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_serve", lambda *_, **__: None)
    first = run("up")
    engine = create_db_engine(cli_database)
    tokens = db_counts(engine)["api_tokens"]

    again = run("up")

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert "tkl_" in first.stdout
    assert "tkl_" not in again.stdout
    assert "taktline token create" in again.stdout
    assert db_counts(engine)["api_tokens"] == tokens == 1
    engine.dispose()


def test_up_hashes_the_demo_passwords_with_no_transaction_open(
    run: Callable[..., Result], cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While argon2 works, another connection can take SQLite's write lock at once."""
    import sqlite3

    from argon2 import PasswordHasher
    from sqlalchemy import make_url

    from taktline.portal import security

    path = make_url(cli_database).database or ""
    free_while_hashing: list[bool] = []

    class Watched(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                free_while_hashing.append(True)
            except sqlite3.OperationalError:
                free_while_hashing.append(False)
            finally:
                other.close()
            return super().hash(password, salt=salt)

    monkeypatch.setattr(security, "_hasher", Watched())
    monkeypatch.setattr(cli, "_serve", lambda *_, **__: None)

    result = run("up")

    assert result.exit_code == 0, result.output
    assert free_while_hashing == [True] * 4  # the four demo users


# --- bills of material: CSV import and export -----------------------------------------------


def _plant(cli_database: str, run) -> tuple[list[str], list[str]]:
    """Two organisations with the same items and resources, each with a planner; their
    names, and the planners' emails."""
    from tests.boms.test_boms_csv import Stock
    from tests.helpers import create_tenant

    assert run("db", "upgrade").exit_code == 0
    app = create_app(Settings(database_url=cli_database))
    with TestClient(app) as client:
        tenants = [create_tenant(app.state.session_factory) for _ in range(2)]
        for tenant in tenants:
            Stock(client, tenant)
    app.state.engine.dispose()
    return [t.name for t in tenants], [t.user("planner").email for t in tenants]


def _bom_rows(cli_database: str) -> dict[str, int]:
    engine = create_db_engine(cli_database)
    counts = db_counts(engine)
    engine.dispose()
    return {k: v for k, v in counts.items() if k.startswith("bom")}


def test_boms_import_dry_run_shows_what_it_would_make_then_imports_with_its_progress(
    run, cli_database: str, tmp_path: Path
) -> None:
    from tests.boms.test_boms_csv import JUICE_FILE

    (org, _), (planner, _) = _plant(cli_database, run)
    path = tmp_path / "boms.csv"
    path.write_bytes(JUICE_FILE)
    before = _bom_rows(cli_database)

    dry = run("boms", "import", str(path), "--org", org, "--as", planner, "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert "a dry run, nothing is written" in dry.output
    assert "Checking..." in dry.output
    assert "Writing..." not in dry.output
    assert "JUICE" in dry.output
    assert "BOTTLE-16" in dry.output
    assert "The file would make 2 new bills of material and 0 new versions" in dry.output
    assert _bom_rows(cli_database) == before

    done = run("boms", "import", str(path), "--org", org, "--as", planner)

    assert done.exit_code == 0, done.output
    assert "Writing..." in done.output
    assert "Made 2 new bills of material and 0 new versions of existing ones, from 6 rows." in (
        done.output
    )
    assert _bom_rows(cli_database)["boms"] == before["boms"] + 2
    again = run("boms", "import", str(path), "--org", org, "--as", planner)
    assert "Made 0 new bills of material and 2 new versions of existing ones" in again.output


def test_boms_import_names_the_row_and_column_of_each_error_writes_nothing_and_exits_1(
    run, cli_database: str, tmp_path: Path
) -> None:
    from tests.boms.test_boms_csv import BAD_FILE

    (org, _), _ = _plant(cli_database, run)
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD_FILE)
    before = _bom_rows(cli_database)

    result = run("boms", "import", str(path), "--org", org)

    assert result.exit_code == 1, result.output
    assert "The file has 6 errors, and nothing was imported:" in result.output
    assert "row 2, item_sku: no item has the SKU 'NO-SUCH'" in result.output
    assert "row 3, quantity: must be more than 0" in result.output
    assert "row 6, bom_type: must be FORMULA" in result.output
    assert _bom_rows(cli_database) == before


def test_boms_import_as_a_viewer_is_refused_with_the_words_of_the_rule(
    run, cli_database: str, tmp_path: Path
) -> None:
    from tests.boms.test_boms_csv import JUICE_FILE

    (org, _), (planner, _) = _plant(cli_database, run)
    path = tmp_path / "boms.csv"
    path.write_bytes(JUICE_FILE)
    viewer = planner.replace("planner.", "viewer.")

    result = run("boms", "import", str(path), "--org", org, "--as", viewer)

    assert result.exit_code == 1
    assert "The viewer role may not create bills of material." in result.output


def test_boms_export_writes_what_boms_import_reads_into_another_organisation(
    run, cli_database: str, tmp_path: Path
) -> None:
    from tests.boms.sheets import rows_of
    from tests.boms.test_boms_csv import JUICE_FILE

    (ours, theirs), _ = _plant(cli_database, run)
    path, copy = tmp_path / "boms.csv", tmp_path / "exported.csv"
    path.write_bytes(JUICE_FILE)
    assert run("boms", "import", str(path), "--org", ours).exit_code == 0

    exported = run("boms", "export", str(copy), "--org", ours)

    assert exported.exit_code == 0, exported.output
    assert "Exported 2 bills of material" in exported.output
    imported = run("boms", "import", str(copy), "--org", theirs)
    assert imported.exit_code == 0, imported.output
    shown = run("boms", "export", "--org", theirs)
    assert shown.exit_code == 0, shown.output
    assert rows_of(shown.stdout) == rows_of(copy.read_bytes())
    assert len(rows_of(shown.stdout)) == 6
