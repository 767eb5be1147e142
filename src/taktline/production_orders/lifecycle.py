"""The production order lifecycle: the same six states, moved by its work orders.

A production order's own actions are few (schedule, cancel, delete, update); otherwise its
state follows from its work orders through `derive_state`, which the services call in the
same transaction as every work order change, so the order is never stale.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from taktline.work_orders.lifecycle import State, only_from

_WORK_DONE = frozenset({State.COMPLETED, State.CANCELED, State.DELETED})
_OPEN = frozenset({State.DRAFT, State.SCHEDULED, State.IN_PROCESS})


@dataclass(frozen=True)
class ProductionOrderView:
    state: State
    work_order_states: tuple[State, ...]


Guard = Callable[[ProductionOrderView], str | None]


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State | None
    guard: Guard | None = None


def _has_draft_work(po: ProductionOrderView) -> str | None:
    if State.DRAFT not in po.work_order_states:
        return "it has no DRAFT work orders to schedule"
    return None


def _nothing_booked_or_completed(po: ProductionOrderView) -> str | None:
    if any(s in (State.SCHEDULED, State.IN_PROCESS) for s in po.work_order_states):
        return "some of its work orders are scheduled or in process; cancel it first"
    if State.COMPLETED in po.work_order_states:
        return "some of its work orders are COMPLETED, and completed work is kept"
    return None


TRANSITIONS: tuple[Transition, ...] = (
    Transition("update", frozenset({State.DRAFT}), None),
    Transition("schedule", frozenset({State.DRAFT}), State.SCHEDULED, _has_draft_work),
    Transition("cancel", _OPEN, State.CANCELED),
    Transition(
        "delete",
        frozenset({State.DRAFT, State.CANCELED}),
        State.DELETED,
        _nothing_booked_or_completed,
    ),
)
ACTIONS: tuple[str, ...] = tuple(t.action for t in TRANSITIONS)
_BY_ACTION = {t.action: t for t in TRANSITIONS}
# Work orders may be added while the order is still open.
ACCEPTS_WORK_ORDERS = _OPEN


def allowed_actions(po: ProductionOrderView) -> tuple[str, ...]:
    return tuple(
        t.action
        for t in TRANSITIONS
        if po.state in t.sources and (t.guard is None or t.guard(po) is None)
    )


def target_state(action: str) -> State | None:
    return _BY_ACTION[action].target


def refusal(po: ProductionOrderView, action: str) -> str | None:
    """Why `action` may not be taken now, or None."""
    transition = _BY_ACTION[action]
    if po.state not in transition.sources:
        return only_from(action, transition.sources)
    return transition.guard(po) if transition.guard else None


def derive_state(current: State, work_order_states: Iterable[State]) -> State:
    """The state a production order must be in, given its work orders.

    - CANCELED, DELETED and COMPLETED orders stay as they are (only actions move them).
    - COMPLETED as soon as all its work orders are final and at least one is COMPLETED.
    - IN_PROCESS once any work order has started; it stays so until completed or canceled.
    - SCHEDULED when every live work order (not CANCELED or DELETED) is SCHEDULED.
    - DRAFT otherwise.
    """
    if current in (State.CANCELED, State.DELETED, State.COMPLETED):
        return current
    states = [s for s in work_order_states if s is not State.DELETED]
    if states and all(s in _WORK_DONE for s in states) and State.COMPLETED in states:
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
        return not any(s in _OPEN for s in states)
    if state is State.COMPLETED:
        kept = [s for s in states if s is not State.DELETED]
        return all(s in _WORK_DONE for s in kept) and State.COMPLETED in kept
    return derive_state(state, states) is state
