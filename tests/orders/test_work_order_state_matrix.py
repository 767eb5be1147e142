"""The full matrix of the work order lifecycle over the HTTP API, on SQLite and PostgreSQL.

Every action is tried from every state (each cell its own test): the allowed ones succeed
with their effects (state, actual times, bookings, events, the production order moving with
its work order); the others answer 409 problem+json naming the state and the actions allowed
from it, and change nothing. Then the rules within a state: the hold, line item reports,
complete, skip, booking conflicts, laying out from a start, If-Match and ETags.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import (
    API,
    STATES,
    WORK_ORDER_ACTIONS,
    Json,
    World,
    at,
    booked_windows,
    drive_work_order,
    expect,
    expect_object,
    finish_line_items,
    iso,
    make_production_order,
    make_work_order,
    make_world,
    parse,
    work_order_body,
)
from tests.helpers import Tenant, assert_problem, list_all

# --- the domain table, written out for the tests ---------------------------------------------

SOURCES: dict[str, tuple[str, ...]] = {
    "update": ("DRAFT",),
    "schedule": ("DRAFT",),
    "unschedule": ("SCHEDULED",),
    "start": ("SCHEDULED",),
    "pause": ("IN_PROCESS",),
    "resume": ("IN_PROCESS",),
    "report": ("IN_PROCESS",),
    "skip": ("IN_PROCESS",),
    "complete": ("IN_PROCESS",),
    "cancel": ("DRAFT", "SCHEDULED", "IN_PROCESS"),
    "delete": ("DRAFT", "CANCELED"),
}
TARGET: dict[str, str | None] = {
    "update": None,
    "schedule": "SCHEDULED",
    "unschedule": "DRAFT",
    "start": "IN_PROCESS",
    "pause": None,
    "resume": None,
    "report": None,
    "skip": None,
    "complete": "COMPLETED",
    "cancel": "CANCELED",
    "delete": "DELETED",
}
# What the API offers for a work order as `work_order_in_state` builds it (line items still
# PENDING, not on hold).
ALLOWED_IN: dict[str, list[str]] = {
    "DRAFT": ["update", "schedule", "cancel", "delete"],
    "SCHEDULED": ["unschedule", "start", "cancel"],
    "IN_PROCESS": ["pause", "report", "skip", "cancel"],
    "COMPLETED": [],
    "CANCELED": ["delete"],
    "DELETED": [],
}
BOOKED = ("SCHEDULED", "IN_PROCESS")
# The state of a production order whose only work order was moved by (state, action): it
# moves with its work order (domain.md). An order whose work was all canceled before it
# started has nothing scheduled (DRAFT); once started, it stays IN_PROCESS until it is
# completed or canceled itself.
ORDER_AFTER: dict[tuple[str, str], str] = {
    ("DRAFT", "update"): "DRAFT",
    ("DRAFT", "schedule"): "SCHEDULED",
    ("DRAFT", "cancel"): "DRAFT",
    ("DRAFT", "delete"): "DRAFT",
    ("SCHEDULED", "unschedule"): "DRAFT",
    ("SCHEDULED", "start"): "IN_PROCESS",
    ("SCHEDULED", "cancel"): "DRAFT",
    ("IN_PROCESS", "pause"): "IN_PROCESS",
    ("IN_PROCESS", "resume"): "IN_PROCESS",
    ("IN_PROCESS", "report"): "IN_PROCESS",
    ("IN_PROCESS", "skip"): "IN_PROCESS",
    ("IN_PROCESS", "complete"): "COMPLETED",
    ("IN_PROCESS", "cancel"): "IN_PROCESS",
    ("CANCELED", "delete"): "DRAFT",
}
ORDER_IN: dict[str, str] = {
    "DRAFT": "DRAFT",
    "SCHEDULED": "SCHEDULED",
    "IN_PROCESS": "IN_PROCESS",
    "COMPLETED": "COMPLETED",
    "CANCELED": "DRAFT",
    "DELETED": "DRAFT",
}
CELLS = [(state, action) for state in STATES for action in WORK_ORDER_ACTIONS]
ALLOWED_CELLS = {(s, a) for a, sources in SOURCES.items() for s in sources}
assert set(ORDER_AFTER) == ALLOWED_CELLS


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def world(app: FastAPI, client: TestClient, tenant: Tenant) -> World:
    return make_world(app, client, tenant)


def windows_of(wo: Json) -> list[tuple[datetime, datetime]]:
    return [(parse(li["planned_start"]), parse(li["planned_end"])) for li in wo["line_items"]]


def prepare(w: World, wo: Json, state: str, action: str) -> Json:
    """Meets the guard of an action allowed from `state`: a hold to resume from, finished
    line items to complete."""
    if state == "IN_PROCESS" and action == "resume":
        return w.ok(wo, "pause")
    if state == "IN_PROCESS" and action == "complete":
        return finish_line_items(w.client, w.tenant, wo)
    return wo


def assert_refused(response: Any, state: str, action: str, allowed: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = assert_problem(response, 409, "invalid-transition")
    assert body["current_state"] == state
    assert body["allowed_actions"] == allowed
    assert body["action"] == action
    assert state in body["detail"]
    assert action in body["detail"]
    return body


# --- the matrix ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_every_action_from_every_state(world: World, state: str, action: str) -> None:
    w = world
    wo = w.in_state(state)
    assert wo["state"] == state
    po_id = wo["production_order_id"]
    assert w.order(po_id)["state"] == ORDER_IN[state]
    wo = prepare(w, wo, state, action)

    before = w.get(wo["id"])
    order_before = w.order(po_id)
    counts_before = w.counts()
    events_before = w.events(wo["id"])
    bookings_before = w.bookings(wo["id"])
    assert bookings_before == (booked_windows(before) if state in BOOKED else [])

    t_before = datetime.now(UTC) - timedelta(seconds=1)
    response = w.act(before, action)
    t_after = datetime.now(UTC) + timedelta(seconds=1)

    if (state, action) not in ALLOWED_CELLS:
        assert_refused(response, state, action, before["allowed_actions"])
        assert before["allowed_actions"] == ALLOWED_IN[state]
        assert w.counts() == counts_before
        assert w.get(wo["id"]) == before
        assert w.order(po_id) == order_before
        assert w.events(wo["id"]) == events_before
        assert w.bookings(wo["id"]) == bookings_before
        return

    after = expect(response)
    target = TARGET[action] or state
    assert after["state"] == target
    assert after["version"] > before["version"]
    assert response.headers["ETag"] == f'"{after["version"]}"'
    assert w.get(wo["id"]) == after

    # The event: who, which action, from which state to which, and why.
    new_events = w.events(wo["id"])[len(events_before) :]
    assert [e["action"] for e in new_events] == [action]
    (event,) = new_events
    assert event["actor_email"] == w.tenant.user("planner").email
    if action != "update":
        assert (event["from_state"], event["to_state"]) == (state, target)
    if action in ("pause", "cancel", "skip"):
        assert event["reason"] == f"{action} in a test"

    # The production order moved with it, in the same request, with an event saying so.
    order_after = w.order(po_id)
    assert order_after["state"] == ORDER_AFTER[(state, action)]
    if order_after["state"] != order_before["state"]:
        order_events = [e for e in w.order_events(po_id) if e["entity_id"] == po_id]
        last = order_events[-1]
        assert (last["from_state"], last["to_state"]) == (
            order_before["state"],
            order_after["state"],
        )

    # Bookings are held exactly while SCHEDULED or IN_PROCESS.
    bookings = w.bookings(wo["id"])
    if target in BOOKED:
        assert bookings == booked_windows(after)
        assert len(bookings) == len(after["line_items"])
    else:
        assert bookings == []

    _check_effect(w, state, action, before, after, t_before, t_after)


def _check_effect(
    w: World,
    state: str,
    action: str,
    before: Json,
    after: Json,
    t_before: datetime,
    t_after: datetime,
) -> None:
    lines_before, lines_after = before["line_items"], after["line_items"]
    if action == "update":
        assert (after["priority"], after["instructions"]) == (77, "Handle with care")
    elif action == "schedule":
        assert after["planned_start"] == lines_after[0]["planned_start"]
        assert after["planned_end"] == lines_after[-1]["planned_end"]
        assert [li["planned_start"] for li in lines_after] == [
            li["planned_start"] for li in lines_before
        ]
    elif action == "start":
        assert after["actual_start"] is not None
        assert t_before <= parse(after["actual_start"]) <= t_after
        assert after["actual_end"] is None
    elif action == "pause":
        assert after["on_hold"] is True
        assert after["hold_reason"] == "pause in a test"
        assert after["allowed_actions"] == ["resume", "cancel"]
    elif action == "resume":
        assert after["on_hold"] is False
        assert after["hold_reason"] is None
        assert after["allowed_actions"] == ALLOWED_IN["IN_PROCESS"]
    elif action == "report":
        first = lines_after[0]
        assert first["status"] == "IN_PROCESS"
        assert Decimal(first["quantity_completed"]) == 10
        assert first["actual_start"] is not None
        assert lines_after[1] == lines_before[1]
    elif action == "skip":
        assert lines_after[0]["status"] == "SKIPPED"
        assert lines_after[1]["status"] == "PENDING"
    elif action == "complete":
        assert after["actual_end"] is not None
        assert t_before <= parse(after["actual_end"]) <= t_after
        assert after["actual_start"] == before["actual_start"]
        assert Decimal(after["quantity_produced"]) == Decimal(after["quantity"])
    elif action == "cancel":
        assert after["on_hold"] is False
        assert after["allowed_actions"] == ["delete"]
    elif action == "delete":
        assert after["allowed_actions"] == []
        listed = [wo["id"] for wo in list_all(w.client, w.tenant, "/work-orders")]
        assert after["id"] not in listed
        deleted = list_all(w.client, w.tenant, "/work-orders", state="DELETED")
        assert after["id"] in [wo["id"] for wo in deleted]
    elif action == "unschedule":
        assert after["actual_start"] is None
    else:  # pragma: no cover - every action is listed above
        raise AssertionError(action)


# --- the hold ----------------------------------------------------------------------------------


def test_pause_twice_is_refused_and_changes_nothing(world: World) -> None:
    w = world
    wo = w.ok(w.in_state("IN_PROCESS"), "pause")
    counts = w.counts()
    body = assert_refused(w.act(wo, "pause"), "IN_PROCESS", "pause", ["resume", "cancel"])
    assert "on hold" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


def test_resume_when_not_on_hold_is_refused_and_changes_nothing(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    counts = w.counts()
    body = assert_refused(w.act(wo, "resume"), "IN_PROCESS", "resume", ALLOWED_IN["IN_PROCESS"])
    assert "not on hold" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


@pytest.mark.parametrize("action", ["report", "skip", "complete"])
def test_work_is_refused_while_on_hold(world: World, action: str) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    if action == "complete":
        wo = finish_line_items(w.client, w.tenant, wo)
    wo = w.ok(wo, "pause")
    counts = w.counts()
    body = assert_refused(w.act(wo, action), "IN_PROCESS", action, ["resume", "cancel"])
    assert "on hold" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts
    # Once resumed, the same action goes through.
    wo = w.ok(wo, "resume")
    expect(w.act(wo, action))


def test_pause_and_resume_are_recorded_as_events_with_the_reason(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    wo = w.ok(wo, "pause", {"reason": "Label stock ran out"})
    wo = w.ok(wo, "resume")
    pause, resume = w.events(wo["id"])[-2:]
    assert (pause["action"], pause["from_state"], pause["to_state"]) == (
        "pause",
        "IN_PROCESS",
        "IN_PROCESS",
    )
    assert pause["reason"] == "Label stock ran out"
    assert (resume["action"], resume["from_state"], resume["to_state"]) == (
        "resume",
        "IN_PROCESS",
        "IN_PROCESS",
    )


def test_cancel_while_on_hold_lifts_the_hold(world: World) -> None:
    w = world
    wo = w.ok(w.in_state("IN_PROCESS"), "pause")
    wo = w.ok(wo, "cancel")
    assert (wo["state"], wo["on_hold"], wo["hold_reason"]) == ("CANCELED", False, None)
    assert w.bookings(wo["id"]) == []


# --- line items: reports, skip, complete ------------------------------------------------------


def test_complete_is_refused_while_a_line_item_is_pending_and_names_it(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    wo = w.ok(wo, "report", {"quantity_completed": "100", "done": True}, line_item=0)
    counts = w.counts()
    body = assert_refused(w.act(wo, "complete"), "IN_PROCESS", "complete", ALLOWED_IN["IN_PROCESS"])
    assert "2 (Labeling) is PENDING" in body["detail"]
    assert "Bottling" not in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


def test_complete_is_refused_while_a_line_item_is_in_process(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    wo = w.ok(wo, "report", {"quantity_completed": "100", "done": True}, line_item=0)
    wo = w.ok(wo, "report", {"quantity_completed": "40"}, line_item=1)
    body = assert_problem(w.act(wo, "complete"), 409, "invalid-transition")
    assert "2 (Labeling) is IN_PROCESS" in body["detail"]
    assert w.get(wo["id"]) == wo


def test_reports_add_up_and_never_overwrite(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    # What reaches the second line item is what the first completed (issue 8).
    wo = w.ok(wo, "report", {"quantity_completed": "100"}, line_item=0)
    wo = w.ok(wo, "report", {"quantity_completed": "10", "quantity_scrapped": "1"}, line_item=1)
    wo = w.ok(wo, "report", {"quantity_completed": "15.5", "quantity_scrapped": "2"}, line_item=1)
    last = wo["line_items"][1]
    assert (Decimal(last["quantity_completed"]), Decimal(last["quantity_scrapped"])) == (
        Decimal("25.5"),
        Decimal(3),
    )
    assert last["status"] == "IN_PROCESS"
    # The work order has produced what its last operation completed; scrap adds up.
    assert Decimal(wo["quantity_produced"]) == Decimal("25.5")
    assert Decimal(wo["quantity_scrapped"]) == Decimal(3)
    started = last["actual_start"]

    wo = w.ok(wo, "report", {"done": True}, line_item=1)
    last = wo["line_items"][1]
    assert last["status"] == "DONE"
    assert Decimal(last["quantity_completed"]) == Decimal("25.5")
    assert last["actual_start"] == started
    assert last["actual_end"] is not None

    reports = [
        e for e in w.events(wo["id"]) if e["action"] == "report" and e["changes"]["line_item"] == 2
    ]
    assert [e["changes"]["quantity_completed"] for e in reports] == ["10", "15.5", "0"]


def test_a_done_line_item_takes_no_more_reports(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    wo = w.ok(wo, "report", {"quantity_completed": "100", "done": True}, line_item=0)
    counts = w.counts()
    body = assert_problem(w.act(wo, "report", {"quantity_completed": "1"}, line_item=0), 409)
    assert "DONE" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


def test_skip_only_a_pending_line_item(world: World) -> None:
    w = world
    wo = w.in_state("IN_PROCESS")
    wo = w.ok(wo, "report", {"quantity_completed": "5"}, line_item=0)
    counts = w.counts()
    # A line item already reported on is IN_PROCESS: it cannot be skipped.
    body = assert_problem(w.act(wo, "skip", line_item=0), 409)
    assert "IN_PROCESS" in body["detail"]
    assert "PENDING" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts

    wo = w.ok(wo, "skip", line_item=1)
    assert [li["status"] for li in wo["line_items"]] == ["IN_PROCESS", "SKIPPED"]
    # Skipped once is enough; a skipped line item takes no reports either.
    assert_problem(w.act(wo, "skip", line_item=1), 409)
    assert_problem(w.act(wo, "report", line_item=1), 409)
    wo = w.ok(wo, "report", {"quantity_completed": "95", "done": True}, line_item=0)
    assert_problem(w.act(wo, "skip", line_item=0), 409)
    assert w.get(wo["id"]) == wo

    # Every line item DONE or SKIPPED: it can be completed.
    wo = w.ok(wo, "complete")
    assert wo["state"] == "COMPLETED"


def test_complete_records_the_given_quantities(world: World) -> None:
    w = world
    wo = finish_line_items(w.client, w.tenant, w.in_state("IN_PROCESS"))
    wo = w.ok(wo, "complete", {"quantity_produced": "120", "quantity_scrapped": "4"})
    assert (Decimal(wo["quantity_produced"]), Decimal(wo["quantity_scrapped"])) == (
        Decimal(120),
        Decimal(4),
    )
    changes = w.events(wo["id"])[-1]["changes"]
    assert {k: Decimal(v) for k, v in changes.items()} == {
        "quantity_produced": 120,
        "quantity_scrapped": 4,
    }


def test_complete_refuses_quantities_below_what_was_reported(world: World) -> None:
    w = world
    wo = finish_line_items(w.client, w.tenant, w.in_state("IN_PROCESS"))
    counts = w.counts()
    assert_problem(w.act(wo, "complete", {"quantity_produced": "99"}), 422, "validation-error")
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


def test_a_report_for_a_line_item_of_another_work_order_is_not_found(world: World) -> None:
    w = world
    one = w.in_state("IN_PROCESS")
    other = w.in_state("IN_PROCESS", start=10)
    counts = w.counts()
    response = w.client.post(
        f"{API}/work-orders/{one['id']}/line-items/{other['line_items'][0]['id']}/report",
        json={"quantity_completed": "1"},
        headers=w.tenant.headers(),
    )
    assert_problem(response, 404, "not-found")
    assert w.get(one["id"]) == one
    assert w.get(other["id"]) == other
    assert w.counts() == counts


# --- bookings: conflicts and capacity ---------------------------------------------------------


def _solo(w: World, resource: int, start: float, hours_: float = 1) -> Json:
    """A DRAFT work order with one line item on the plant's resource, from T0 + start."""
    body = {
        "item_id": w.plant.item["id"],
        "quantity": "100",
        "line_items": [
            {
                "operation": "Bottling",
                "resource_id": w.plant.resource_ids[resource],
                "planned_start": iso(start),
                "planned_end": iso(start + hours_),
            }
        ],
    }
    return expect_object(
        w.client.post(f"{API}/work-orders", json=body, headers=w.tenant.headers()), 201
    )


@pytest.mark.parametrize("holder_state", ["SCHEDULED", "IN_PROCESS"])
def test_schedule_is_refused_when_the_window_overlaps_a_booking_and_names_it(
    world: World, holder_state: str
) -> None:
    w = world
    holder = drive_work_order(w.client, w.tenant, _solo(w, 0, 0, 2), holder_state)
    newcomer = _solo(w, 0, 1, 2)
    counts = w.counts()
    body = assert_problem(w.act(newcomer, "schedule"), 409, "booking-conflict")
    assert holder["number"] in body["detail"]
    assert newcomer["number"] in body["detail"]
    assert [c["work_order_number"] for c in body["conflicts"]] == [holder["number"]]
    assert body["conflicts"][0]["resource_id"] == w.plant.resource_ids[0]
    assert w.get(newcomer["id"]) == newcomer
    assert w.counts() == counts
    assert w.bookings(newcomer["id"]) == []


def test_schedule_names_the_conflict_in_a_production_order_too(world: World) -> None:
    w = world
    holder = w.in_state("SCHEDULED", start=0)
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=1, start=0.5)
    wo = w.get(po["work_orders"][0]["id"])
    body = assert_problem(w.act(wo, "schedule"), 409, "booking-conflict")
    assert holder["number"] in body["detail"]
    assert w.order(po["id"])["state"] == "DRAFT"


def test_windows_that_only_touch_do_not_conflict(world: World) -> None:
    w = world
    drive_work_order(w.client, w.tenant, _solo(w, 0, 0, 2), "SCHEDULED")
    assert w.ok(_solo(w, 0, 2, 1), "schedule")["state"] == "SCHEDULED"
    assert w.ok(_solo(w, 0, -1, 1), "schedule")["state"] == "SCHEDULED"


def test_other_resources_do_not_conflict(world: World) -> None:
    w = world
    drive_work_order(w.client, w.tenant, _solo(w, 0, 0, 2), "SCHEDULED")
    assert w.ok(_solo(w, 2, 0, 2), "schedule")["state"] == "SCHEDULED"


def test_a_resource_with_parallel_capacity_two_takes_two_overlapping_jobs_not_three(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    w = make_world(app, client, tenant, resources=1, parallel_capacity=2)
    first = w.ok(_solo(w, 0, 0, 2), "schedule")
    second = w.ok(_solo(w, 0, 1, 2), "schedule")
    assert second["state"] == "SCHEDULED"
    assert len(w.bookings(first["id"])) == len(w.bookings(second["id"])) == 1

    third = _solo(w, 0, 1.5, 1)
    counts = w.counts()
    body = assert_problem(w.act(third, "schedule"), 409, "booking-conflict")
    assert first["number"] in body["detail"]
    assert second["number"] in body["detail"]
    assert w.counts() == counts
    # Where only one of the two runs, there is room.
    assert w.ok(_solo(w, 0, 2, 1), "schedule")["state"] == "SCHEDULED"


def test_lowering_parallel_capacity_below_what_is_booked_is_refused(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    """No resource may be booked beyond its parallel capacity, however it gets there: two
    overlapping jobs on a resource of capacity 2 forbid lowering it to 1."""
    w = make_world(app, client, tenant, resources=1, parallel_capacity=2)
    first = w.ok(_solo(w, 0, 0, 2), "schedule")
    second = w.ok(_solo(w, 0, 1, 2), "schedule")
    url = f"{API}/resources/{w.plant.resource_ids[0]}"
    resource = expect(client.get(url, headers=tenant.headers("viewer")))
    counts = w.counts()

    body = assert_problem(
        client.patch(url, json={"parallel_capacity": 1}, headers=tenant.headers()), 409
    )
    assert first["number"] in body["detail"] or second["number"] in body["detail"]
    assert expect(client.get(url, headers=tenant.headers("viewer"))) == resource
    assert w.counts() == counts


def test_lowering_parallel_capacity_is_allowed_when_the_bookings_never_overlap(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    w = make_world(app, client, tenant, resources=1, parallel_capacity=2)
    w.ok(_solo(w, 0, 0, 1), "schedule")
    w.ok(_solo(w, 0, 1, 1), "schedule")
    url = f"{API}/resources/{w.plant.resource_ids[0]}"
    resource = expect(client.patch(url, json={"parallel_capacity": 1}, headers=tenant.headers()))
    assert resource["parallel_capacity"] == 1


@pytest.mark.parametrize("release", ["unschedule", "cancel", "complete"])
def test_schedule_is_allowed_again_once_the_other_booking_is_released(
    world: World, release: str
) -> None:
    w = world
    holder = drive_work_order(w.client, w.tenant, _solo(w, 0, 0, 2), "SCHEDULED")
    newcomer = _solo(w, 0, 1, 2)
    assert_problem(w.act(newcomer, "schedule"), 409, "booking-conflict")

    if release == "complete":
        holder = finish_line_items(w.client, w.tenant, w.ok(holder, "start"))
    holder = w.ok(holder, release)
    assert w.bookings(holder["id"]) == []

    scheduled = w.ok(newcomer, "schedule")
    assert scheduled["state"] == "SCHEDULED"
    assert w.bookings(newcomer["id"]) == booked_windows(scheduled)


def test_schedule_with_new_windows_moves_the_line_items_and_books_them(world: World) -> None:
    w = world
    wo = make_work_order(w.client, w.tenant, w.plant, start=None)
    windows = [
        {"id": li["id"], "planned_start": iso(5 + i), "planned_end": iso(5.5 + i)}
        for i, li in enumerate(wo["line_items"])
    ]
    wo = w.ok(wo, "schedule", {"line_items": windows})
    assert windows_of(wo) == [(at(5), at(5.5)), (at(6), at(6.5))]
    assert w.bookings(wo["id"]) == booked_windows(wo)


def test_schedule_without_windows_is_refused_and_says_which(world: World) -> None:
    w = world
    wo = make_work_order(w.client, w.tenant, w.plant, start=None)
    counts = w.counts()
    body = assert_refused(w.act(wo, "schedule"), "DRAFT", "schedule", ALLOWED_IN["DRAFT"])
    assert "1 (Bottling) has no planned window" in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


# --- laying out from a start ------------------------------------------------------------------


def test_schedule_with_start_lays_line_items_back_to_back(world: World) -> None:
    w = world
    wo = make_work_order(w.client, w.tenant, w.plant, start=None)
    wo = w.ok(wo, "schedule", {"start": iso(10)})
    # 30 minutes setup + 0.3 minutes per unit x 100 units: one hour each, one after the other.
    assert windows_of(wo) == [(at(10), at(11)), (at(11), at(12))]
    assert (parse(wo["planned_start"]), parse(wo["planned_end"])) == (at(10), at(12))
    assert w.bookings(wo["id"]) == booked_windows(wo)


def test_schedule_with_start_waits_for_a_busy_resource(world: World) -> None:
    w = world
    # The second resource is busy from 11:00 to 13:00 (T0-relative hours).
    drive_work_order(w.client, w.tenant, _solo(w, 1, 11, 2), "SCHEDULED")
    # ...and the first from 9:30 to 10:30, so the first line item waits for it too.
    drive_work_order(w.client, w.tenant, _solo(w, 0, 9.5, 1), "SCHEDULED")
    wo = make_work_order(w.client, w.tenant, w.plant, start=None)
    wo = w.ok(wo, "schedule", {"start": iso(10)})
    assert windows_of(wo) == [(at(10.5), at(11.5)), (at(13), at(14))]


def test_schedule_with_start_is_refused_for_a_line_item_that_takes_no_time(
    world: World,
) -> None:
    w = world
    body = {
        "item_id": w.plant.item["id"],
        "quantity": "100",
        "line_items": [{"operation": "Inspect", "resource_id": w.plant.resource_ids[0]}],
    }
    wo = expect(w.client.post(f"{API}/work-orders", json=body, headers=w.tenant.headers()), 201)
    counts = w.counts()
    assert_problem(w.act(wo, "schedule", {"start": iso(0)}), 422, "validation-error")
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts


@pytest.mark.parametrize(
    ("start", "quantity", "run_minutes"),
    [
        ("9999-12-31T23:00:00Z", "100", "0.3"),  # starts an hour before the end of time
        ("2030-01-07T06:00:00Z", "999999999999", "99999999"),  # runs for 10^14 years
    ],
    ids=["start-at-the-end-of-time", "longer-than-time"],
)
def test_schedule_with_start_beyond_the_calendar_is_a_problem_not_a_crash(
    app: FastAPI, tenant: Tenant, start: str, quantity: str, run_minutes: str
) -> None:
    """A layout that would end after 9999-12-31 is bad input: it gets a problem answer
    (422 or 409) naming what is wrong, never a 500, and changes nothing."""
    with TestClient(app, raise_server_exceptions=False) as client:
        w = make_world(app, client, tenant)
        body = work_order_body(w.plant, start=None, quantity=quantity)
        for li in body["line_items"]:
            li["run_minutes_per_unit"] = run_minutes
        wo = expect_object(
            client.post(f"{API}/work-orders", json=body, headers=tenant.headers()), 201
        )
        counts = w.counts()
        response = w.act(wo, "schedule", {"start": start})
        assert response.status_code in (409, 422), response.text
        assert_problem(response, response.status_code)
        assert w.get(wo["id"]) == wo
        assert w.counts() == counts


# --- versions: ETag and If-Match ---------------------------------------------------------------


def test_the_etag_is_the_version_and_moves_with_every_change(world: World) -> None:
    w = world
    wo = w.in_state("DRAFT")
    versions = []
    for action in ("update", "schedule", "start", "pause", "resume", "report"):
        response = w.act(wo, action)
        wo = expect(response)
        assert response.headers["ETag"] == f'"{wo["version"]}"'
        got = w.client.get(f"{API}/work-orders/{wo['id']}", headers=w.tenant.headers("viewer"))
        assert got.headers["ETag"] == f'"{wo["version"]}"'
        versions.append(wo["version"])
    assert versions == sorted(set(versions))


def _bump(w: World, wo: Json) -> Json:
    """Someone else changes the work order, leaving it in the same state with the same
    actions open: a new version."""
    if wo["state"] == "DRAFT":
        return w.ok(wo, "update", {"priority": 12})
    if wo["state"] == "SCHEDULED":
        return w.ok(w.ok(wo, "unschedule"), "schedule")
    assert wo["state"] == "IN_PROCESS"
    return w.ok(w.ok(wo, "pause"), "resume")


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("DRAFT", "update"),
        ("DRAFT", "schedule"),
        ("DRAFT", "cancel"),
        ("DRAFT", "delete"),
        ("SCHEDULED", "start"),
        ("SCHEDULED", "unschedule"),
        ("SCHEDULED", "cancel"),
        ("IN_PROCESS", "pause"),
        ("IN_PROCESS", "report"),
        ("IN_PROCESS", "skip"),
        ("IN_PROCESS", "cancel"),
    ],
)
def test_a_stale_if_match_gets_412_and_changes_nothing(
    world: World, state: str, action: str
) -> None:
    w = world
    wo = w.in_state(state)
    stale = f'"{wo["version"]}"'
    wo = _bump(w, wo)
    assert wo["version"] > int(stale.strip('"'))
    po_before = w.order(wo["production_order_id"])
    counts = w.counts()
    response = w.act(wo, action, headers={"If-Match": stale})
    body = assert_problem(response, 412, "version-mismatch")
    assert str(wo["version"]) in body["detail"]
    assert w.get(wo["id"]) == wo
    assert w.order(wo["production_order_id"]) == po_before
    assert w.counts() == counts
    # With the current version it goes through.
    expect(w.act(wo, action, headers={"If-Match": f'"{wo["version"]}"'}))


def test_a_stale_if_match_on_complete_gets_412(world: World) -> None:
    w = world
    wo = finish_line_items(w.client, w.tenant, w.in_state("IN_PROCESS"))
    stale = f'"{wo["version"]}"'
    wo = _bump(w, wo)
    counts = w.counts()
    assert_problem(w.act(wo, "complete", headers={"If-Match": stale}), 412, "version-mismatch")
    assert w.get(wo["id"]) == wo
    assert w.counts() == counts
