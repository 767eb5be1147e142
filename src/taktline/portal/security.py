"""Passwords, sign-in sessions and the sign-in throttle of the portal.

No password is hashed or checked inside a database transaction: argon2 takes tens of
milliseconds of CPU on purpose, and a transaction held open that long would hold its locks
(on SQLite, the write lock of the whole database) for every other request. Sign-in is three
steps: a short transaction that counts and records the attempt, the check with no
transaction open, and a short transaction that writes the outcome and the session.

The throttle, within THROTTLE_WINDOW (OWASP's authentication and credential-stuffing
guidance: lock out the guesser, not the user):

- per account and address: MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS failures, cleared by a
  successful sign-in of that account from that address. Guessing one password from one
  place gets a few tries per quarter hour.
- per address: MAX_FAILURES_PER_ADDRESS failures over all accounts (trying many accounts
  from one place). A success does not clear it.
- per account: MAX_FAILURES_PER_ACCOUNT failures from all addresses together (guessing one
  password from many places), except from addresses that account signed in from within
  KNOWN_ADDRESS_WINDOW: an attacker elsewhere cannot lock the user out where they work.

An attempt is recorded as failed before its password is checked and becomes a success after,
so concurrent guesses count the moment they start; on PostgreSQL an advisory lock per account
and per address makes the count and the record one step for concurrent requests on any app
server (SQLite serialises writers at BEGIN already).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, ScalarSelect, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from taktline.auth import service as auth_service
from taktline.auth.models import LoginAttempt, PortalSession, User
from taktline.db import is_postgres, transaction, utcnow
from taktline.errors import FieldError, NotFound, TooManyRequests, Unauthorized, ValidationProblem
from taktline.permissions import Actor

SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_FAILURES_PER_ACCOUNT = 50
KNOWN_ADDRESS_WINDOW = timedelta(days=30)
MIN_PASSWORD_LENGTH = 10
# The address of a request that has none (not over a socket): one address for all of them.
UNKNOWN_ADDRESS = "unknown"
MAX_EMAIL_LENGTH = 320  # as the columns hold them
MAX_ADDRESS_LENGTH = 64

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _no_transaction_open(session: Session, what: str) -> None:
    """Before hashing: refuses to run inside a unit of work (`transaction()`), and ends the
    transaction a read of the caller left open (committing it, as `transaction()` would)."""
    if session.info.get("in_transaction"):
        raise RuntimeError(
            f"{what} commits short transactions of its own and hashes between them: "
            "call it outside a `transaction()`"
        )
    if session.in_transaction():
        session.commit()


def set_password(session: Session, email: str, password: str) -> User:
    """Sets the user's portal password and signs the user out everywhere. The password is
    hashed before the transaction begins."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationProblem(
            [FieldError(["password"], f"must be at least {MIN_PASSWORD_LENGTH} characters")]
        )
    _no_transaction_open(session, "set_password")
    password_hash = _hasher.hash(password)
    with transaction(session):
        user = session.scalar(
            select(User).where(User.email == email.strip().lower()).with_for_update()
        )
        if user is None:
            raise NotFound("user", email)
        user.password_hash = password_hash
        # Every session of the old password ends.
        session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    return user


# --- the throttle --------------------------------------------------------------------------


def _lock_key(kind: str, value: str) -> int:
    """A signed 64-bit PostgreSQL advisory lock key of its own for one account or address."""
    digest = hashlib.blake2b(f"taktline.sign_in.{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock(session: Session, email: str, client: str) -> None:
    """On PostgreSQL, takes the transaction's advisory locks of the account and the address,
    in key order (so that two sign-ins never wait for each other in a circle)."""
    if not is_postgres(session):
        return
    for key in sorted({_lock_key("account", email), _lock_key("address", client)}):
        session.execute(select(func.pg_advisory_xact_lock(key)))


def _failures(session: Session, *where: ColumnElement[bool]) -> int:
    since = utcnow() - THROTTLE_WINDOW
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(*where, LoginAttempt.at > since, LoginAttempt.succeeded.is_(False))
        )
        or 0
    )


def _last_success(email: str, client: str, since: timedelta) -> ScalarSelect[datetime]:
    """When the account last signed in from the address (within `since`), or NULL."""
    return (
        select(func.max(LoginAttempt.at))
        .where(
            LoginAttempt.email == email,
            LoginAttempt.client == client,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.at > utcnow() - since,
        )
        .scalar_subquery()
    )


def _throttled(session: Session, email: str, client: str) -> bool:
    pair = and_(LoginAttempt.email == email, LoginAttempt.client == client)
    last_success = _last_success(email, client, KNOWN_ADDRESS_WINDOW)
    since_success = or_(last_success.is_(None), LoginAttempt.at > last_success)
    if _failures(session, pair, since_success) >= MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS:
        return True
    if _failures(session, LoginAttempt.client == client) >= MAX_FAILURES_PER_ADDRESS:
        return True
    known_address = session.scalar(select(last_success)) is not None
    return (
        not known_address
        and _failures(session, LoginAttempt.email == email) >= MAX_FAILURES_PER_ACCOUNT
    )


@dataclass(frozen=True)
class _Attempt:
    id: uuid.UUID
    user_id: uuid.UUID | None
    password_hash: str | None
    active: bool


def _begin_attempt(session: Session, email: str, client: str) -> _Attempt:
    """Counts the failures and, under the limits, records this attempt as failed; all in one
    short transaction, atomic for concurrent sign-ins of the account or the address."""
    with transaction(session):
        _lock(session, email, client)
        if _throttled(session, email, client):
            seconds = int(THROTTLE_WINDOW.total_seconds())
            raise TooManyRequests(
                f"Too many failed sign-ins. Wait {seconds // 60} minutes, then try again.",
                retry_after_seconds=seconds,
            )
        attempt = LoginAttempt(email=email, client=client, succeeded=False)
        session.add(attempt)
        user = session.scalar(select(User).where(User.email == email))
        session.flush()
        return _Attempt(
            attempt.id,
            user.id if user else None,
            user.password_hash if user else None,
            bool(user and user.active),
        )


def _check(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Whether the password is right, and a new hash if argon2's parameters have changed
    since it was made. CPU-heavy on purpose: never call it inside a transaction."""
    try:
        ok = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if not ok or password_hash is None:
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None


def sign_in(session: Session, email: str, password: str, client: str | None) -> str:
    """Checks the password and opens a session; returns the cookie value, shown only here.

    Refused with 429, whatever the password, while a limit of the throttle (see the module)
    is reached; the limits of an address and of an account count only failures.
    """
    _no_transaction_open(session, "sign_in")
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or "\x00" in email:
        # No account has such an email, and the database could not even store it.
        raise Unauthorized("The email or the password is not right.")
    client = (client or UNKNOWN_ADDRESS)[:MAX_ADDRESS_LENGTH]
    attempt = _begin_attempt(session, email, client)
    ok, rehashed = _check(attempt.password_hash, password)  # no transaction is open here
    if not ok or not attempt.active or attempt.user_id is None:
        raise Unauthorized("The email or the password is not right.")
    token = secrets.token_urlsafe(32)
    with transaction(session):
        # The row lock makes a concurrent set-password wait, or this wait for it: a session
        # is only ever opened with the password the user has now.
        current = session.execute(
            select(User.password_hash, User.active)
            .where(User.id == attempt.user_id)
            .with_for_update()
        ).one_or_none()
        if current is None or current.password_hash != attempt.password_hash or not current.active:
            raise Unauthorized("The email or the password is not right.")
        session.execute(
            update(LoginAttempt).where(LoginAttempt.id == attempt.id).values(succeeded=True)
        )
        if rehashed is not None:
            session.execute(
                update(User).where(User.id == attempt.user_id).values(password_hash=rehashed)
            )
        session.add(
            PortalSession(
                token_hash=_digest(token),
                user_id=attempt.user_id,
                csrf_token=secrets.token_urlsafe(32),
                expires_at=utcnow() + SESSION_LIFETIME,
            )
        )
    return token


def resolve(session: Session, token: str) -> tuple[Actor, str] | None:
    """The actor and CSRF token of a live session, or None."""
    row = session.execute(
        select(User, PortalSession.csrf_token)
        .join(PortalSession, PortalSession.user_id == User.id)
        .where(PortalSession.token_hash == _digest(token), PortalSession.expires_at > utcnow())
    ).first()
    if row is None or not row[0].active:
        return None
    return auth_service.actor_for_user(row[0]), row[1]


def sign_out(session: Session, token: str) -> None:
    with transaction(session):
        session.execute(delete(PortalSession).where(PortalSession.token_hash == _digest(token)))


@dataclass(frozen=True)
class Purged:
    attempts: int
    sessions: int


def purge_expired(session: Session) -> Purged:
    """Deletes the sign-in attempts older than every window that counts them (the throttle's
    and KNOWN_ADDRESS_WINDOW) and the sessions that have expired: neither is read again."""
    now = utcnow()
    with transaction(session):
        attempts = session.execute(
            delete(LoginAttempt).where(LoginAttempt.at < now - KNOWN_ADDRESS_WINDOW)
        )
        sessions = session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    return Purged(
        int(getattr(attempts, "rowcount", 0) or 0), int(getattr(sessions, "rowcount", 0) or 0)
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected, given)
