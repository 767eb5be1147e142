"""Tenants for tests: a fresh organisation with one user and API token per role.

Tests isolate by tenant rather than by emptying tables: every test gets organisations of its
own, so nothing another test left behind can be seen through the API.
"""

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from taktline.auth import service as auth_service
from taktline.db import transaction
from taktline.permissions import Actor, Role

ROLES: tuple[Role, ...] = tuple(Role)


@dataclass(frozen=True)
class TenantUser:
    user_id: uuid.UUID
    email: str
    role: Role
    token: str


@dataclass(frozen=True)
class Tenant:
    """An organisation with one user per role, each with an API token."""

    org_id: uuid.UUID
    name: str
    users: Mapping[Role, TenantUser]

    def user(self, role: Role | str = Role.PLANNER) -> TenantUser:
        return self.users[Role(role)]

    def token(self, role: Role | str = Role.PLANNER) -> str:
        return self.user(role).token

    def headers(self, role: Role | str = Role.PLANNER) -> dict[str, str]:
        """The Authorization header of that role's user; merge more headers in with {**...}."""
        return {"Authorization": f"Bearer {self.token(role)}"}

    def actor(self, role: Role | str = Role.PLANNER) -> Actor:
        """The actor a service call of that role's user runs as."""
        user = self.user(role)
        return Actor(user_id=user.user_id, org_id=self.org_id, email=user.email, role=user.role)


def create_tenant(session_factory: sessionmaker[Session], name: str | None = None) -> Tenant:
    """Creates an organisation (a unique name unless given) with a user and token per role,
    through the auth services, in one transaction."""
    slug = secrets.token_hex(4)
    name = name or f"Tenant {slug}"
    users: dict[Role, TenantUser] = {}
    with session_factory() as session, transaction(session):
        org = auth_service.get_or_create_org(session, name)
        for role in ROLES:
            user = auth_service.get_or_create_user(session, org, f"{role}.{slug}@tenant.test", role)
            token = auth_service.create_token(session, user)
            users[role] = TenantUser(user.id, user.email, role, token)
        org_id = org.id
    return Tenant(org_id=org_id, name=name, users=users)
