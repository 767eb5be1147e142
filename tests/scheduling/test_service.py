"""The scheduler on the product's data: a problem built from the database (calendars,
alternatives, release times, dependencies, pinned and in-process work), solved by the core,
every proposal checked by the core's checker, and applied in one transaction through the
work order lifecycle.

The shop works Monday to Friday 06:00-14:00 in Chicago (12:00-20:00 UTC); H0 is Monday
12:00 UTC, the start of the first shift, and the horizon start of every schedule here.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from taktline.errors import BookingConflict
from taktline.orders import booking
from taktline.resources.models import ResourceBooking
from taktline.scheduling import load, snapshots
from taktline.solver.checker import check_proposal
from taktline.solver.problem import Objective
from tests.helpers import Tenant, assert_problem, db_counts
from tests.scheduling.shop import (
    H0,
    Json,
    Shop,
    at,
    checked_preview,
    iso,
    ok,
    parse,
    planned,
    weekly,
)

SHIFT_END = at(8)  # Monday 20:00 UTC, 14:00 in Chicago
TUESDAY = at(24)


@pytest.fixture
def shop(client: TestClient, tenant: Tenant) -> Shop:
    return Shop.open(client, tenant)


def bookings(session: Session, wo: Json) -> list[tuple[str, Any, Any]]:
    rows = session.execute(
        select(ResourceBooking.resource_id, ResourceBooking.starts_at, ResourceBooking.ends_at)
        .where(ResourceBooking.work_order_id == uuid.UUID(wo["id"]))
        .order_by(ResourceBooking.starts_at)
    ).all()
    session.rollback()
    return [(str(r), s, e) for r, s, e in rows]


def window(li: Json) -> tuple[str, str, str]:
    return li["resource_id"], li["planned_start"], li["planned_end"]


def scheduled_at(shop: Shop, wo: Json, *starts_and_ends: tuple[float, float]) -> Json:
    """Schedules a DRAFT work order by hand at the given windows (hours from H0)."""
    body = {
        "line_items": [
            {"id": li["id"], "planned_start": iso(s), "planned_end": iso(e)}
            for li, (s, e) in zip(wo["line_items"], starts_and_ends, strict=True)
        ]
    }
    return shop.act(wo, "schedule", body)


# --- every proposal is valid ---------------------------------------------------------------


def test_every_proposal_built_from_the_database_passes_the_checker(
    shop: Shop, session: Session
) -> None:
    bl1, bl2, lb1 = shop.resource("BL1"), shop.resource("BL2"), shop.resource("LB1")
    night = shop.resource("NIGHT")
    shop.set_calendar("resources", night["id"], weekly("22:00", "06:00"))
    shop.add_exception("resources", lb1["id"], "MAINTENANCE", at(1), at(3))
    running = shop.work_order([shop.line(bl1, 60)])
    scheduled_at(shop, running, (0, 1))
    shop.act(running, "start")
    pinned = shop.work_order([shop.line(lb1, 30, "Labeling")])
    scheduled_at(shop, pinned, (4, 4.5))
    ok(shop.request("PATCH", f"/work-orders/{pinned['id']}", {"pinned": True}))
    po = shop.production_order(
        [
            shop.work_order_body(
                [
                    shop.line(bl1, 90, alternatives=[(bl2, 120)]),
                    shop.line(lb1, 45, "Labeling", interruptible=True),
                    shop.line(night, 200, "Casing", interruptible=True),
                ],
                due=at(6 + i),
                priority=10 * i,
            )
            for i in range(5)
        ]
    )
    wos = po["work_orders"]
    ok(shop.request("PATCH", f"/work-orders/{wos[1]['id']}", {"depends_on": [wos[0]["id"]]}))
    ok(shop.request("PATCH", f"/work-orders/{wos[4]['id']}", {"release_at": iso(26)}))

    for objective in Objective:
        result = checked_preview(session, shop.tenant, objective=objective)
        assert {s.number for s in result.plan.movable} == {w["number"] for w in wos}
        assert {s.number for s, _ in result.plan.fixed} == {running["number"], pinned["number"]}

    shop.apply()
    # After applying, a new schedule of everything open is valid as well.
    checked_preview(session, shop.tenant)


# --- calendars -----------------------------------------------------------------------------


def test_a_line_item_that_is_not_interruptible_fits_inside_one_working_stretch(
    shop: Shop,
) -> None:
    """Four working hours are left on Monday: six hours of work wait for Tuesday."""
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 360)])

    proposal = shop.preview(horizon_start=iso(4))

    li = planned(proposal, wo)["line_items"][0]
    assert (parse(li["planned_start"]), parse(li["planned_end"])) == (
        TUESDAY,
        TUESDAY + timedelta(hours=6),
    )


def test_an_interruptible_line_item_stretches_over_the_night(shop: Shop) -> None:
    """The same six hours, interruptible: four on Monday, two on Tuesday morning."""
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 360, interruptible=True)])

    proposal = shop.preview(horizon_start=iso(4))

    li = planned(proposal, wo)["line_items"][0]
    assert (parse(li["planned_start"]), parse(li["planned_end"])) == (
        at(4),
        TUESDAY + timedelta(hours=2),
    )


def test_maintenance_on_a_resource_is_worked_around(shop: Shop, session: Session) -> None:
    bl1 = shop.resource()
    shop.add_exception("resources", bl1["id"], "MAINTENANCE", at(0), at(2))
    wo = shop.work_order([shop.line(bl1, 60)])

    result = checked_preview(session, shop.tenant)

    li = planned(result.out.model_dump(mode="json"), wo)["line_items"][0]
    assert parse(li["planned_start"]) == at(2)


# --- alternatives --------------------------------------------------------------------------


def test_alternatives_pick_one_eligible_resource_and_swap_places_when_applied(
    shop: Shop,
) -> None:
    """Two jobs that both prefer BL1 (60 min) and may run on BL2 (90 min), both due in an
    hour and a half: one on each line, and nobody is late."""
    bl1, bl2 = shop.resource("BL1"), shop.resource("BL2")
    wos = [
        shop.work_order([shop.line(bl1, 60, alternatives=[(bl2, 90)])], due=at(1.5))
        for _ in range(2)
    ]

    proposal = shop.preview()

    chosen = {planned(proposal, wo)["line_items"][0]["resource_code"] for wo in wos}
    assert chosen == {"BL1", "BL2"}
    assert proposal["summary"]["late"] == 0
    shop.apply(proposal=proposal)
    moved = next(
        shop.get(wo)
        for wo in wos
        if planned(proposal, wo)["line_items"][0]["resource_code"] == "BL2"
    )
    li = moved["line_items"][0]
    assert (li["resource_id"], li["setup_minutes"]) == (bl2["id"], "90")
    assert [(a["resource_id"], a["setup_minutes"]) for a in li["alternatives"]] == [
        (bl1["id"], "60")
    ]
    assert parse(li["planned_end"]) - parse(li["planned_start"]) == timedelta(minutes=90)


def test_inactive_and_too_small_resources_are_not_eligible(shop: Shop) -> None:
    off = shop.resource("OFF", active=False)
    small = shop.resource("SMALL", capacity_max="50")  # 50 gal a run; the work is 100 gal
    good = shop.resource("GOOD")
    wo = shop.work_order([shop.line(off, 30, alternatives=[(small, 30), (good, 45)])])

    proposal = shop.preview()

    assert planned(proposal, wo)["line_items"][0]["resource_code"] == "GOOD"


# --- dependencies, release -----------------------------------------------------------------


def test_a_work_order_starts_only_after_those_it_waits_for(shop: Shop, session: Session) -> None:
    """Bottling waits for brewing, even though it is more urgent."""
    kettle, filler = shop.resource("KETTLE"), shop.resource("FILLER")
    po = shop.production_order(
        [
            shop.work_order_body([shop.line(kettle, 120, "Brewing")], due=at(8), priority=10),
            shop.work_order_body([shop.line(filler, 60, "Bottling")], due=at(1), priority=90),
        ]
    )
    brewing, bottling = po["work_orders"]
    ok(shop.request("PATCH", f"/work-orders/{bottling['id']}", {"depends_on": [brewing["id"]]}))

    proposal = checked_preview(session, shop.tenant).out.model_dump(mode="json")

    assert planned(proposal, bottling)["planned_start"] >= planned(proposal, brewing)["planned_end"]
    assert planned(proposal, bottling)["becomes_late"]


def test_nothing_starts_before_its_release(shop: Shop) -> None:
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 30)], release_at=iso(3.25))

    proposal = shop.preview()

    assert parse(planned(proposal, wo)["planned_start"]) == at(3.25)


def test_waiting_for_draft_work_outside_the_schedule_is_a_clear_422(shop: Shop) -> None:
    bl1 = shop.resource()
    po = shop.production_order(
        [shop.work_order_body([shop.line(bl1, 30)]), shop.work_order_body([shop.line(bl1, 30)])]
    )
    first, second = po["work_orders"]
    ok(shop.request("PATCH", f"/work-orders/{second['id']}", {"depends_on": [first["id"]]}))

    response = shop.request(
        "POST",
        "/schedule/preview",
        {"work_order_ids": [second["id"]], "horizon_start": iso(0), "time_limit_seconds": 1},
    )

    problem = assert_problem(response, 422, "unschedulable")
    assert second["number"] in problem["detail"]
    assert f"waits for {first['number']}" in problem["detail"]


# --- what stays, what moves ----------------------------------------------------------------


def test_pinned_and_in_process_work_never_moves(shop: Shop, session: Session) -> None:
    bl1 = shop.resource()
    running = shop.work_order([shop.line(bl1, 60)])
    scheduled_at(shop, running, (0, 1))
    running = shop.act(running, "start")
    held = shop.work_order([shop.line(bl1, 60)])
    scheduled_at(shop, held, (2, 3))
    held = ok(shop.request("PATCH", f"/work-orders/{held['id']}", {"pinned": True}))
    new = shop.work_order([shop.line(bl1, 90)], due=at(1))

    applied = shop.apply()

    assert {w["number"]: w["reason"] for w in applied["proposal"]["fixed"]} == {
        running["number"]: "in process",
        held["number"]: "pinned",
    }
    assert applied["scheduled"] == [new["number"]]
    for before in (running, held):
        after = shop.get(before)
        assert after["version"] == before["version"]
        assert [window(li) for li in after["line_items"]] == [
            window(li) for li in before["line_items"]
        ]
    li = shop.get(new)["line_items"][0]
    assert parse(li["planned_start"]) == at(3)  # the gap between them is too short
    checked_preview(session, shop.tenant)


def test_scheduled_work_that_moves_is_released_and_booked_again_with_a_reschedule_event(
    shop: Shop, session: Session
) -> None:
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 60)], due=at(2))
    scheduled_at(shop, wo, (48, 49))

    applied = shop.apply()

    assert applied["rescheduled"] == [wo["number"]]
    after = shop.get(wo)
    assert after["state"] == "SCHEDULED"
    assert (parse(after["planned_start"]), parse(after["planned_end"])) == (at(0), at(1))
    assert bookings(session, after) == [(bl1["id"], at(0), at(1))]
    last = shop.events(wo)[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (
        "reschedule",
        "SCHEDULED",
        "SCHEDULED",
    )
    (change,) = last["changes"]["line_items"]
    assert change["planned_start"] == [iso(48), iso(0)]


def test_draft_work_is_scheduled_through_the_lifecycle_and_its_order_follows(
    shop: Shop, session: Session
) -> None:
    bl1, lb1 = shop.resource(), shop.resource()
    po = shop.production_order(
        [shop.work_order_body([shop.line(bl1, 60), shop.line(lb1, 30, "Labeling")])] * 2
    )

    applied = shop.apply(production_order_ids=[po["id"]])

    assert applied["scheduled"] == sorted(w["number"] for w in po["work_orders"])
    for wo in po["work_orders"]:
        after = shop.get(wo)
        assert after["state"] == "SCHEDULED"
        assert shop.events(wo)[-1]["action"] == "schedule"
        assert len(bookings(session, wo)) == 2
    order = ok(shop.request("GET", f"/production-orders/{po['id']}"))
    assert order["state"] == "SCHEDULED"


def test_a_preview_changes_nothing(shop: Shop, app: FastAPI) -> None:
    bl1 = shop.resource()
    shop.work_order([shop.line(bl1, 60)])
    before = db_counts(app.state.engine)

    shop.preview()

    assert db_counts(app.state.engine) == before


# --- applying: all or nothing, and only what was seen ----------------------------------------


def test_apply_is_all_or_nothing_when_a_booking_conflict_comes_midway(
    shop: Shop, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = [shop.resource() for _ in range(3)]
    wos = [shop.work_order([shop.line(r, 60)]) for r in resources]
    moved = shop.work_order([shop.line(resources[0], 60)], due=at(8))
    scheduled_at(shop, moved, (30, 31))
    moved = shop.get(moved)
    proposal = shop.preview()
    before = db_counts(app.state.engine)
    book = booking.BookingLedger.book
    calls = []

    def book_until_the_third(self: booking.BookingLedger, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise BookingConflict("Injected: the line is booked by someone else.")
        book(self, *args)

    monkeypatch.setattr(booking.BookingLedger, "book", book_until_the_third)

    response = shop.request("POST", "/schedule/apply", {"proposal": proposal})

    assert_problem(response, 409, "booking-conflict")
    assert len(calls) == 3
    assert db_counts(app.state.engine) == before
    for wo in [*wos, moved]:
        after = shop.get(wo)
        assert (after["state"], after["version"]) == (wo["state"], wo["version"])
        assert [window(li) for li in after["line_items"]] == [window(li) for li in wo["line_items"]]


def test_a_proposal_of_work_that_changed_since_is_refused_with_412(
    shop: Shop, app: FastAPI
) -> None:
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 60)])
    other = shop.work_order([shop.line(bl1, 60)])
    proposal = shop.preview()
    ok(shop.request("PATCH", f"/work-orders/{wo['id']}", {"priority": 99}))
    before = db_counts(app.state.engine)

    response = shop.request("POST", "/schedule/apply", {"proposal": proposal})

    problem = assert_problem(response, 412, "version-mismatch")
    assert wo["number"] in problem["detail"]
    assert other["number"] not in problem["detail"]
    assert db_counts(app.state.engine) == before


def test_a_proposal_that_no_longer_fits_the_plant_is_refused_with_409(
    shop: Shop, app: FastAPI
) -> None:
    bl1 = shop.resource()
    wo = shop.work_order([shop.line(bl1, 60)])
    proposal = shop.preview()
    # Meanwhile someone books the line by hand where the proposal put the work.
    scheduled_at(shop, shop.work_order([shop.line(bl1, 60)]), (0, 1))
    before = db_counts(app.state.engine)

    response = shop.request("POST", "/schedule/apply", {"proposal": proposal})

    problem = assert_problem(response, 409, "conflict")
    assert "does not fit" in problem["detail"]
    assert problem["violations"]
    assert db_counts(app.state.engine) == before
    assert shop.get(wo)["state"] == "DRAFT"


def test_a_proposal_changed_on_the_way_is_checked_like_any_other(shop: Shop) -> None:
    bl1 = shop.resource()
    first, second = (shop.work_order([shop.line(bl1, 60)]) for _ in range(2))
    proposal = shop.preview()
    a, b = planned(proposal, first)["line_items"][0], planned(proposal, second)["line_items"][0]
    b["planned_start"], b["planned_end"] = a["planned_start"], a["planned_end"]  # overlap

    response = shop.request("POST", "/schedule/apply", {"proposal": proposal})

    problem = assert_problem(response, 409, "conflict")
    assert any("capacity" in v for v in problem["violations"])


# --- impossible problems -------------------------------------------------------------------


def test_a_line_item_longer_than_any_working_stretch_is_a_422_naming_it(shop: Shop) -> None:
    bl1 = shop.resource("BL1")
    wo = shop.work_order([shop.line(bl1, 30, "Bottling"), shop.line(bl1, 600, "Pasteurising")])

    response = shop.request(
        "POST", "/schedule/preview", {"horizon_start": iso(0), "time_limit_seconds": 1}
    )

    problem = assert_problem(response, 422, "unschedulable")
    assert problem["detail"].startswith(f"{wo['number']} line item 2 (Pasteurising) cannot")
    assert "longest working stretch of BL1 is 480 minutes" in problem["detail"]
    assert (problem["work_order_number"], problem["sequence"], problem["operation"]) == (
        wo["number"],
        2,
        "Pasteurising",
    )


def test_a_line_item_without_an_eligible_resource_is_a_422_naming_it(shop: Shop) -> None:
    off = shop.resource("OFF", active=False)
    wo = shop.work_order([shop.line(None, 30, "Casing")])
    only_off = shop.work_order([shop.line(off, 30, "Labeling")])

    response = shop.request("POST", "/schedule/preview", {"work_order_ids": [wo["id"]]})
    inactive = shop.request("POST", "/schedule/preview", {"work_order_ids": [only_off["id"]]})

    problem = assert_problem(response, 422, "unschedulable")
    assert f"{wo['number']} line item 1 (Casing)" in problem["detail"]
    assert "no resource and no alternative" in problem["detail"]
    assert "OFF is inactive" in assert_problem(inactive, 422, "unschedulable")["detail"]


def test_a_work_order_without_line_items_is_left_out_and_the_rest_is_scheduled(
    shop: Shop,
) -> None:
    """Issue 8: one DRAFT work order without line items no longer makes the whole preview a
    422; it is listed among the skipped work with its reason, and so is the work waiting for
    it (it could not start), while everything else is scheduled and applied."""
    bl1 = shop.resource("BL1")
    empty = shop.work_order([])
    po = shop.production_order(
        [shop.work_order_body([]), shop.work_order_body([shop.line(bl1, 30, "Bottling")])]
    )
    brewing, bottling = po["work_orders"]
    ok(shop.request("PATCH", f"/work-orders/{bottling['id']}", {"depends_on": [brewing["id"]]}))
    fine = shop.work_order([shop.line(bl1, 60)], due=at(4))

    proposal = shop.preview()

    assert [w["number"] for w in proposal["work_orders"]] == [fine["number"]]
    assert planned(proposal, fine)["action"] == "schedule"
    assert {h["number"]: (h["state"], h["reason"]) for h in proposal["skipped"]} == {
        empty["number"]: ("DRAFT", "it has no line items"),
        brewing["number"]: ("DRAFT", "it has no line items"),
        bottling["number"]: ("DRAFT", f"it waits for {brewing['number']}, which is left out"),
    }
    assert (proposal["summary"]["work_orders"], proposal["summary"]["skipped"]) == (1, 3)
    only_it = shop.preview(work_order_ids=[empty["id"]])
    assert (only_it["work_orders"], only_it["skipped"][0]["reason"]) == ([], "it has no line items")

    applied = shop.apply(proposal=proposal)

    assert applied["scheduled"] == [fine["number"]]
    assert [shop.get(w)["state"] for w in (empty, brewing, bottling, fine)] == [
        "DRAFT",
        "DRAFT",
        "DRAFT",
        "SCHEDULED",
    ]


# --- reading -------------------------------------------------------------------------------


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _populate(shop: Shop, copies: int) -> None:
    """Of every kind of work `copies` times: an order whose second work order waits for the
    first (with an alternative resource), one that waits for completed work, work in
    process and pinned work."""
    bl1, bl2 = shop.resource(), shop.resource()
    shop.add_exception("resources", bl1["id"], "MAINTENANCE", at(50), at(51))
    for n in range(copies):
        po = shop.production_order(
            [shop.work_order_body([shop.line(bl1, 30, alternatives=[(bl2, 40)])])] * 4
        )
        a, b, done, c = (shop.get(w) for w in po["work_orders"])
        ok(shop.request("PATCH", f"/work-orders/{b['id']}", {"depends_on": [a["id"]]}))
        ok(shop.request("PATCH", f"/work-orders/{c['id']}", {"depends_on": [done["id"]]}))
        scheduled_at(shop, done, (100 + n, 100.5 + n))
        done = shop.act(done, "start")
        shop.act(done, f"line-items/{done['line_items'][0]['id']}/report", {"done": True})
        shop.act(done, "complete", {})
        running = shop.work_order([shop.line(bl1, 30)])
        scheduled_at(shop, running, (10 + n, 10.5 + n))
        shop.act(running, "start")
        pinned = shop.work_order([shop.line(bl2, 30)])
        scheduled_at(shop, pinned, (20 + n, 20.5 + n))
        ok(shop.request("PATCH", f"/work-orders/{pinned['id']}", {"pinned": True}))


def test_the_problem_is_read_in_a_fixed_number_of_queries(
    client: TestClient, app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    counts = []
    for t, copies in ((tenant, 1), (other_tenant, 4)):
        _populate(Shop.open(client, t), copies)
        with app.state.session_factory() as session, counting(app.state.engine) as statements:
            plan = load.build_plan(session, t.org_id, snapshots.Scope(), H0)
            session.rollback()
        assert len(plan.movable) == 3 * copies
        assert len(plan.fixed) == 2 * copies
        counts.append(len(statements))

    assert counts[0] == counts[1]
    assert counts[0] <= 14


def test_the_service_proposal_is_the_one_the_api_answers(shop: Shop, session: Session) -> None:
    bl1 = shop.resource()
    shop.work_order([shop.line(bl1, 60)], due=at(1))

    result = checked_preview(session, shop.tenant, seed=3)

    assert result.out.method == result.proposal.method
    assert result.out.value == result.proposal.value
    assert check_proposal(result.plan.problem, result.proposal) == []
    assert shop.preview(seed=3)["work_orders"] == result.out.model_dump(mode="json")["work_orders"]


def test_fixed_windows_given_to_the_second_are_worked_around_without_conflict(
    shop: Shop, session: Session
) -> None:
    """Work booked by hand to the second: new work starts at the next whole minute after it,
    and two such windows that touch within a minute are no overlap."""
    bl1 = shop.resource()
    first = shop.work_order([shop.line(bl1, 60)])
    second = shop.work_order([shop.line(bl1, 60)])
    seconds = timedelta(seconds=30)
    for wo, start in ((first, at(0) + seconds), (second, at(1) + seconds)):
        li = wo["line_items"][0]
        window = {"id": li["id"], "planned_start": start.isoformat()}
        window["planned_end"] = (start + timedelta(hours=1)).isoformat()
        shop.act(wo, "schedule", {"line_items": [window]})
        shop.act(wo, "start")
    new = shop.work_order([shop.line(bl1, 30)])

    checked_preview(session, shop.tenant)
    applied = shop.apply()

    assert applied["scheduled"] == [new["number"]]
    li = shop.get(new)["line_items"][0]
    assert parse(li["planned_start"]) == at(2) + timedelta(minutes=1)
