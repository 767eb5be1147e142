"""The production order lifecycle as pure rules: its own few actions, and the state it takes
from its work orders (`derive_state`) and must keep in agreement with them (`agrees`)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taktline.orders.lifecycle import (
    ACCEPTS_WORK_ORDERS,
    PRODUCTION_ORDER_ACTIONS,
    PRODUCTION_ORDER_TRANSITIONS,
    WORK_ORDER_TRANSITIONS,
    ProductionOrderView,
    State,
    agrees,
    allowed_actions,
    decide,
    derive_state,
    may_move_order,
)

D, S, P, C, X, DEL = (
    State.DRAFT,
    State.SCHEDULED,
    State.IN_PROCESS,
    State.COMPLETED,
    State.CANCELED,
    State.DELETED,
)
OPEN = (D, S, P)

DOMAIN: dict[str, tuple[frozenset[State], State | None]] = {
    "update": (frozenset({D}), None),
    "schedule": (frozenset({D}), S),
    "cancel": (frozenset({D, S, P}), X),
    "delete": (frozenset({D, X}), DEL),
}
CELLS = [(state, action) for state in State for action in DOMAIN]

# Work orders that let each action pass its guard, for a production order in each state.
READY: dict[str, tuple[State, ...]] = {
    "update": (D,),
    "schedule": (D, D),
    "cancel": (S, D),
    "delete": (X, DEL),
}

work_order_states = st.lists(st.sampled_from(State), max_size=6)


# --- the table ---------------------------------------------------------------------------


def test_the_action_table_is_the_domain_table() -> None:
    assert {t.action: (t.sources, t.target) for t in PRODUCTION_ORDER_TRANSITIONS} == DOMAIN
    assert tuple(DOMAIN) == PRODUCTION_ORDER_ACTIONS
    for action, (sources, target) in DOMAIN.items():
        for source in sources:
            decision = decide(ProductionOrderView(source, READY[action]), action)
            assert decision.to_state is (target or source)


def test_work_orders_may_be_added_only_while_the_order_is_open() -> None:
    assert frozenset(OPEN) == ACCEPTS_WORK_ORDERS


@pytest.mark.parametrize(("state", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_refusal_allows_exactly_the_domain_cells(state: State, action: str) -> None:
    sources, _ = DOMAIN[action]
    why = decide(ProductionOrderView(state, READY[action]), action).refused
    if state in sources:
        assert why is None
    else:
        assert why is not None
        assert action in why
        for source in sources:
            assert source.value in why


@pytest.mark.parametrize("state", [C, DEL])
def test_nothing_is_allowed_on_a_completed_or_deleted_order(state: State) -> None:
    for wos in [(), (C,), (D, X), (DEL,)]:
        assert allowed_actions(ProductionOrderView(state, wos)) == ()


@given(state=st.sampled_from(State), wos=work_order_states)
def test_allowed_actions_are_exactly_those_without_a_refusal(
    state: State, wos: list[State]
) -> None:
    po = ProductionOrderView(state, tuple(wos))
    assert allowed_actions(po) == tuple(
        a for a in PRODUCTION_ORDER_ACTIONS if decide(po, a).refused is None
    )


# --- guards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wos", [(), (X,), (S, X), (DEL,)])
def test_schedule_needs_a_draft_work_order(wos: tuple[State, ...]) -> None:
    assert decide(ProductionOrderView(D, wos), "schedule").refused == (
        "it has no DRAFT work orders to schedule"
    )


def test_schedule_is_allowed_with_a_draft_work_order_among_others() -> None:
    assert decide(ProductionOrderView(D, (S, D, X)), "schedule").refused is None


@pytest.mark.parametrize("booked", [S, P])
def test_delete_is_refused_while_work_is_booked(booked: State) -> None:
    why = decide(ProductionOrderView(D, (D, booked)), "delete").refused
    assert why is not None
    assert "scheduled or in process" in why


def test_delete_is_refused_when_completed_work_would_be_lost() -> None:
    why = decide(ProductionOrderView(X, (C, X)), "delete").refused
    assert why is not None
    assert "COMPLETED" in why


@pytest.mark.parametrize("wos", [(), (D,), (D, X, DEL)])
def test_a_draft_order_with_unbooked_work_may_be_deleted(wos: tuple[State, ...]) -> None:
    assert decide(ProductionOrderView(D, wos), "delete").refused is None


def test_a_canceled_order_may_be_deleted() -> None:
    assert decide(ProductionOrderView(X, (X, X)), "delete").refused is None


# --- derive_state: the order moves with its work orders ------------------------------------


def test_an_order_without_work_orders_is_draft() -> None:
    assert derive_state(D, []) is D


def test_an_order_is_draft_while_any_live_work_order_is_draft() -> None:
    assert derive_state(D, [D]) is D
    assert derive_state(D, [S, D]) is D
    # A draft work order added to a scheduled order takes it back to DRAFT.
    assert derive_state(S, [S, D]) is D


def test_an_order_is_scheduled_when_every_live_work_order_is_scheduled() -> None:
    assert derive_state(D, [S]) is S
    assert derive_state(D, [S, S]) is S
    # Canceled and deleted work orders are not live: they do not hold the order back.
    assert derive_state(D, [S, X, DEL]) is S


def test_an_order_goes_back_to_draft_when_a_work_order_is_unscheduled() -> None:
    assert derive_state(S, [S, D]) is D


def test_an_order_is_in_process_as_soon_as_any_work_order_starts() -> None:
    assert derive_state(D, [P, D]) is P
    assert derive_state(S, [P, S]) is P
    assert derive_state(D, [P, X]) is P


def test_an_order_in_process_stays_in_process_until_it_completes_or_is_canceled() -> None:
    # Its started work order was canceled and the rest is still to do.
    assert derive_state(P, [X, D]) is P
    assert derive_state(P, [X, S]) is P


def test_an_order_with_some_completed_and_some_open_work_is_in_process() -> None:
    assert derive_state(S, [C, S]) is P
    assert derive_state(P, [C, D]) is P


def test_an_order_is_completed_when_all_work_is_final_and_some_completed() -> None:
    assert derive_state(P, [C]) is C
    assert derive_state(P, [C, C]) is C
    assert derive_state(P, [C, DEL]) is C
    # Canceled work is done with, too: the order does not wait for it to be deleted.
    assert derive_state(P, [C, X]) is C


def test_an_order_whose_work_was_all_canceled_is_not_completed() -> None:
    assert derive_state(D, [X]) is not C
    assert derive_state(P, [X, X]) is not C
    assert derive_state(D, [X, DEL]) is not C


@pytest.mark.parametrize("state", [C, X, DEL])
@pytest.mark.parametrize("wos", [[], [D], [S, P], [C], [X], [DEL]])
def test_completed_canceled_and_deleted_orders_are_moved_only_by_actions(
    state: State, wos: list[State]
) -> None:
    assert derive_state(state, wos) is state


@given(current=st.sampled_from(OPEN), wos=work_order_states)
def test_derive_state_never_leaves_an_open_order_canceled_or_deleted(
    current: State, wos: list[State]
) -> None:
    assert derive_state(current, wos) in (D, S, P, C)


@given(current=st.sampled_from(State), wos=work_order_states)
def test_derive_state_is_stable(current: State, wos: list[State]) -> None:
    once = derive_state(current, wos)
    assert derive_state(once, wos) is once


@given(current=st.sampled_from(OPEN), wos=work_order_states)
def test_deleted_work_orders_do_not_count(current: State, wos: list[State]) -> None:
    assert derive_state(current, [*wos, DEL]) is derive_state(current, wos)


# --- agrees: the invariant --------------------------------------------------------------------


@given(current=st.sampled_from(OPEN), wos=work_order_states)
def test_the_derived_state_always_agrees(current: State, wos: list[State]) -> None:
    assert agrees(derive_state(current, wos), wos)


def test_a_deleted_order_agrees_only_with_deleted_work() -> None:
    assert agrees(DEL, [])
    assert agrees(DEL, [DEL, DEL])
    assert not agrees(DEL, [DEL, X])
    assert not agrees(DEL, [C])


def test_a_canceled_order_agrees_with_no_open_work() -> None:
    assert agrees(X, [X, C, DEL])
    assert agrees(X, [])
    for open_state in OPEN:
        assert not agrees(X, [X, open_state])


def test_a_completed_order_agrees_only_with_final_work_some_of_it_completed() -> None:
    assert agrees(C, [C])
    assert agrees(C, [C, X, DEL])
    assert not agrees(C, [X])
    assert not agrees(C, [])
    for open_state in OPEN:
        assert not agrees(C, [C, open_state])


def test_a_scheduled_order_does_not_agree_with_draft_or_started_work() -> None:
    assert agrees(S, [S, S])
    assert not agrees(S, [S, D])
    assert not agrees(S, [P])
    assert not agrees(S, [])


def test_a_draft_order_does_not_agree_with_started_or_fully_scheduled_work() -> None:
    assert agrees(D, [D, S])
    assert agrees(D, [])
    assert not agrees(D, [P])
    assert not agrees(D, [S])


def test_an_in_process_order_does_not_agree_with_finished_work() -> None:
    assert agrees(P, [P, D])
    assert agrees(P, [X, D])
    assert not agrees(P, [C])
    assert not agrees(P, [C, X])


# --- may_move_order: which work order actions need the order's lock ------------------------


def test_an_action_said_not_to_move_the_order_never_moves_it() -> None:
    """Whenever `may_move_order` says no, taking the action (from any state it is taken
    from, beside up to three other work orders in any states) leaves an order that agrees
    with its work orders as it was: the use case may then leave the order unlocked."""
    checked = 0
    for transition in WORK_ORDER_TRANSITIONS:
        for mine, order in itertools.product(transition.sources, State):
            if may_move_order(transition.action, order):
                continue
            for n in range(4):
                for others in itertools.combinations_with_replacement(State, n):
                    if not agrees(order, [mine, *others]):
                        continue
                    after = [transition.target or mine, *others]
                    assert derive_state(order, after) is order, (transition, mine, others)
                    checked += 1
    assert checked > 500  # (the rule is not vacuous)


def test_the_floor_needs_the_orders_lock_only_to_start_it_and_to_complete() -> None:
    for action in ("report", "skip", "pause", "resume"):
        assert not any(may_move_order(action, order) for order in (None, *State))
    assert may_move_order("start", S)
    assert may_move_order("start", D)
    assert not may_move_order("start", P)
    assert may_move_order("complete", P)
