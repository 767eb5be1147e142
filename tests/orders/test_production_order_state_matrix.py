"""The full matrix of the production order lifecycle over the HTTP API, on SQLite and
PostgreSQL: every action from every state (each cell its own test), the allowed ones with
their effects on the order and its work orders, the others refused with 409 and no change.
Then the order moving with its work orders, all-or-none scheduling, and versions."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import (
    API,
    PRODUCTION_ORDER_ACTIONS,
    STATES,
    Json,
    World,
    at,
    booked_windows,
    drive_work_order,
    expect,
    finish_line_items,
    iso,
    make_production_order,
    make_work_order,
    make_world,
    parse,
    work_order_body,
)
from tests.helpers import Tenant, assert_problem, list_all

SOURCES: dict[str, tuple[str, ...]] = {
    "update": ("DRAFT",),
    "schedule": ("DRAFT",),
    "cancel": ("DRAFT", "SCHEDULED", "IN_PROCESS"),
    "delete": ("DRAFT", "CANCELED"),
}
TARGET: dict[str, str | None] = {
    "update": None,
    "schedule": "SCHEDULED",
    "cancel": "CANCELED",
    "delete": "DELETED",
}
# What the API offers for an order as `production_order_in_state` builds it.
ALLOWED_IN: dict[str, list[str]] = {
    "DRAFT": ["update", "schedule", "cancel", "delete"],
    "SCHEDULED": ["cancel"],
    "IN_PROCESS": ["cancel"],
    "COMPLETED": [],
    "CANCELED": ["delete"],
    "DELETED": [],
}
# The states of its two work orders, as `production_order_in_state` builds it.
WORK_IN: dict[str, list[str]] = {
    "DRAFT": ["DRAFT", "DRAFT"],
    "SCHEDULED": ["SCHEDULED", "SCHEDULED"],
    "IN_PROCESS": ["IN_PROCESS", "SCHEDULED"],
    "COMPLETED": ["COMPLETED", "COMPLETED"],
    "CANCELED": ["CANCELED", "CANCELED"],
    "DELETED": ["DELETED", "DELETED"],
}
# ...and after each allowed action.
WORK_AFTER: dict[tuple[str, str], list[str]] = {
    ("DRAFT", "update"): ["DRAFT", "DRAFT"],
    ("DRAFT", "schedule"): ["SCHEDULED", "SCHEDULED"],
    ("DRAFT", "cancel"): ["CANCELED", "CANCELED"],
    ("DRAFT", "delete"): ["DELETED", "DELETED"],
    ("SCHEDULED", "cancel"): ["CANCELED", "CANCELED"],
    ("IN_PROCESS", "cancel"): ["CANCELED", "CANCELED"],
    ("CANCELED", "delete"): ["DELETED", "DELETED"],
}
CELLS = [(state, action) for state in STATES for action in PRODUCTION_ORDER_ACTIONS]
ALLOWED_CELLS = {(s, a) for a, sources in SOURCES.items() for s in sources}
assert set(WORK_AFTER) == ALLOWED_CELLS
BOOKED = ("SCHEDULED", "IN_PROCESS")


@pytest.fixture
def world(app: FastAPI, client: TestClient, tenant: Tenant) -> World:
    return make_world(app, client, tenant)


def work_of(w: World, po: Json) -> list[Json]:
    """The order's work orders in full (DELETED ones too), in creation order."""
    return [w.get(brief["id"]) for brief in po["work_orders"]]


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
    # Built from DRAFT with both work orders listed, so that a DELETED order still names them.
    draft = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    wo_ids = [brief["id"] for brief in draft["work_orders"]]
    _drive(w, draft, state)
    before = w.order(draft["id"])
    assert before["state"] == state
    work_before = [w.get(i) for i in wo_ids]
    assert [wo["state"] for wo in work_before] == WORK_IN[state]
    counts_before = w.counts()
    events_before = w.order_events(before["id"])

    response = w.act_on_order(before, action)

    if (state, action) not in ALLOWED_CELLS:
        assert_refused(response, state, action, before["allowed_actions"])
        assert before["allowed_actions"] == ALLOWED_IN[state]
        assert w.counts() == counts_before
        assert w.order(before["id"]) == before
        assert [w.get(i) for i in wo_ids] == work_before
        assert w.order_events(before["id"]) == events_before
        return

    after = expect(response)
    target = TARGET[action] or state
    assert after["state"] == target
    assert after["version"] > before["version"]
    assert response.headers["ETag"] == f'"{after["version"]}"'
    assert w.order(before["id"]) == after

    # Its work orders moved with it, in the same request.
    work_after = [w.get(i) for i in wo_ids]
    assert [wo["state"] for wo in work_after] == WORK_AFTER[(state, action)]
    for wo in work_after:
        expected = booked_windows(wo) if wo["state"] in BOOKED else []
        assert w.bookings(wo["id"]) == expected

    # The events: the order's own, from which state to which and why, and each work order's.
    new_events = w.order_events(before["id"])[len(events_before) :]
    own = [e for e in new_events if e["entity_id"] == before["id"]]
    assert [e["action"] for e in own] == [action]
    if action != "update":
        assert (own[0]["from_state"], own[0]["to_state"]) == (state, target)
    if action == "cancel":
        assert own[0]["reason"] == "cancel in a test"
    for wo_before, wo_after in zip(work_before, work_after, strict=True):
        moves = [
            (e["action"], e["from_state"], e["to_state"])
            for e in new_events
            if e["entity_id"] == wo_before["id"]
        ]
        if wo_after["state"] == wo_before["state"]:
            assert moves == []
        else:
            assert moves == [(action, wo_before["state"], wo_after["state"])]

    if action == "update":
        assert (after["priority"], after["notes"]) == (77, "Rush order")
    if action == "delete":
        assert after["allowed_actions"] == []
        assert after["work_orders"] == []  # tombstones are gone from the order's summary
        listed = [po["id"] for po in list_all(w.client, w.tenant, "/production-orders")]
        assert after["id"] not in listed
        deleted = list_all(w.client, w.tenant, "/production-orders", state="DELETED")
        assert after["id"] in [po["id"] for po in deleted]
        work_listed = [wo["id"] for wo in list_all(w.client, w.tenant, "/work-orders")]
        assert not set(wo_ids) & set(work_listed)


def _drive(w: World, po: Json, state: str) -> None:
    """Moves a DRAFT order with two DRAFT work orders to `state`, as
    `production_order_in_state` does."""
    wo_ids = [brief["id"] for brief in po["work_orders"]]
    if state == "CANCELED":
        w.ok_on_order(po, "cancel")
    elif state == "DELETED":
        w.ok_on_order(po, "delete")
    elif state != "DRAFT":
        w.ok_on_order(po, "schedule")
        if state == "IN_PROCESS":
            w.ok({"id": wo_ids[0]}, "start")
        elif state == "COMPLETED":
            for wo_id in wo_ids:
                wo = finish_line_items(w.client, w.tenant, w.ok({"id": wo_id}, "start"))
                w.ok(wo, "complete")


# --- the order moves with its work orders -----------------------------------------------------


def test_the_order_moves_with_its_work_orders_with_an_event_for_each_move(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    first, second = work_of(w, po)
    steps = [
        (first, "schedule", "DRAFT"),  # one of two scheduled: still being put together
        (second, "schedule", "SCHEDULED"),  # every live work order scheduled
        (second, "unschedule", "DRAFT"),
        (second, "schedule", "SCHEDULED"),
        (first, "start", "IN_PROCESS"),  # as soon as any starts
        (first, "pause", "IN_PROCESS"),
        (first, "resume", "IN_PROCESS"),
    ]
    for wo, action, expected in steps:
        before = w.order(po["id"])["state"]
        w.ok(wo, action)
        after = w.order(po["id"])
        assert after["state"] == expected, (wo["number"], action)
        if expected != before:
            move = [e for e in w.order_events(po["id"]) if e["entity_id"] == po["id"]][-1]
            assert (move["action"], move["from_state"], move["to_state"]) == (
                "follow",
                before,
                expected,
            )
            assert wo["number"] in move["reason"]

    first = finish_line_items(w.client, w.tenant, w.get(first["id"]))
    w.ok(first, "complete")
    assert w.order(po["id"])["state"] == "IN_PROCESS"  # the second is still to do
    w.ok(second, "cancel")
    # All its work is final (done with) and some of it completed.
    assert w.order(po["id"])["state"] == "COMPLETED"


def test_the_order_completes_when_its_last_open_work_order_completes(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    first, second = work_of(w, po)
    w.ok(first, "cancel")
    second = drive_work_order(w.client, w.tenant, second, "COMPLETED")
    assert w.order(po["id"])["state"] == "COMPLETED"
    assert w.order(po["id"])["allowed_actions"] == []


def test_a_work_order_added_to_a_scheduled_order_takes_it_back_to_draft(world: World) -> None:
    w = world
    po = w.order_in_state("SCHEDULED")
    make_work_order(w.client, w.tenant, w.plant, production_order_id=po["id"], start=10)
    assert w.order(po["id"])["state"] == "DRAFT"


@pytest.mark.parametrize("state", ["COMPLETED", "CANCELED", "DELETED"])
def test_a_closed_order_takes_no_new_work_orders(world: World, state: str) -> None:
    w = world
    po = w.order_in_state(state)
    counts = w.counts()
    body = {**work_order_body(w.plant, start=20), "production_order_id": po["id"]}
    response = w.client.post(f"{API}/work-orders", json=body, headers=w.tenant.headers())
    problem = assert_problem(response, 409)
    assert state in problem["detail"]
    assert w.order(po["id"]) == po
    assert w.counts() == counts


def test_cancel_keeps_completed_work_and_then_the_order_cannot_be_deleted(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    first, second = work_of(w, po)
    w.ok_on_order(po, "schedule")
    first = finish_line_items(w.client, w.tenant, w.ok(w.get(first["id"]), "start"))
    w.ok(first, "complete")
    assert w.order(po["id"])["state"] == "IN_PROCESS"

    po = w.ok_on_order(w.order(po["id"]), "cancel", {"reason": "Customer withdrew"})
    assert po["state"] == "CANCELED"
    assert [w.get(i)["state"] for i in (first["id"], second["id"])] == ["COMPLETED", "CANCELED"]
    assert w.bookings(second["id"]) == []
    assert w.events(second["id"])[-1]["reason"] == "Customer withdrew"

    counts = w.counts()
    body = assert_refused(w.act_on_order(po, "delete"), "CANCELED", "delete", [])
    assert "COMPLETED" in body["detail"]
    assert w.order(po["id"]) == po
    assert w.counts() == counts


def test_delete_is_refused_while_some_of_its_work_is_scheduled(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    first, _ = work_of(w, po)
    w.ok(first, "schedule")
    po = w.order(po["id"])
    assert po["state"] == "DRAFT"
    assert "delete" not in po["allowed_actions"]
    counts = w.counts()
    body = assert_refused(w.act_on_order(po, "delete"), "DRAFT", "delete", po["allowed_actions"])
    assert "scheduled" in body["detail"]
    assert w.order(po["id"]) == po
    assert w.counts() == counts


# --- scheduling the whole order ----------------------------------------------------------------


def test_schedule_is_all_or_none(world: World) -> None:
    w = world
    # An outside work order holds the first resource from T0+2h to T0+3h...
    outside = make_work_order(
        w.client, w.tenant, w.plant, resources=[w.plant.resource_ids[0]], start=2
    )
    outside = w.ok(outside, "schedule")
    # ...where the order's second work order wants it.
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    work_before = work_of(w, po)
    po = w.order(po["id"])
    counts = w.counts()

    body = assert_problem(w.act_on_order(po, "schedule"), 409, "booking-conflict")
    assert outside["number"] in body["detail"]
    assert w.order(po["id"]) == po
    assert work_of(w, po) == work_before
    assert w.counts() == counts
    for wo in work_before:
        assert w.bookings(wo["id"]) == []


def test_schedule_a_draft_order_without_draft_work_is_refused(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=1)
    (wo,) = work_of(w, po)
    w.ok(wo, "cancel")
    po = w.order(po["id"])
    assert po["state"] == "DRAFT"
    body = assert_refused(
        w.act_on_order(po, "schedule"), "DRAFT", "schedule", ["update", "cancel", "delete"]
    )
    assert "no DRAFT work orders" in body["detail"]
    assert w.order(po["id"]) == po


def test_schedule_with_start_lays_out_every_work_order_without_overlap(world: World) -> None:
    w = world
    # Three work orders on the same two resources, no windows: most urgent first.
    bodies = [work_order_body(w.plant, start=None, priority=priority) for priority in (10, 90, 50)]
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=bodies)
    po = w.ok_on_order(po, "schedule", {"start": iso(24)})
    assert po["state"] == "SCHEDULED"
    low, high, mid = work_of(w, po)
    windows = {
        wo["priority"]: [
            (parse(li["planned_start"]), parse(li["planned_end"])) for li in wo["line_items"]
        ]
        for wo in (low, high, mid)
    }
    # One hour per line item; the second line item follows the first on the next resource.
    assert windows[90] == [(at(24), at(25)), (at(25), at(26))]
    assert windows[50] == [(at(25), at(26)), (at(26), at(27))]
    assert windows[10] == [(at(26), at(27)), (at(27), at(28))]
    for wo in (low, high, mid):
        assert w.bookings(wo["id"]) == booked_windows(wo)


# --- versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["update", "schedule", "cancel", "delete"])
def test_a_stale_if_match_gets_412_and_changes_nothing(world: World, action: str) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=2)
    stale = f'"{po["version"]}"'
    po = w.ok_on_order(po, "update", {"priority": 12})
    assert po["version"] > int(stale.strip('"'))
    work_before = work_of(w, po)
    counts = w.counts()
    response = w.act_on_order(po, action, headers={"If-Match": stale})
    body = assert_problem(response, 412, "version-mismatch")
    assert str(po["version"]) in body["detail"]
    assert w.order(po["id"]) == po
    assert work_of(w, po) == work_before
    assert w.counts() == counts
    expect(w.act_on_order(po, action, headers={"If-Match": f'"{po["version"]}"'}))


def test_the_etag_is_the_version(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=1)
    for action in ("update", "schedule", "cancel"):
        response = w.act_on_order(po, action)
        po = expect(response)
        assert response.headers["ETag"] == f'"{po["version"]}"'
        got = w.client.get(
            f"{API}/production-orders/{po['id']}", headers=w.tenant.headers("viewer")
        )
        assert got.headers["ETag"] == f'"{po["version"]}"'
        assert got.json() == po


def test_work_order_changes_that_move_the_order_change_its_version(world: World) -> None:
    w = world
    po = make_production_order(w.client, w.tenant, w.plant, work_orders=1)
    (wo,) = work_of(w, po)
    w.ok(wo, "schedule")
    moved = w.order(po["id"])
    assert moved["state"] == "SCHEDULED"
    assert moved["version"] > po["version"]
    # The stale ETag no longer passes.
    response = w.act_on_order(moved, "cancel", headers={"If-Match": f'"{po["version"]}"'})
    assert_problem(response, 412, "version-mismatch")
