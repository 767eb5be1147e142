"""The work order lifecycle as pure rules: the table of ../shared/domain.md, checked against
`taktline.orders.lifecycle` without a database or the web."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taktline.orders.lifecycle import (
    BOOKED_STATES,
    WORK_ORDER_ACTIONS,
    WORK_ORDER_TRANSITIONS,
    LineItemStatus,
    LineItemView,
    State,
    WorkOrderView,
    allowed_actions,
    decide,
    line_item_after_report,
    schedule_problems,
)

T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)

# The domain table, written out independently of the code: action -> (sources, target).
# None as the target: the action keeps the state (an edit, a hold, a report, a skip).
DOMAIN: dict[str, tuple[frozenset[State], State | None]] = {
    "update": (frozenset({State.DRAFT}), None),
    "schedule": (frozenset({State.DRAFT}), State.SCHEDULED),
    "unschedule": (frozenset({State.SCHEDULED}), State.DRAFT),
    "start": (frozenset({State.SCHEDULED}), State.IN_PROCESS),
    "pause": (frozenset({State.IN_PROCESS}), None),
    "resume": (frozenset({State.IN_PROCESS}), None),
    "report": (frozenset({State.IN_PROCESS}), None),
    "skip": (frozenset({State.IN_PROCESS}), None),
    "complete": (frozenset({State.IN_PROCESS}), State.COMPLETED),
    "cancel": (frozenset({State.DRAFT, State.SCHEDULED, State.IN_PROCESS}), State.CANCELED),
    "delete": (frozenset({State.DRAFT, State.CANCELED}), State.DELETED),
}
CELLS = [(state, action) for state in State for action in DOMAIN]


def line_item(
    sequence: int = 1,
    status: LineItemStatus = LineItemStatus.PENDING,
    *,
    operation: str = "Bottling",
    has_resource: bool = True,
    start: datetime | None = T0,
    end: datetime | None = T0 + timedelta(hours=1),
) -> LineItemView:
    return LineItemView(sequence, operation, status, has_resource, start, end)


def view(
    state: State,
    *,
    on_hold: bool = False,
    line_items: tuple[LineItemView, ...] | None = None,
    production_order_state: State | None = None,
) -> WorkOrderView:
    if line_items is None:
        line_items = (line_item(1), line_item(2, operation="Labeling"))
    return WorkOrderView(state, on_hold, line_items, production_order_state)


def ready_view(state: State, action: str) -> WorkOrderView:
    """A work order in `state` that meets every guard of `action` (a hold to resume from,
    finished line items to complete)."""
    if action == "resume":
        return view(state, on_hold=True)
    if action == "complete":
        return view(
            state,
            line_items=(
                line_item(1, LineItemStatus.DONE),
                line_item(2, LineItemStatus.SKIPPED, operation="Labeling"),
            ),
        )
    return view(state)


# --- the table ---------------------------------------------------------------------------


def test_the_six_states_have_exactly_the_domain_names() -> None:
    assert [s.value for s in State] == [
        "DRAFT",
        "SCHEDULED",
        "IN_PROCESS",
        "COMPLETED",
        "CANCELED",
        "DELETED",
    ]


def test_the_line_item_statuses_have_exactly_the_domain_names() -> None:
    assert [s.value for s in LineItemStatus] == ["PENDING", "IN_PROCESS", "DONE", "SKIPPED"]


def test_the_transition_table_is_the_domain_table() -> None:
    table = {t.action: (t.sources, t.target) for t in WORK_ORDER_TRANSITIONS}
    assert table == DOMAIN
    assert tuple(DOMAIN) == WORK_ORDER_ACTIONS


FINAL_STATES = frozenset({State.COMPLETED, State.DELETED})


def test_completed_and_deleted_are_the_final_states() -> None:
    no_way_out = {s for s in State if not any(s in t.sources for t in WORK_ORDER_TRANSITIONS)}
    assert frozenset({State.COMPLETED, State.DELETED}) == no_way_out == FINAL_STATES


def test_only_scheduled_and_in_process_work_orders_hold_bookings() -> None:
    assert frozenset({State.SCHEDULED, State.IN_PROCESS}) == BOOKED_STATES


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_no_action_leads_out_of_a_final_state(state: State) -> None:
    assert not [t.action for t in WORK_ORDER_TRANSITIONS if state in t.sources]
    for action in WORK_ORDER_ACTIONS:
        assert decide(ready_view(state, action), action).refused is not None


def test_every_state_change_goes_to_another_state() -> None:
    for t in WORK_ORDER_TRANSITIONS:
        if t.target is not None:
            assert t.target not in t.sources, t.action


# --- decide: every cell ------------------------------------------------------------------


@pytest.mark.parametrize(("state", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_decide_allows_exactly_the_domain_cells_and_moves_to_the_target(
    state: State, action: str
) -> None:
    sources, target = DOMAIN[action]
    decision = decide(ready_view(state, action), action)
    assert decision.action == action
    assert decision.from_state is state
    if state in sources:
        assert decision.refused is None, decision.refused
        assert decision.to_state is (target or state)
    else:
        assert decision.refused is not None
        assert decision.refused is not None
        # The reason says where the action is allowed from.
        for source in sources:
            assert source.value in decision.refused
        assert action in decision.refused


@pytest.mark.parametrize(("state", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_a_refusal_lists_the_actions_allowed_now(state: State, action: str) -> None:
    wo = ready_view(state, action)
    decision = decide(wo, action)
    assert decision.allowed_actions == allowed_actions(wo)
    assert set(decision.allowed_actions) <= {a for a in DOMAIN if state in DOMAIN[a][0]}


def test_allowed_actions_of_a_fresh_work_order_in_each_state() -> None:
    assert allowed_actions(view(State.DRAFT)) == ("update", "schedule", "cancel", "delete")
    assert allowed_actions(view(State.SCHEDULED)) == ("unschedule", "start", "cancel")
    # Pending line items: it cannot be completed yet, and nothing is on hold to resume.
    assert allowed_actions(view(State.IN_PROCESS)) == ("pause", "report", "skip", "cancel")
    assert allowed_actions(view(State.COMPLETED)) == ()
    assert allowed_actions(view(State.CANCELED)) == ("delete",)
    assert allowed_actions(view(State.DELETED)) == ()


@given(
    state=st.sampled_from(State),
    on_hold=st.booleans(),
    statuses=st.lists(st.sampled_from(LineItemStatus), max_size=4),
    po_state=st.none() | st.sampled_from(State),
)
def test_allowed_actions_are_exactly_the_actions_decide_accepts(
    state: State, on_hold: bool, statuses: list[LineItemStatus], po_state: State | None
) -> None:
    wo = view(
        state,
        on_hold=on_hold,
        line_items=tuple(line_item(i, s) for i, s in enumerate(statuses, start=1)),
        production_order_state=po_state,
    )
    assert allowed_actions(wo) == tuple(
        a for a in WORK_ORDER_ACTIONS if decide(wo, a).refused is None
    )


# --- schedule ------------------------------------------------------------------------------


def test_schedule_is_refused_without_line_items() -> None:
    decision = decide(view(State.DRAFT, line_items=()), "schedule")
    assert decision.refused == "it has no line items"


@pytest.mark.parametrize("po_state", [State.CANCELED, State.COMPLETED, State.DELETED])
def test_schedule_is_refused_when_the_production_order_is_closed(po_state: State) -> None:
    decision = decide(view(State.DRAFT, production_order_state=po_state), "schedule")
    assert decision.refused is not None
    assert po_state.value in (decision.refused or "")
    assert "schedule" not in decision.allowed_actions


@pytest.mark.parametrize("po_state", [None, State.DRAFT, State.SCHEDULED, State.IN_PROCESS])
def test_schedule_is_allowed_alone_or_in_an_open_production_order(po_state: State | None) -> None:
    assert decide(view(State.DRAFT, production_order_state=po_state), "schedule").refused is None


def test_schedule_problems_names_each_line_item_without_a_resource_or_window() -> None:
    problems = schedule_problems(
        [
            line_item(1, operation="Bottling", has_resource=False),
            line_item(2, operation="Labeling", start=None, end=None),
            line_item(3, operation="Casing", start=T0, end=T0),
            line_item(4, operation="Palletizing", start=T0 + timedelta(hours=1), end=T0),
            line_item(5, operation="Fine"),
        ]
    )
    assert problems == [
        "line item 1 (Bottling) has no resource",
        "line item 2 (Labeling) has no planned window",
        "line item 3 (Casing) has a window that ends before it starts",
        "line item 4 (Palletizing) has a window that ends before it starts",
    ]


def test_schedule_problems_is_empty_when_every_line_item_has_a_resource_and_window() -> None:
    assert schedule_problems([line_item(1), line_item(2)]) == []


# --- the hold ------------------------------------------------------------------------------


def test_pause_is_refused_while_already_on_hold() -> None:
    decision = decide(view(State.IN_PROCESS, on_hold=True), "pause")
    assert decision.refused == "it is on hold; resume it first"


def test_resume_is_refused_when_not_on_hold() -> None:
    assert decide(view(State.IN_PROCESS, on_hold=False), "resume").refused == "it is not on hold"


@pytest.mark.parametrize("action", ["report", "skip", "complete"])
def test_work_stops_while_on_hold(action: str) -> None:
    on_hold = replace(ready_view(State.IN_PROCESS, action), on_hold=True)
    assert decide(on_hold, action).refused == "it is on hold; resume it first"


def test_pause_and_resume_keep_the_state() -> None:
    assert decide(view(State.IN_PROCESS), "pause").to_state is State.IN_PROCESS
    assert decide(view(State.IN_PROCESS, on_hold=True), "resume").to_state is State.IN_PROCESS


def test_on_hold_only_resume_and_cancel_are_allowed() -> None:
    assert allowed_actions(view(State.IN_PROCESS, on_hold=True)) == ("resume", "cancel")


# --- complete ------------------------------------------------------------------------------


@pytest.mark.parametrize("unfinished", [LineItemStatus.PENDING, LineItemStatus.IN_PROCESS])
def test_complete_is_refused_while_a_line_item_is_unfinished_and_names_it(
    unfinished: LineItemStatus,
) -> None:
    wo = view(
        State.IN_PROCESS,
        line_items=(
            line_item(1, LineItemStatus.DONE, operation="Bottling"),
            line_item(2, unfinished, operation="Labeling"),
            line_item(3, LineItemStatus.SKIPPED, operation="Casing"),
        ),
    )
    decision = decide(wo, "complete")
    assert decision.refused is not None
    assert f"2 (Labeling) is {unfinished}" in (decision.refused or "")
    assert "Bottling" not in (decision.refused or "")
    assert "Casing" not in (decision.refused or "")


@given(st.lists(st.sampled_from(LineItemStatus), min_size=1, max_size=6))
def test_complete_is_allowed_exactly_when_every_line_item_is_done_or_skipped(
    statuses: list[LineItemStatus],
) -> None:
    wo = view(
        State.IN_PROCESS,
        line_items=tuple(line_item(i, s) for i, s in enumerate(statuses, start=1)),
    )
    finished = all(s in (LineItemStatus.DONE, LineItemStatus.SKIPPED) for s in statuses)
    assert (decide(wo, "complete").refused is None) is finished


# --- line items ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [LineItemStatus.PENDING, LineItemStatus.IN_PROCESS])
def test_a_report_starts_a_line_item_and_done_finishes_it(status: LineItemStatus) -> None:
    assert line_item_after_report(status, done=False) is LineItemStatus.IN_PROCESS
    assert line_item_after_report(status, done=True) is LineItemStatus.DONE


@pytest.mark.parametrize("status", [LineItemStatus.DONE, LineItemStatus.SKIPPED])
@pytest.mark.parametrize("done", [False, True])
def test_a_finished_line_item_takes_no_more_reports(status: LineItemStatus, done: bool) -> None:
    with pytest.raises(ValueError, match=f"already {status}"):
        line_item_after_report(status, done)
