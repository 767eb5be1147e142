"""Roles and what each may do. Plain data: the API, the portal and the tests read it alike."""

import enum
import uuid
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    PLANNER = "planner"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"
    # start, pause, resume, report and complete work on the floor
    OPERATE = "operate"
    # create and change records, schedule, cancel, delete
    PLAN = "plan"
    # users and tokens
    ADMINISTER = "administer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.PLANNER: frozenset({Permission.READ, Permission.OPERATE, Permission.PLAN}),
    Role.ADMIN: frozenset(Permission),
}

# The work order actions an operator may take; every other action needs PLAN.
OPERATOR_ACTIONS = frozenset({"start", "pause", "resume", "report", "complete"})


def permission_for_action(action: str) -> Permission:
    return Permission.OPERATE if action in OPERATOR_ACTIONS else Permission.PLAN


@dataclass(frozen=True)
class Actor:
    """Who is acting: resolved from a token or a session, passed to every service call."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]
