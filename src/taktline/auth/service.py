"""Users and API tokens: creating them, and resolving a token to the actor it speaks for."""

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.auth.models import ApiToken, User
from taktline.db import transaction
from taktline.errors import Conflict, Unauthorized
from taktline.orgs.models import Organisation
from taktline.permissions import Actor, Role

TOKEN_PREFIX = "tkl_"


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


def create_token(session: Session, user: User) -> str:
    """Creates a token for `user` and returns it: the only time it is ever seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(session):
        session.add(
            ApiToken(
                org_id=user.org_id,
                user_id=user.id,
                token_hash=hash_token(token),
                prefix=token[:12],
            )
        )
    return token


def actor_for_user(user: User) -> Actor:
    return Actor(user_id=user.id, org_id=user.org_id, email=user.email, role=Role(user.role))


def actor_for_token(session: Session, token: str) -> Actor:
    row = session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or not row.active:
        raise Unauthorized("The bearer token is not valid.")
    return actor_for_user(row)
