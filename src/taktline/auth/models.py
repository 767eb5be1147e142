"""Users of an organisation, their API tokens, and their portal sign-in sessions and
attempts (to slow down guessing)."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import Base, OrgScoped, new_id, utcnow


class User(OrgScoped, Base):
    __tablename__ = "users"

    # Unique across organisations: an email signs in to exactly one of them.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once.

    It answers until `expires_at` (never, when empty) unless revoked before; `last_used_at`
    is kept to LAST_USED_PRECISION of taktline.auth.service, so that reads stay reads.
    """

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so that an admin can tell tokens apart without seeing them.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PortalSession(Base):
    """A signed-in browser. Kept in the database so that every app server knows it; only the
    SHA-256 of the cookie's value is stored."""

    __tablename__ = "portal_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # Every form of this session carries it; a post without it is refused.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """One sign-in attempt, recorded as failed before the password is checked (so that
    concurrent guesses count at once) and turned into a success afterwards. The throttle of
    taktline.portal.security counts them per account, per address and per both."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)
