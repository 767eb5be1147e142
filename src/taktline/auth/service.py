"""Users and API tokens: creating, listing and revoking tokens, and resolving a token to the
actor it speaks for.

A token answers until it expires (never, when it has no expiry) or is revoked; then 401 says
which. Creating and revoking one is audited (`api_token` events). The API's use cases ask
`token.manage` of the admin acting; the CLI acts as the server's operator, for any
organisation.
"""

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from taktline.auth.models import ApiToken, User
from taktline.db import transaction, utcnow
from taktline.errors import Conflict, FieldError, Loc, NotFound, Unauthorized, ValidationProblem
from taktline.events import service as events
from taktline.orgs.models import Organisation
from taktline.permissions import Actor, Role, authorize

TOKEN_PREFIX = "tkl_"
# How exactly `last_used_at` is kept: a token is written to at most once in this span, so
# that the requests of a busy script stay reads.
LAST_USED_PRECISION = timedelta(hours=1)
# The latest expiry a new token may have, in days from now (about ten years).
MAX_EXPIRES_IN_DAYS = 3650


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is as strong as a slow hash here
    # and lets every request find its token by an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_org(session: Session, name: str) -> Organisation:
    with transaction(session):
        org = session.scalar(select(Organisation).where(Organisation.name == name))
        if org is None:
            org = Organisation(name=name)
            session.add(org)
            session.flush()
        return org


def get_or_create_user(session: Session, org: Organisation, email: str, role: Role) -> User:
    """The user of that email in `org`, created with `role` if missing (its role is kept)."""
    with transaction(session):
        email = email.strip().lower()
        user = session.scalar(select(User).where(User.email == email))
        if user is not None and user.org_id != org.id:
            raise Conflict(f"{email} already belongs to another organisation.")
        if user is None:
            user = User(org_id=org.id, email=email, role=role.value)
            session.add(user)
            session.flush()
        return user


# --- tokens ----------------------------------------------------------------------------------


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def state_of(token: ApiToken, now: datetime | None = None) -> TokenState:
    return _state(token.revoked_at, token.expires_at, now or utcnow())


def _state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> TokenState:
    if revoked_at is not None:
        return TokenState.REVOKED
    if expires_at is not None and expires_at <= now:
        return TokenState.EXPIRED
    return TokenState.ACTIVE


@dataclass(frozen=True)
class TokenView:
    """A token as an admin sees it: never its secret, only its first characters."""

    token: ApiToken
    user: User
    organisation: str
    state: TokenState


@dataclass(frozen=True)
class IssuedToken:
    view: TokenView
    secret: str  # shown this once: only its hash is stored


def expiry_of(
    expires_at: datetime | None, expires_in_days: int | None, now: datetime | None = None
) -> datetime | None:
    """When a new token expires: at `expires_at`, or `expires_in_days` from now, or never.

    Raises ValueError in the words of the field at fault (the API and the CLI name it)."""
    now = now or utcnow()
    if expires_at is not None and expires_in_days is not None:
        raise ValueError("give either an expiry time or a number of days, not both")
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
            raise ValueError(f"must be from 1 to {MAX_EXPIRES_IN_DAYS} days")
        return now + timedelta(days=expires_in_days)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("needs an offset, such as 2031-01-01T00:00:00+00:00")
        if expires_at <= now:
            raise ValueError("must be in the future")
        if expires_at > now + timedelta(days=MAX_EXPIRES_IN_DAYS):
            raise ValueError(f"must be within {MAX_EXPIRES_IN_DAYS} days from now")
    return expires_at


def _view(session: Session, token: ApiToken, user: User) -> TokenView:
    name = session.scalar(select(Organisation.name).where(Organisation.id == token.org_id))
    return TokenView(token, user, name or "", state_of(token))


def _issue(
    session: Session, user: User, expires_at: datetime | None, actor: Actor | None
) -> tuple[ApiToken, str]:
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationProblem([FieldError(["expires_at"], "must be in the future")])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(session):
        token = ApiToken(
            org_id=user.org_id,
            user_id=user.id,
            token_hash=hash_token(secret),
            prefix=secret[:12],
            expires_at=expires_at,
        )
        session.add(token)
        session.flush()
        events.record(
            session,
            actor,
            "api_token",
            token.id,
            "create",
            org_id=user.org_id,
            changes={
                "user_id": str(user.id),
                "email": user.email,
                "prefix": token.prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def create_token(session: Session, user: User, *, expires_at: datetime | None = None) -> str:
    """Creates a token for `user` (as the server's operator: the CLI, the demo, tests) and
    returns it: the only time it is ever seen."""
    return _issue(session, user, expires_at, None)[1]


def issue_token(session: Session, user: User, *, expires_at: datetime | None = None) -> IssuedToken:
    """As `create_token`, with the record: for the CLI, which shows its id and expiry."""
    token, secret = _issue(session, user, expires_at, None)
    return IssuedToken(_view(session, token, user), secret)


def _user_of(session: Session, actor: Actor, user_id: uuid.UUID | None, email: str | None) -> User:
    """The user a body names, by id or by email, if it is of the actor's organisation;
    otherwise refused at that field exactly as one that does not exist."""
    loc: Loc
    if user_id is not None:
        where, loc, what = User.id == user_id, ["body", "user_id"], "no user with this id"
    elif email is not None:
        where, loc = User.email == email.strip().lower(), ["body", "email"]
        what = "no user with this email"
    else:
        raise ValidationProblem([FieldError(["body", "user_id"], "give user_id or email")])
    user = session.scalar(select(User).where(where, User.org_id == actor.org_id))
    if user is None:
        raise ValidationProblem([FieldError(loc, what)])
    return user


def create_for_user(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """An admin issues a token for a user of the organisation; audited as the admin."""
    authorize(actor, "token.manage")
    with transaction(session):
        user = _user_of(session, actor, user_id, email)
        if not user.active:
            raise Conflict(f"{user.email} is deactivated: a token of it would not answer.")
        token, secret = _issue(session, user, expires_at, actor)
        return IssuedToken(_view(session, token, user), secret)


def list_for_org(
    session: Session,
    actor: Actor,
    *,
    email: str | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> tuple[list[TokenView], uuid.UUID | None]:
    """The organisation's tokens, oldest first, revoked and expired ones too; a page and the
    cursor of the next."""
    authorize(actor, "token.manage")
    stmt = (
        select(ApiToken, User, Organisation.name)
        .join(User, User.id == ApiToken.user_id)
        .join(Organisation, Organisation.id == ApiToken.org_id)
        .where(ApiToken.org_id == actor.org_id)
    )
    if email is not None:
        stmt = stmt.where(User.email == email.strip().lower())
    if after is not None:
        stmt = stmt.where(ApiToken.id > after)
    rows = session.execute(stmt.order_by(ApiToken.id).limit(limit + 1)).all()
    now = utcnow()
    views = [TokenView(t, u, name, state_of(t, now)) for t, u, name in rows[:limit]]
    return views, (views[-1].token.id if len(rows) > limit else None)


def list_all(
    session: Session, *, org: str | None = None, email: str | None = None
) -> list[TokenView]:
    """Every token (of one organisation, of one user), oldest first: for the CLI."""
    stmt = (
        select(ApiToken, User, Organisation.name)
        .join(User, User.id == ApiToken.user_id)
        .join(Organisation, Organisation.id == ApiToken.org_id)
    )
    if org is not None:
        stmt = stmt.where(Organisation.name == org)
    if email is not None:
        stmt = stmt.where(User.email == email.strip().lower())
    now = utcnow()
    return [
        TokenView(t, u, name, state_of(t, now))
        for t, u, name in session.execute(stmt.order_by(ApiToken.id)).all()
    ]


def _revoke(
    session: Session, token_id: uuid.UUID, org_id: uuid.UUID | None, actor: Actor | None
) -> tuple[TokenView, bool]:
    """Revokes the token (of `org_id` when given); whether it was live until now. Revoking
    a revoked token changes nothing."""
    with transaction(session):
        stmt = select(ApiToken).where(ApiToken.id == token_id).with_for_update()
        if org_id is not None:
            stmt = stmt.where(ApiToken.org_id == org_id)
        token = session.scalars(stmt.execution_options(populate_existing=True)).first()
        if token is None:
            raise NotFound("API token", token_id)
        user = session.get_one(User, token.user_id)
        if token.revoked_at is not None:
            return _view(session, token, user), False
        token.revoked_at = utcnow()
        events.record(
            session,
            actor,
            "api_token",
            token.id,
            "revoke",
            org_id=token.org_id,
            changes={"user_id": str(user.id), "email": user.email, "prefix": token.prefix},
        )
        session.flush()
        return _view(session, token, user), True


def revoke_in_org(session: Session, actor: Actor, token_id: uuid.UUID) -> TokenView:
    """An admin revokes a token of the organisation; another organisation's is not found."""
    authorize(actor, "token.manage")
    return _revoke(session, token_id, actor.org_id, actor)[0]


def revoke(session: Session, token_id: uuid.UUID) -> tuple[TokenView, bool]:
    """The CLI revokes any token; whether it was live until now."""
    return _revoke(session, token_id, None, None)


# --- resolving a request's token -----------------------------------------------------------


def actor_for_user(user: User) -> Actor:
    return Actor(user_id=user.id, org_id=user.org_id, email=user.email, role=Role(user.role))


# What a request's token is checked by, in one indexed read of the columns alone (every API
# request runs it: no records are made of the rows).
_TOKEN_OF = select(
    User.id,
    User.org_id,
    User.email,
    User.role,
    User.active,
    ApiToken.id.label("token_id"),
    ApiToken.revoked_at,
    ApiToken.expires_at,
    ApiToken.last_used_at,
).join(ApiToken, ApiToken.user_id == User.id)
_ACTOR_OF_TOKEN = _TOKEN_OF.where(ApiToken.token_hash == bindparam("token_hash"))  # (built once)


def actor_for_token(session: Session, token: str) -> Actor:
    row = session.execute(_ACTOR_OF_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None or not row.active:
        raise Unauthorized("The bearer token is not valid.")
    now = utcnow()
    state = _state(row.revoked_at, row.expires_at, now)
    if state is TokenState.REVOKED:
        raise Unauthorized("The token has been revoked.")
    if state is TokenState.EXPIRED:
        raise Unauthorized("The token has expired.")
    stale = now - LAST_USED_PRECISION
    if row.last_used_at is None or row.last_used_at < stale:
        # A short write of its own, at most once per LAST_USED_PRECISION: concurrent
        # requests find the time already set and write nothing.
        with transaction(session):
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == row.token_id,
                    or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < stale),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return Actor(user_id=row.id, org_id=row.org_id, email=row.email, role=Role(row.role))
