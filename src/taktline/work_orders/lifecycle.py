"""The work order lifecycle, as data and pure functions.

Read the table `TRANSITIONS` to know every rule: which action moves a work order from which
states to which, and the guard that must hold. Nothing here touches the web or the database;
the service builds a `WorkOrderView` of the record, asks `decide`, and applies the answer.
"""

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


class State(enum.StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    IN_PROCESS = "IN_PROCESS"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    DELETED = "DELETED"


class LineItemStatus(enum.StrEnum):
    PENDING = "PENDING"
    IN_PROCESS = "IN_PROCESS"
    DONE = "DONE"
    SKIPPED = "SKIPPED"


# No action leads out of these.
FINAL_STATES = frozenset({State.COMPLETED, State.DELETED})
# States whose line items hold their resource bookings.
BOOKED_STATES = frozenset({State.SCHEDULED, State.IN_PROCESS})
# A production order in one of these takes no new or rescheduled work.
CLOSED_ORDER_STATES = frozenset({State.CANCELED, State.COMPLETED, State.DELETED})
FINISHED_LINE_ITEM = frozenset({LineItemStatus.DONE, LineItemStatus.SKIPPED})


@dataclass(frozen=True)
class LineItemView:
    sequence: int
    operation: str
    status: LineItemStatus
    has_resource: bool
    planned_start: datetime | None
    planned_end: datetime | None


@dataclass(frozen=True)
class WorkOrderView:
    """What the rules need to know of a work order."""

    state: State
    on_hold: bool
    line_items: tuple[LineItemView, ...]
    production_order_state: State | None = None


Guard = Callable[[WorkOrderView], str | None]
"""Returns why the action is refused, or None when it may go ahead."""


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[State]
    # None: the action keeps the state (a hold, a report, an edit).
    target: State | None
    guard: Guard | None = None


def _has_line_items_and_open_order(wo: WorkOrderView) -> str | None:
    if not wo.line_items:
        return "it has no line items"
    if wo.production_order_state in CLOSED_ORDER_STATES:
        return f"its production order is {wo.production_order_state}"
    return None


def _not_on_hold(wo: WorkOrderView) -> str | None:
    return "it is on hold; resume it first" if wo.on_hold else None


def _on_hold(wo: WorkOrderView) -> str | None:
    return None if wo.on_hold else "it is not on hold"


def _ready_to_complete(wo: WorkOrderView) -> str | None:
    if wo.on_hold:
        return "it is on hold; resume it first"
    unfinished = [li for li in wo.line_items if li.status not in FINISHED_LINE_ITEM]
    if unfinished:
        names = ", ".join(f"{li.sequence} ({li.operation}) is {li.status}" for li in unfinished)
        return f"every line item must be DONE or SKIPPED, but line item {names}"
    return None


_ANY_OPEN = frozenset({State.DRAFT, State.SCHEDULED, State.IN_PROCESS})

TRANSITIONS: tuple[Transition, ...] = (
    Transition("update", frozenset({State.DRAFT}), None),
    Transition(
        "schedule", frozenset({State.DRAFT}), State.SCHEDULED, _has_line_items_and_open_order
    ),
    Transition("unschedule", frozenset({State.SCHEDULED}), State.DRAFT),
    Transition("start", frozenset({State.SCHEDULED}), State.IN_PROCESS),
    Transition("pause", frozenset({State.IN_PROCESS}), None, _not_on_hold),
    Transition("resume", frozenset({State.IN_PROCESS}), None, _on_hold),
    Transition("report", frozenset({State.IN_PROCESS}), None, _not_on_hold),
    Transition("skip", frozenset({State.IN_PROCESS}), None, _not_on_hold),
    Transition("complete", frozenset({State.IN_PROCESS}), State.COMPLETED, _ready_to_complete),
    Transition("cancel", _ANY_OPEN, State.CANCELED),
    Transition("delete", frozenset({State.DRAFT, State.CANCELED}), State.DELETED),
)
ACTIONS: tuple[str, ...] = tuple(t.action for t in TRANSITIONS)
_BY_ACTION = {t.action: t for t in TRANSITIONS}


@dataclass(frozen=True)
class Decision:
    """The lifecycle's answer: the state to move to, or why not and what is allowed instead."""

    action: str
    from_state: State
    to_state: State
    refused: str | None
    allowed_actions: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.refused is None


def only_from(action: str, sources: frozenset[State]) -> str:
    return f"{action} is allowed only from {' or '.join(s for s in State if s in sources)}"


def allowed_actions(wo: WorkOrderView) -> tuple[str, ...]:
    """Every action that may be taken now: the portal's buttons and the 409 body alike."""
    return tuple(
        t.action
        for t in TRANSITIONS
        if wo.state in t.sources and (t.guard is None or t.guard(wo) is None)
    )


def decide(wo: WorkOrderView, action: str) -> Decision:
    transition = _BY_ACTION[action]
    refused: str | None = None
    if wo.state not in transition.sources:
        refused = only_from(action, transition.sources)
    elif transition.guard is not None:
        refused = transition.guard(wo)
    return Decision(
        action=action,
        from_state=wo.state,
        to_state=transition.target or wo.state,
        refused=refused,
        allowed_actions=allowed_actions(wo),
    )


def schedule_problems(line_items: Sequence[LineItemView]) -> list[str]:
    """What keeps these line items from being booked: each needs a resource and a window."""
    problems = []
    for li in line_items:
        if not li.has_resource:
            problems.append(f"line item {li.sequence} ({li.operation}) has no resource")
        if li.planned_start is None or li.planned_end is None:
            problems.append(f"line item {li.sequence} ({li.operation}) has no planned window")
        elif li.planned_end <= li.planned_start:
            problems.append(
                f"line item {li.sequence} ({li.operation}) has a window that ends before it starts"
            )
    return problems


def line_item_after_report(status: LineItemStatus, done: bool) -> LineItemStatus:
    """A report starts a PENDING line item; `done` finishes it. Finished ones take no more."""
    if status in FINISHED_LINE_ITEM:
        raise ValueError(f"line item is already {status}")
    return LineItemStatus.DONE if done else LineItemStatus.IN_PROCESS
