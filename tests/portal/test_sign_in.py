"""Sign-in: the throttle holds under concurrency, it locks out the guesser and not the user,
and no password is hashed or checked while a database transaction is open.

The throttle (taktline.portal.security): per account and address 5 failures in 15 minutes,
cleared by a successful sign-in from there; per address 20 (over all accounts); per account
50 from all addresses together, except from an address the account signed in from before.

Every test uses addresses of its own (the counts are the database's, shared by the tests).
Over real HTTP the application is served behind a proxy it trusts (uvicorn's proxy headers
middleware, for 127.0.0.1), so that each client comes from an address of its choosing by
`X-Forwarded-For`.
"""

import contextlib
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, make_url, select, text, update
from sqlalchemy.orm import Session
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from taktline.auth.models import LoginAttempt, PortalSession, User
from taktline.db import create_db_engine, transaction, utcnow
from taktline.errors import Problem
from taktline.portal import security
from tests.helpers import Tenant, serve_in_thread
from tests.portal.conftest import PASSWORD, csrf_of

WRONG = "not the password at all"


def fresh_address() -> str:
    """An address no other test uses (from the 10/8 private range)."""
    a, b, c = secrets.token_bytes(3)
    return f"10.{a}.{b}.{c}"


def _user(app: FastAPI, tenant: Tenant, role: str = "planner") -> str:
    """The email of that role's user of `tenant`, now with the password PASSWORD."""
    email = tenant.user(role).email
    with app.state.session_factory() as session:
        security.set_password(session, email, PASSWORD)
    return email


def attempt(app: FastAPI, email: str, password: str, address: str) -> int:
    """One sign-in through the service: 200 when it opened a session, else the problem's
    status (401 wrong, 429 throttled)."""
    with app.state.session_factory() as session:
        try:
            security.sign_in(session, email, password, address)
        except Problem as problem:
            return problem.status
    return 200


def attempts_of(app: FastAPI, **where: str) -> int:
    with app.state.session_factory() as session:
        filters = [getattr(LoginAttempt, k) == v for k, v in where.items()]
        return int(session.scalar(select(func.count()).where(*filters)) or 0)


def add_failures(app: FastAPI, email: str, addresses: list[str], age: timedelta) -> None:
    """Failed attempts of some time ago, as if made then (a history, without hashing)."""
    with app.state.session_factory() as session:
        session.add_all(
            LoginAttempt(email=email, client=a, succeeded=False, at=utcnow() - age)
            for a in addresses
        )
        session.commit()


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest for the tests that count many attempts one by one (the rules
    are the same; only the hash is faster). The concurrency tests keep the real one."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(security, "_hasher", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash(secrets.token_hex(16)))


# --- the rules, one attempt at a time ------------------------------------------------------


@pytest.mark.usefixtures("cheap_hashing")
def test_five_failures_from_one_address_stop_that_address_even_with_the_right_password(
    app: FastAPI, tenant: Tenant
) -> None:
    email, here = _user(app, tenant), fresh_address()

    first = [attempt(app, email, WRONG, here) for _ in range(5)]
    then = attempt(app, email, PASSWORD, here)

    assert first == [401] * 5
    assert then == 429
    assert attempts_of(app, email=email, client=here) == 5  # the refused one is not counted


@pytest.mark.usefixtures("cheap_hashing")
def test_an_attacker_from_another_address_cannot_lock_the_user_out(
    app: FastAPI, tenant: Tenant
) -> None:
    email, attacker, user_at = _user(app, tenant), fresh_address(), fresh_address()

    guesses = [attempt(app, email, WRONG, attacker) for _ in range(8)]

    assert guesses == [401] * 5 + [429] * 3
    assert attempt(app, email, PASSWORD, user_at) == 200
    assert attempt(app, email, PASSWORD, attacker) == 429  # the attacker still waits


@pytest.mark.usefixtures("cheap_hashing")
def test_a_successful_sign_in_clears_the_failures_of_its_account_and_address(
    app: FastAPI, tenant: Tenant
) -> None:
    email, here = _user(app, tenant), fresh_address()

    typos = [attempt(app, email, WRONG, here) for _ in range(4)]
    signed_in = attempt(app, email, PASSWORD, here)
    later = [attempt(app, email, WRONG, here) for _ in range(6)]

    assert typos == [401] * 4
    assert signed_in == 200
    assert later == [401] * 5 + [429]


@pytest.mark.usefixtures("cheap_hashing")
def test_one_address_trying_many_accounts_is_stopped_after_twenty_failures_and_no_other(
    app: FastAPI, tenant: Tenant
) -> None:
    email, stuffer, elsewhere = _user(app, tenant), fresh_address(), fresh_address()
    # Nineteen failures of a quarter hour ago (still in the window), over nineteen accounts.
    with app.state.session_factory() as session:
        session.add_all(
            LoginAttempt(
                email=f"victim{n}.{secrets.token_hex(3)}@elsewhere.test",
                client=stuffer,
                succeeded=False,
                at=utcnow() - timedelta(minutes=10),
            )
            for n in range(19)
        )
        session.commit()

    twentieth = attempt(app, f"victim.{secrets.token_hex(3)}@elsewhere.test", WRONG, stuffer)

    assert twentieth == 401
    assert attempt(app, email, PASSWORD, stuffer) == 429  # any account, any password
    assert attempt(app, email, PASSWORD, elsewhere) == 200


@pytest.mark.usefixtures("cheap_hashing")
def test_signing_in_to_an_account_of_ones_own_does_not_clear_the_count_of_the_address(
    app: FastAPI, tenant: Tenant
) -> None:
    """Else an attacker with an account of its own would reset its address between guesses."""
    own = _user(app, tenant, "viewer")
    stuffer = fresh_address()
    add_failures(app, f"victim.{secrets.token_hex(3)}@elsewhere.test", [stuffer] * 19, timedelta())

    assert attempt(app, own, PASSWORD, stuffer) == 200
    assert attempt(app, f"other.{secrets.token_hex(3)}@elsewhere.test", WRONG, stuffer) == 401
    assert attempt(app, own, PASSWORD, stuffer) == 429


@pytest.mark.usefixtures("cheap_hashing")
def test_guesses_from_many_addresses_stop_at_the_account_limit_but_not_where_the_user_was(
    app: FastAPI, tenant: Tenant
) -> None:
    email, home, new_place = _user(app, tenant), fresh_address(), fresh_address()
    assert attempt(app, email, PASSWORD, home) == 200  # the user has signed in from home
    botnet = [fresh_address() for _ in range(security.MAX_FAILURES_PER_ACCOUNT)]
    add_failures(app, email, botnet, timedelta(minutes=1))

    assert attempt(app, email, PASSWORD, new_place) == 429
    assert attempt(app, email, PASSWORD, home) == 200


@pytest.mark.usefixtures("cheap_hashing")
def test_failures_older_than_the_window_no_longer_count(app: FastAPI, tenant: Tenant) -> None:
    email, here = _user(app, tenant), fresh_address()
    add_failures(app, email, [here] * 5, security.THROTTLE_WINDOW + timedelta(minutes=1))

    assert attempt(app, email, PASSWORD, here) == 200


@pytest.mark.usefixtures("cheap_hashing")
def test_an_unknown_email_and_a_deactivated_user_are_refused_like_a_wrong_password(
    app: FastAPI, tenant: Tenant
) -> None:
    email, here = _user(app, tenant), fresh_address()
    with app.state.session_factory() as session:
        session.execute(update(User).where(User.email == email).values(active=False))
        session.commit()

    assert attempt(app, email, PASSWORD, here) == 401
    assert attempt(app, f"nobody.{secrets.token_hex(3)}@tenant.test", PASSWORD, here) == 401
    with app.state.session_factory() as session:
        user_id = tenant.user("planner").user_id
        assert (
            session.scalars(select(PortalSession).where(PortalSession.user_id == user_id)).all()
            == []
        )


# --- concurrent sign-ins over real HTTP ----------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    address: str
    email: str
    password: str


@pytest.fixture
def proxied_server(app: FastAPI) -> Iterator[str]:
    """`app` over real HTTP, believing the X-Forwarded-For of clients on 127.0.0.1."""
    behind = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts="127.0.0.1")
    with serve_in_thread(cast(FastAPI, behind)) as base_url:
        yield base_url


def race(base_url: str, sign_ins: list[SignIn]) -> Counter[int]:
    """Each sign-in from its own client (and connection), all released at once after each
    has fetched the sign-in form; the statuses of the answers."""
    barrier = threading.Barrier(len(sign_ins))

    def send(sign_in: SignIn) -> int:
        headers = {"X-Forwarded-For": sign_in.address}
        with httpx.Client(base_url=base_url, timeout=120, headers=headers) as http:
            form = http.get("/login")
            barrier.wait(timeout=60)
            response = http.post(
                "/login",
                data={
                    "email": sign_in.email,
                    "password": sign_in.password,
                    "csrf_token": csrf_of(form.text),
                    "next": "/",
                },
                follow_redirects=False,
            )
            return response.status_code

    with ThreadPoolExecutor(len(sign_ins)) as pool:
        return Counter(pool.map(send, sign_ins))


def test_concurrent_wrong_passwords_for_one_account_from_one_address_get_five_checked(
    app: FastAPI, tenant: Tenant, proxied_server: str
) -> None:
    email, here = _user(app, tenant), fresh_address()

    statuses = race(proxied_server, [SignIn(here, email, WRONG)] * 30)

    assert statuses == {401: 5, 429: 25}
    assert attempts_of(app, email=email) == 5


def test_concurrent_wrong_passwords_from_one_address_over_many_accounts_get_twenty_checked(
    app: FastAPI, proxied_server: str
) -> None:
    here = fresh_address()
    emails = [f"guess{n}.{secrets.token_hex(3)}@nowhere.test" for n in range(40)]

    statuses = race(proxied_server, [SignIn(here, email, WRONG) for email in emails])

    assert statuses == {401: 20, 429: 20}
    assert attempts_of(app, client=here) == 20


def test_while_an_attacker_races_guesses_the_user_signs_in_from_elsewhere(
    app: FastAPI, tenant: Tenant, proxied_server: str
) -> None:
    email, attacker, user_at = _user(app, tenant), fresh_address(), fresh_address()

    statuses = race(
        proxied_server, [SignIn(attacker, email, WRONG)] * 12 + [SignIn(user_at, email, PASSWORD)]
    )

    assert statuses == {401: 5, 429: 7, 303: 1}


# --- no hashing inside a transaction -------------------------------------------------------


class DatabaseProbe:
    """Looks at the database from outside the application, as another server would: on
    SQLite, whether another connection can take the write lock at once; on PostgreSQL,
    whether any connection of the database sits inside a transaction."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine: Engine | None = None
        if not database_url.startswith("sqlite"):
            self.engine = create_db_engine(database_url)

    def free(self) -> bool:
        if self.engine is None:
            other = sqlite3.connect(
                make_url(self.url).database or "", timeout=0, isolation_level=None
            )
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError:  # database is locked
                return False
            finally:
                other.close()
        with self.engine.connect() as connection:
            open_elsewhere = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                )
            )
        return bool(open_elsewhere == 0)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture
def probe(database_url: str) -> Iterator[DatabaseProbe]:
    db_probe = DatabaseProbe(database_url)
    yield db_probe
    db_probe.close()


class WatchedHasher(PasswordHasher):
    """argon2 as the application uses it, noting at every hash and check whether the
    session was in a transaction and whether the database was free."""

    def __init__(self, probe: DatabaseProbe, session: Callable[[], Session | None]) -> None:
        super().__init__()
        self.probe, self.session = probe, session
        self.seen: list[tuple[str, bool, bool]] = []

    def _note(self, what: str) -> None:
        current = self.session()
        in_transaction = current is not None and current.in_transaction()
        self.seen.append((what, in_transaction, self.probe.free()))

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._note("hash")
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:
        self._note("verify")
        return super().verify(hash, password)


def test_sign_in_checks_the_password_with_no_transaction_open(
    app: FastAPI, tenant: Tenant, probe: DatabaseProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = _user(app, tenant)
    current: list[Session] = []
    hasher = WatchedHasher(probe, lambda: current[-1] if current else None)
    monkeypatch.setattr(security, "_hasher", hasher)
    cases = [(email, PASSWORD), (email, WRONG), (f"nobody.{secrets.token_hex(3)}@x.test", WRONG)]

    for who, password in cases:
        with app.state.session_factory() as session:
            current.append(session)
            with contextlib.suppress(Problem):
                security.sign_in(session, who, password, fresh_address())

    checks = [seen for seen in hasher.seen if seen[0] == "verify"]
    assert len(checks) == 3
    assert checks == [("verify", False, True)] * 3, "a transaction was open while checking"
    with app.state.session_factory() as session:
        assert (
            session.scalar(
                select(func.count()).where(PortalSession.user_id == tenant.user().user_id)
            )
            == 1
        )


def test_set_password_hashes_with_no_transaction_open(
    app: FastAPI, tenant: Tenant, probe: DatabaseProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    current: list[Session] = []
    hasher = WatchedHasher(probe, lambda: current[-1] if current else None)
    monkeypatch.setattr(security, "_hasher", hasher)

    with app.state.session_factory() as session:
        current.append(session)
        security.set_password(session, tenant.user("viewer").email, PASSWORD)

    assert hasher.seen == [("hash", False, True)]
    assert attempt(app, tenant.user("viewer").email, PASSWORD, fresh_address()) == 200


def test_sign_in_refuses_to_run_inside_a_unit_of_work(app: FastAPI, tenant: Tenant) -> None:
    """It commits the attempt before checking, so that concurrent guesses see it: inside a
    caller's transaction it could do neither."""
    email = _user(app, tenant)
    with (
        app.state.session_factory() as session,
        transaction(session),
        pytest.raises(RuntimeError, match="outside a `transaction"),
    ):
        security.sign_in(session, email, PASSWORD, fresh_address())


@pytest.mark.usefixtures("cheap_hashing")
def test_the_sign_in_page_says_to_wait_with_429_and_retry_after(
    app: FastAPI, tenant: Tenant
) -> None:
    email = _user(app, tenant)
    with TestClient(app, client=(fresh_address(), 50000)) as browser:

        def post(password: str) -> httpx.Response:
            form = browser.get("/login")
            response: httpx.Response = browser.post(
                "/login",
                data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
                follow_redirects=False,
            )
            return response

        wrong = [post(WRONG) for _ in range(5)]
        refused = post(PASSWORD)

    assert [r.status_code for r in wrong] == [401] * 5
    assert "The email or the password is not right." in wrong[0].text
    assert "retry-after" not in wrong[0].headers
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes" in refused.text
    assert refused.headers["retry-after"] == "900"
    assert "taktline_session" not in refused.cookies


@pytest.mark.usefixtures("cheap_hashing")
@pytest.mark.parametrize(
    "email", ["x" * 400 + "@example.test", "a\x00b@example.test"], ids=["too long", "NUL"]
)
def test_an_email_no_account_can_have_is_refused_like_a_wrong_password(
    email: str, app: FastAPI
) -> None:
    long_address = "2001:db8::" + "f" * 80  # longer than any address: kept to its start

    assert attempt(app, email, PASSWORD, fresh_address()) == 401
    assert attempt(app, f"nobody.{secrets.token_hex(3)}@x.test", WRONG, long_address) == 401
