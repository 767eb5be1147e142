"""Who may do what: the one table of roles and the actions they may take.

Every use case asks `authorize(actor, "<kind>.<action>")` before it changes or reads
anything; the API, the portal, the CLI and every later adapter therefore give the same
answer, because none of them decides by itself. The portal's buttons ask `may` of the same
table. Plain data, importing nothing of the web or the database.
"""

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from taktline.errors import Forbidden


class Role(enum.StrEnum):
    ADMIN = "admin"
    PLANNER = "planner"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Actor:
    """Who is acting: resolved from a token or a session, passed to every use case."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: Role


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    # What the action is, in the words of the refusal: "The viewer role may not <what>."
    what: str


_EVERYONE = frozenset(Role)
_OPERATORS = frozenset({Role.ADMIN, Role.PLANNER, Role.OPERATOR})
_PLANNERS = frozenset({Role.ADMIN, Role.PLANNER})


def _reads(kind: str, plural: str) -> dict[str, Rule]:
    return {f"{kind}.read": Rule(_EVERYONE, f"read {plural}")}


def _records(kind: str, plural: str) -> dict[str, Rule]:
    """A simple record: everyone reads it, planners create and change it."""
    return {
        **_reads(kind, plural),
        f"{kind}.create": Rule(_PLANNERS, f"create {plural}"),
        f"{kind}.update": Rule(_PLANNERS, f"change {plural}"),
    }


# On the floor: operators start, pause, resume, report and complete work.
_FLOOR_ACTIONS = ("start", "pause", "resume", "report", "complete")
_PLANNING_ACTIONS = ("schedule", "unschedule", "skip", "cancel", "delete")

PERMISSIONS: Mapping[str, Rule] = {
    **_records("item", "items"),
    **_records("facility", "facilities"),
    **_records("customer", "customers"),
    **_records("resource", "resources"),
    **_reads("calendar", "calendars"),
    "calendar.update": Rule(_PLANNERS, "change calendars"),
    **_reads("production_order", "production orders"),
    "production_order.create": Rule(_PLANNERS, "create production orders"),
    "production_order.update": Rule(_PLANNERS, "change production orders"),
    "production_order.schedule": Rule(_PLANNERS, "schedule production orders"),
    "production_order.cancel": Rule(_PLANNERS, "cancel production orders"),
    "production_order.delete": Rule(_PLANNERS, "delete production orders"),
    **_reads("bom", "bills of material"),
    "bom.create": Rule(_PLANNERS, "create bills of material"),
    "bom.update": Rule(_PLANNERS, "change bills of material"),
    "bom.activate": Rule(_PLANNERS, "activate versions of bills of material"),
    "bom.retire": Rule(_PLANNERS, "retire versions of bills of material"),
    "production_order.generate": Rule(_PLANNERS, "generate the work orders of production orders"),
    **_reads("work_order", "work orders"),
    "work_order.create": Rule(_PLANNERS, "create work orders"),
    "work_order.update": Rule(_PLANNERS, "update work orders"),
    **{f"work_order.{a}": Rule(_OPERATORS, f"{a} work orders") for a in _FLOOR_ACTIONS},
    **{f"work_order.{a}": Rule(_PLANNERS, f"{a} work orders") for a in _PLANNING_ACTIONS},
    # Operators reverse their own reports only (authorize_reversal), planners anyone's.
    "work_order.reverse_report": Rule(_OPERATORS, "reverse reports"),
    # Stock: the floor receives and pulls; planners allocate, decide QA and correct counts.
    **_reads("lot", "lots and stock"),
    "lot.receive": Rule(_OPERATORS, "receive stock"),
    "lot.release": Rule(_PLANNERS, "release lots"),
    "lot.hold": Rule(_PLANNERS, "put lots on hold"),
    "lot.reject": Rule(_PLANNERS, "reject lots"),
    "lot.adjust": Rule(_PLANNERS, "adjust stock"),
    "lot.scrap": Rule(_PLANNERS, "scrap stock"),
    "work_order.allocate": Rule(_PLANNERS, "allocate stock to work orders"),
    "work_order.release_allocation": Rule(_PLANNERS, "release allocations"),
    "work_order.pull": Rule(_OPERATORS, "pull stock for work orders"),
    "work_order.return": Rule(_OPERATORS, "return pulled stock"),
    "organisation.read": Rule(_EVERYONE, "read the organisation's settings"),
    "organisation.update": Rule(frozenset({Role.ADMIN}), "change the organisation's settings"),
    "schedule.preview": Rule(_PLANNERS, "preview schedules"),
    "schedule.apply": Rule(_PLANNERS, "apply schedules"),
    "bottleneck.read": Rule(_EVERYONE, "read the bottleneck analysis"),
    "token.manage": Rule(frozenset({Role.ADMIN}), "list, create or revoke API tokens"),
}


def may(actor: Actor, action: str) -> bool:
    """Whether the actor's role may take `action` (a key of PERMISSIONS)."""
    return actor.role in PERMISSIONS[action].roles


def may_reverse(actor: Actor, reported_by: uuid.UUID | None) -> bool:
    """Who may reverse a report: whoever made it (if the role may reverse at all), and
    planners (and admins) anyone's."""
    if not may(actor, "work_order.reverse_report"):
        return False
    return actor.role in _PLANNERS or reported_by == actor.user_id


def authorize_reversal(actor: Actor, reported_by: uuid.UUID | None) -> None:
    if not may_reverse(actor, reported_by):
        raise Forbidden(f"The {actor.role} role may reverse only its own reports.")


def authorize(actor: Actor, action: str) -> None:
    """Refuses with 403, in words the user reads, when the actor's role may not act."""
    rule = PERMISSIONS[action]
    if actor.role not in rule.roles:
        raise Forbidden(f"The {actor.role} role may not {rule.what}.")
