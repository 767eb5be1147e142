"""The lifecycles of work orders and production orders, as data and pure functions.

Read the two tables to know every rule: which action moves a record from which states to
which, and the guard that must hold. One engine (`Transition`, `decide`,
`allowed_actions`) serves both: a production order's own actions are few (schedule,
cancel, delete, update); otherwise its state follows from its work orders through
`derive_state`, which the use cases call in the same transaction as every work order
change, so the order is never stale. Nothing here touches the web or the database; a use
case builds a view of the record, asks `decide`, and applies the answer.
"""

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from taktline.errors import InvalidTransition


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


# Open: work still to do (or doing); what counts for late work, load and cancelation.
OPEN_STATES = frozenset({State.DRAFT, State.SCHEDULED, State.IN_PROCESS})
# States whose line items hold their resource bookings.
BOOKED_STATES = frozenset({State.SCHEDULED, State.IN_PROCESS})
# What the scheduler may move: open work that has not started.
MOVABLE_STATES = frozenset({State.DRAFT, State.SCHEDULED})
# A production order in one of these takes no new or rescheduled work.
CLOSED_ORDER_STATES = frozenset({State.CANCELED, State.COMPLETED, State.DELETED})
# Work orders that need nothing more (of a production order about to complete).
FINAL_WORK_STATES = frozenset({State.COMPLETED, State.CANCELED, State.DELETED})
FINISHED_LINE_ITEM = frozenset({LineItemStatus.DONE, LineItemStatus.SKIPPED})
# Work orders may be added to a production order while it is open.
ACCEPTS_WORK_ORDERS = OPEN_STATES
# `pinned` alone may change in these states: the scheduler reads it, nothing else changes.
PINNABLE_STATES = OPEN_STATES


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


@dataclass(frozen=True)
class ProductionOrderView:
    """What the rules need to know of a production order: its state and its work orders'."""

    state: State
    work_order_states: tuple[State, ...]


V = TypeVar("V", WorkOrderView, ProductionOrderView)


@dataclass(frozen=True)
class Transition(Generic[V]):
    action: str
    sources: frozenset[State]
    # None: the action keeps the state (a hold, a report, an edit).
    target: State | None
    # Returns why the action is refused, or None when it may go ahead.
    guard: Callable[[V], str | None] | None = None


@dataclass(frozen=True)
class Decision:
    """The lifecycle's answer: the state to move to, or why not and what is allowed instead."""

    action: str
    from_state: State
    to_state: State
    refused: str | None
    allowed_actions: tuple[str, ...]


# --- work orders ---------------------------------------------------------------------------


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


WorkOrderTransition = Transition[WorkOrderView]
WORK_ORDER_TRANSITIONS: tuple[WorkOrderTransition, ...] = (
    # Its structure (item, quantity, line items, materials, dependencies) changes only in
    # DRAFT; `pinned` alone is the one edit of PINNABLE_STATES.
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
    Transition("cancel", OPEN_STATES, State.CANCELED),
    Transition("delete", frozenset({State.DRAFT, State.CANCELED}), State.DELETED),
)
WORK_ORDER_ACTIONS: tuple[str, ...] = tuple(t.action for t in WORK_ORDER_TRANSITIONS)


def may_move_order(action: str, order_state: State | None) -> bool:
    """Whether taking `action` on a work order may change the state of its production order,
    now in `order_state`, by `derive_state`; when it cannot, the action need not lock the
    order (see `orders.locks`).

    - An action that keeps the work order's state (a hold, a report, a skip) leaves the
      order's work order states, and so the order, as they were; none of their guards
      looks at the order.
    - A closed order (CANCELED, COMPLETED, DELETED) never follows its work orders.
    - An IN_PROCESS order stays IN_PROCESS while any of its work is open, and an action
      that leaves this work order open (a start) leaves some open.
    Each of these holds whenever the order's state is read: an IN_PROCESS order leaves that
    state only when all its work is final (then this action is refused) or when it is
    canceled (which waits for this work order's lock, then cancels it too).
    """
    transition = next(t for t in WORK_ORDER_TRANSITIONS if t.action == action)
    if transition.target is None or order_state in CLOSED_ORDER_STATES:
        return False
    return not (order_state is State.IN_PROCESS and transition.target in OPEN_STATES)


# --- production orders ---------------------------------------------------------------------


def _has_draft_work(po: ProductionOrderView) -> str | None:
    if State.DRAFT not in po.work_order_states:
        return "it has no DRAFT work orders to schedule"
    return None


def _nothing_booked_or_completed(po: ProductionOrderView) -> str | None:
    if any(s in BOOKED_STATES for s in po.work_order_states):
        return "some of its work orders are scheduled or in process; cancel it first"
    if State.COMPLETED in po.work_order_states:
        return "some of its work orders are COMPLETED, and completed work is kept"
    return None


ProductionOrderTransition = Transition[ProductionOrderView]
PRODUCTION_ORDER_TRANSITIONS: tuple[ProductionOrderTransition, ...] = (
    Transition("update", frozenset({State.DRAFT}), None),
    Transition("schedule", frozenset({State.DRAFT}), State.SCHEDULED, _has_draft_work),
    Transition("cancel", OPEN_STATES, State.CANCELED),
    Transition(
        "delete",
        frozenset({State.DRAFT, State.CANCELED}),
        State.DELETED,
        _nothing_booked_or_completed,
    ),
)
PRODUCTION_ORDER_ACTIONS: tuple[str, ...] = tuple(t.action for t in PRODUCTION_ORDER_TRANSITIONS)


# --- due dates: late and at risk ---------------------------------------------------------

# Open work planned to end within this much of its due date is at risk.
AT_RISK_MARGIN = timedelta(hours=4)


class Punctuality(enum.StrEnum):
    ON_TIME = "ON_TIME"
    AT_RISK = "AT_RISK"
    LATE = "LATE"


def slack(due: datetime, planned_end: datetime | None, now: datetime) -> timedelta:
    """Due date minus when the work will end (its planned end, never before now): negative
    when it will be late."""
    return due - (max(planned_end, now) if planned_end is not None else now)


def punctuality(
    state: State,
    due: datetime | None,
    planned_end: datetime | None,
    now: datetime,
    margin: timedelta = AT_RISK_MARGIN,
) -> Punctuality | None:
    """The one definition of late, for every page, the API and the scheduler's report.

    Late: open, and either planned to end after its due date or past its due date.
    At risk: open, not late, and planned to end (or, unplanned, now) within `margin` of it.
    None for work without a due date or no longer open: lateness no longer applies.
    """
    if due is None or state not in OPEN_STATES:
        return None
    if (planned_end is not None and planned_end > due) or due < now:
        return Punctuality.LATE
    if slack(due, planned_end, now) <= margin:
        return Punctuality.AT_RISK
    return Punctuality.ON_TIME


def is_late(
    state: State, due: datetime | None, planned_end: datetime | None, now: datetime
) -> bool:
    return punctuality(state, due, planned_end, now) is Punctuality.LATE


# --- the engine ----------------------------------------------------------------------------


def _table(view: WorkOrderView | ProductionOrderView) -> Sequence[Transition[Any]]:
    if isinstance(view, WorkOrderView):
        return WORK_ORDER_TRANSITIONS
    return PRODUCTION_ORDER_TRANSITIONS


def only_from(action: str, sources: frozenset[State]) -> str:
    return f"{action} is allowed only from {' or '.join(s for s in State if s in sources)}"


def _refusal(view: Any, transition: Transition[Any]) -> str | None:
    if view.state not in transition.sources:
        return only_from(transition.action, transition.sources)
    return transition.guard(view) if transition.guard is not None else None


def allowed_actions(view: WorkOrderView | ProductionOrderView) -> tuple[str, ...]:
    """Every action that may be taken now: the portal's buttons and the 409 body alike."""
    return tuple(t.action for t in _table(view) if _refusal(view, t) is None)


def decide(view: WorkOrderView | ProductionOrderView, action: str) -> Decision:
    """Whether `action` may be taken on the record now, and the state it leads to."""
    transition = next(t for t in _table(view) if t.action == action)
    return Decision(
        action=action,
        from_state=view.state,
        to_state=transition.target or view.state,
        refused=_refusal(view, transition),
        allowed_actions=allowed_actions(view),
    )


def decide_or_refuse(
    view: WorkOrderView | ProductionOrderView, action: str, kind: str, number: str
) -> Decision:
    """`decide`, refusing with 409 (what is allowed instead, and why not) when refused."""
    decision = decide(view, action)
    if decision.refused is not None:
        raise InvalidTransition(
            kind, number, action, view.state, decision.allowed_actions, decision.refused
        )
    return decision


def derive_state(current: State, work_order_states: Iterable[State]) -> State:
    """The state a production order must be in, given its work orders.

    - CANCELED, DELETED and COMPLETED orders stay as they are (only actions move them).
    - COMPLETED as soon as all its work orders are final and at least one is COMPLETED.
    - IN_PROCESS once any work order has started; it stays so until completed or canceled.
    - SCHEDULED when every live work order (not CANCELED or DELETED) is SCHEDULED.
    - DRAFT otherwise.
    """
    if current in CLOSED_ORDER_STATES:
        return current
    states = [s for s in work_order_states if s is not State.DELETED]
    if states and all(s in FINAL_WORK_STATES for s in states) and State.COMPLETED in states:
        return State.COMPLETED
    if current is State.IN_PROCESS or any(s in (State.IN_PROCESS, State.COMPLETED) for s in states):
        return State.IN_PROCESS
    live = [s for s in states if s is not State.CANCELED]
    if live and all(s is State.SCHEDULED for s in live):
        return State.SCHEDULED
    return State.DRAFT


def agrees(state: State, work_order_states: Iterable[State]) -> bool:
    """The invariant: a production order's state agrees with its work orders."""
    states = tuple(work_order_states)
    if state is State.DELETED:
        return all(s is State.DELETED for s in states)
    if state is State.CANCELED:
        return not any(s in OPEN_STATES for s in states)
    if state is State.COMPLETED:
        kept = [s for s in states if s is not State.DELETED]
        return all(s in FINAL_WORK_STATES for s in kept) and State.COMPLETED in kept
    return derive_state(state, states) is state


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
