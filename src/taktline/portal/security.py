"""Passwords, sign-in sessions and the sign-in throttle of the portal."""

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from taktline.auth import service as auth_service
from taktline.auth.models import LoginAttempt, PortalSession, User
from taktline.db import transaction, utcnow
from taktline.errors import FieldError, NotFound, TooManyRequests, Unauthorized, ValidationProblem
from taktline.permissions import Actor

SESSION_LIFETIME = timedelta(hours=12)
# Failed sign-ins allowed per email, and per client address, within THROTTLE_WINDOW.
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_password(session: Session, email: str, password: str) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationProblem(
            [FieldError(["password"], f"must be at least {MIN_PASSWORD_LENGTH} characters")]
        )
    with transaction(session):
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFound("user", email)
        user.password_hash = _hasher.hash(password)
        # Every session of the old password ends.
        session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    return user


def _recent_failures(
    session: Session, column: InstrumentedAttribute[str | None], value: str
) -> int:
    since = utcnow() - THROTTLE_WINDOW
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(column == value, LoginAttempt.at > since, LoginAttempt.succeeded.is_(False))
        )
        or 0
    )


def sign_in(session: Session, email: str, password: str, client: str | None) -> str:
    """Checks the password and opens a session; returns the cookie value, shown only here.

    After MAX_FAILURES_PER_EMAIL failed attempts on one email (or MAX_FAILURES_PER_CLIENT
    from one address) within THROTTLE_WINDOW, sign-in is refused until the window passes,
    whatever the password: guessing is slowed to a few tries per quarter hour.
    """
    email = email.strip().lower()
    with transaction(session):
        if _recent_failures(session, LoginAttempt.email, email) >= MAX_FAILURES_PER_EMAIL or (
            client
            and _recent_failures(session, LoginAttempt.client, client) >= MAX_FAILURES_PER_CLIENT
        ):
            minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
            raise TooManyRequests(
                f"Too many failed sign-ins. Wait {minutes} minutes, then try again."
            )
        user = session.scalar(select(User).where(User.email == email))
        ok = False
        try:
            ok = _hasher.verify(
                user.password_hash if user and user.password_hash else _DUMMY_HASH, password
            )
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and user is not None and user.active and user.password_hash is not None
        session.add(LoginAttempt(email=email, client=client, succeeded=ok))
    if not ok or user is None:
        raise Unauthorized("The email or the password is not right.")
    token = secrets.token_urlsafe(32)
    with transaction(session):
        session.add(
            PortalSession(
                token_hash=_digest(token),
                user_id=user.id,
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


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected, given)
