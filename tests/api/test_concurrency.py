"""Concurrency on PostgreSQL, over real HTTP: many clients at once, exactly one winner.

Sixteen clients race the same action on the same work order: one succeeds, the others get
409 (412 when they sent If-Match), and the audit trail shows one transition. Work orders
racing for one resource never over-book it, whatever its parallel capacity. Orders created
at the same time get unique, consecutive numbers.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from taktline.resources.models import ResourceBooking
from tests.api.conftest import WINDOW_BASE, Builder, Json
from tests.helpers import API

pytestmark = pytest.mark.postgres_only

CLIENTS = 16
Request = tuple[str, str, Json, dict[str, str]]  # method, path under /api/v1, body, headers


def race(base_url: str, requests: list[Request]) -> list[httpx.Response]:
    """Sends the requests at once, one client (and connection) each, released together."""
    barrier = threading.Barrier(len(requests))

    def send(request: Request) -> httpx.Response:
        method, path, body, headers = request
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get(f"{API}/health")  # connected before the start line
            barrier.wait()
            return http.request(
                method, f"{API}{path}", headers=headers, **({} if body is None else {"json": body})
            )

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def problem_types(responses: list[httpx.Response], status: int) -> set[str]:
    return {r.json()["type"] for r in responses if r.status_code == status}


def events_of(b: Builder, wo: Json, action: str) -> list[Json]:
    return [e for e in b.get(f"/work-orders/{wo['id']}/events") if e["action"] == action]


# The racing action, the state the work order is put in first, its body, the state after.
ACTIONS: dict[str, tuple[str, Json, str]] = {
    "start": ("SCHEDULED", None, "IN_PROCESS"),
    "complete": ("READY", {}, "COMPLETED"),
    "cancel": ("SCHEDULED", {"reason": "the customer called it off"}, "CANCELED"),
    "schedule": ("DRAFT", None, "SCHEDULED"),
    "unschedule": ("SCHEDULED", None, "DRAFT"),
    "pause": ("IN_PROCESS", {"reason": "caps ran out"}, "IN_PROCESS"),
}


@pytest.mark.parametrize("if_match", [False, True], ids=["no If-Match", "If-Match"])
@pytest.mark.parametrize("action", ACTIONS)
def test_many_clients_racing_one_action_on_one_work_order_exactly_one_wins(
    action: str, if_match: bool, live_server: str, builder: Builder
) -> None:
    state, body, after = ACTIONS[action]
    wo = builder.wo_in(state, resource_id=builder.resource()["id"])
    headers = builder.headers(**({"If-Match": f'"{wo["version"]}"'} if if_match else {}))
    path = f"/work-orders/{wo['id']}/{action}"

    responses = race(live_server, [("POST", path, body, headers)] * CLIENTS)

    losing = 412 if if_match else 409
    assert statuses(responses) == {200: 1, losing: CLIENTS - 1}, [r.text for r in responses]
    assert problem_types(responses, losing) == {
        "/problems/version-mismatch" if if_match else "/problems/invalid-transition"
    }
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    now = builder.get(f"/work-orders/{wo['id']}")
    assert now["state"] == winner["state"] == after
    assert now["version"] == wo["version"] + 1
    assert len(events_of(builder, wo, action)) == 1
    if action == "schedule":
        assert len(bookings_of(builder, [wo])) == 1


def test_many_clients_racing_to_delete_a_draft_exactly_one_wins(
    live_server: str, builder: Builder
) -> None:
    wo = builder.wo_in("DRAFT")

    responses = race(
        live_server, [("DELETE", f"/work-orders/{wo['id']}", None, builder.headers())] * CLIENTS
    )

    assert statuses(responses) == {200: 1, 409: CLIENTS - 1}
    assert len(events_of(builder, wo, "delete")) == 1


def test_concurrent_reports_all_add_up(live_server: str, builder: Builder) -> None:
    """Reports add up, they never overwrite: none may be lost to a concurrent one."""
    wo = builder.wo_in("IN_PROCESS")
    path = f"/work-orders/{wo['id']}/line-items/{wo['line_items'][0]['id']}/report"
    body = {"quantity_completed": "1.5", "quantity_scrapped": "0.25"}

    responses = race(live_server, [("POST", path, body, builder.headers("operator"))] * CLIENTS)

    assert statuses(responses) == {200: CLIENTS}
    line = builder.get(f"/work-orders/{wo['id']}")["line_items"][0]
    assert (line["quantity_completed"], line["quantity_scrapped"]) == (
        str(1.5 * CLIENTS).removesuffix(".0"),
        str(0.25 * CLIENTS).removesuffix(".0"),
    )
    assert len(events_of(builder, wo, "report")) == CLIENTS


def test_many_clients_racing_to_schedule_one_production_order_exactly_one_wins(
    live_server: str, builder: Builder
) -> None:
    po = builder.production_order(work_orders=3)

    responses = race(
        live_server,
        [("POST", f"/production-orders/{po['id']}/schedule", None, builder.headers())] * CLIENTS,
    )

    assert statuses(responses) == {200: 1, 409: CLIENTS - 1}
    now = builder.get(f"/production-orders/{po['id']}")
    assert now["state"] == "SCHEDULED"
    assert {wo["state"] for wo in now["work_orders"]} == {"SCHEDULED"}
    schedules = [
        e for e in builder.get(f"/production-orders/{po['id']}/events") if e["action"] == "schedule"
    ]
    assert len(schedules) == 1 + 3  # the order's and each of its work orders'


# --- racing for one resource ---------------------------------------------------------------

T = WINDOW_BASE + timedelta(days=200)


def overlapping_window(n: int) -> tuple[datetime, datetime]:
    """Windows an hour long, each starting a minute after the one before: every two of the
    sixteen overlap, and all of them share [T + 15 min, T + 60 min)."""
    start = T + timedelta(minutes=n)
    return start, start + timedelta(hours=1)


def bookings_of(b: Builder, wos: list[Json]) -> list[ResourceBooking]:
    factory = b.client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        return list(
            session.scalars(
                select(ResourceBooking).where(
                    ResourceBooking.work_order_id.in_([wo["id"] for wo in wos])
                )
            )
        )


def peak(bookings: list[ResourceBooking], resource_id: Any) -> int:
    """The most bookings of the resource running at one instant."""
    points = sorted(
        [(bk.starts_at, 1) for bk in bookings if bk.resource_id == resource_id]
        + [(bk.ends_at, -1) for bk in bookings if bk.resource_id == resource_id]
    )
    most = running = 0
    for _, delta in points:
        running += delta
        most = max(most, running)
    return most


@pytest.mark.parametrize("capacity", [1, 2, 5])
def test_work_orders_racing_for_one_resource_never_over_book_it(
    capacity: int, live_server: str, builder: Builder
) -> None:
    resource = builder.resource(parallel_capacity=capacity)
    wos = [
        builder.ok(
            "POST",
            "/work-orders",
            builder.work_order_body()
            | {"line_items": [builder.line_item(resource["id"], window=overlapping_window(n))]},
        )
        for n in range(CLIENTS)
    ]

    responses = race(
        live_server,
        [("POST", f"/work-orders/{wo['id']}/schedule", None, builder.headers()) for wo in wos],
    )

    assert statuses(responses) == {200: capacity, 409: CLIENTS - capacity}, [
        r.text for r in responses if r.status_code not in (200, 409)
    ]
    assert problem_types(responses, 409) == {"/problems/booking-conflict"}
    winners = {r.json()["number"] for r in responses if r.status_code == 200}
    for loser in (r.json() for r in responses if r.status_code == 409):
        assert any(number in loser["detail"] for number in winners), loser["detail"]
    bookings = bookings_of(builder, wos)
    assert len(bookings) == capacity
    assert peak(bookings, bookings[0].resource_id) == capacity
    states = Counter(builder.get(f"/work-orders/{wo['id']}")["state"] for wo in wos)
    assert states == {"SCHEDULED": capacity, "DRAFT": CLIENTS - capacity}


def test_work_orders_booking_two_resources_in_opposite_orders_do_not_deadlock(
    live_server: str, builder: Builder
) -> None:
    """Half of them run on A then B, half on B then A, all at the same time: the resources
    are locked in one order, so the race ends with one winner rather than a deadlock."""
    a, b = builder.resource(), builder.resource()
    wos = []
    for n in range(CLIENTS):
        first, second = (a, b) if n % 2 else (b, a)
        start, end = overlapping_window(n)
        lines = [
            builder.line_item(first["id"], window=(start, end), operation="Bottling"),
            builder.line_item(
                second["id"], window=(end, end + timedelta(hours=1)), operation="Labeling"
            ),
        ]
        wos.append(
            builder.ok("POST", "/work-orders", builder.work_order_body() | {"line_items": lines})
        )

    responses = race(
        live_server,
        [("POST", f"/work-orders/{wo['id']}/schedule", None, builder.headers()) for wo in wos],
    )

    # Any two of them clash on A or on B, so exactly one can be booked.
    assert statuses(responses) == {200: 1, 409: CLIENTS - 1}, [r.text for r in responses]
    bookings = bookings_of(builder, wos)
    assert peak(bookings, a["id"]) <= 1
    assert peak(bookings, b["id"]) <= 1


# --- numbers -------------------------------------------------------------------------------


def _numbers(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:06d}" for n in range(1, count + 1)]


def test_concurrent_creates_get_unique_consecutive_numbers(
    live_server: str, builder: Builder
) -> None:
    builder.shared_item, builder.shared_resource  # noqa: B018 (made before the race)
    wo_requests: list[Request] = [
        ("POST", "/work-orders", builder.work_order_body(), builder.headers())
        for _ in range(CLIENTS)
    ]
    po_requests: list[Request] = [
        (
            "POST",
            "/production-orders",
            builder.production_order_body(work_orders=2),
            builder.headers(),
        )
        for _ in range(CLIENTS)
    ]

    responses = race(live_server, wo_requests + po_requests)

    assert statuses(responses) == {201: 2 * CLIENTS}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    po_numbers = sorted(b["number"] for b in bodies if b["number"].startswith("PO-"))
    wo_numbers = sorted(
        [b["number"] for b in bodies if b["number"].startswith("WO-")]
        + [wo["number"] for b in bodies if "work_orders" in b for wo in b["work_orders"]]
    )
    assert po_numbers == _numbers("PO", CLIENTS)
    assert wo_numbers == _numbers("WO", 3 * CLIENTS)
    for order in (b for b in bodies if "work_orders" in b):
        first, second = (int(wo["number"][3:]) for wo in order["work_orders"])
        assert second == first + 1, "one order's work orders are numbered together"


# --- the production order's lock: taken only by what may move the order -------------------


def _order_of(b: Builder, count: int, state: str) -> tuple[Json, list[Json]]:
    """A production order of `count` work orders, brought to `state` together (SCHEDULED,
    IN_PROCESS or READY), on a resource that takes them all at once."""
    resource = b.resource(parallel_capacity=count)
    body = b.production_order_body()
    body["work_orders"] = [
        b.work_order_body(resource_id=resource["id"], lines=2, quantity="10") for _ in range(count)
    ]
    po = b.ok("POST", "/production-orders", body)
    b.ok("POST", f"/production-orders/{po['id']}/schedule", None)
    wos = b.get(f"/production-orders/{po['id']}")["work_orders"]
    wos = [b.get(f"/work-orders/{wo['id']}") for wo in wos]
    if state in ("IN_PROCESS", "READY"):
        wos = [b.wo_action(wo, "start") for wo in wos]
    if state == "READY":
        wos = [
            b.report(b.report(wo, 0, quantity_completed="10", done=True), 1, done=True)
            for wo in wos
        ]
    return b.get(f"/production-orders/{po['id']}"), wos


def follows(b: Builder, po: Json) -> list[Json]:
    return [
        e
        for e in b.get(f"/production-orders/{po['id']}/events")
        if e["entity_id"] == po["id"] and e["action"] == "follow"
    ]


def test_the_floor_works_on_an_order_another_transaction_holds_locked(
    live_server: str, builder: Builder
) -> None:
    """Reports, holds and starts once the order is IN_PROCESS cannot move the production
    order, and so do not wait for its lock: they all answer while another transaction holds
    it (were they to wait, they would time out here)."""
    po, (first, second, third) = _order_of(builder, 3, "SCHEDULED")
    first, second = builder.wo_action(first, "start"), builder.wo_action(second, "start")
    engine = builder.client.app.state.engine  # type: ignore[attr-defined]
    line = first["line_items"][0]["id"]
    h = builder.headers("operator")
    with engine.connect() as holder, httpx.Client(base_url=live_server + API, timeout=20) as http:
        holder.exec_driver_sql(
            "SELECT id FROM production_orders WHERE id = %(id)s FOR UPDATE", {"id": po["id"]}
        )
        answers = [
            http.post(
                f"/work-orders/{first['id']}/line-items/{line}/report",
                json={"quantity_completed": "5"},
                headers=h,
            ),
            http.post(f"/work-orders/{second['id']}/pause", json={"reason": "jam"}, headers=h),
            http.post(f"/work-orders/{third['id']}/start", headers=h),
        ]
        holder.rollback()
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json()["line_items"][0]["quantity_completed"] == "5"
    assert builder.get(f"/production-orders/{po['id']}")["state"] == "IN_PROCESS"


def test_work_orders_of_one_order_starting_at_once_move_it_once(
    live_server: str, builder: Builder
) -> None:
    po, wos = _order_of(builder, CLIENTS, "SCHEDULED")

    responses = race(
        live_server,
        [
            ("POST", f"/work-orders/{wo['id']}/start", None, builder.headers("operator"))
            for wo in wos
        ],
    )

    assert statuses(responses) == {200: CLIENTS}, [r.text for r in responses]
    assert builder.get(f"/production-orders/{po['id']}")["state"] == "IN_PROCESS"
    assert [(e["from_state"], e["to_state"]) for e in follows(builder, po)] == [
        ("SCHEDULED", "IN_PROCESS")
    ]


def test_the_last_work_orders_of_an_order_completing_at_once_complete_it(
    live_server: str, builder: Builder
) -> None:
    """Each complete locks the order, so that of the last ones to complete at the same
    time one sees all the others final: the order completes, once."""
    po, wos = _order_of(builder, CLIENTS, "READY")

    responses = race(
        live_server,
        [
            ("POST", f"/work-orders/{wo['id']}/complete", {}, builder.headers("operator"))
            for wo in wos
        ],
    )

    assert statuses(responses) == {200: CLIENTS}, [r.text for r in responses]
    assert builder.get(f"/production-orders/{po['id']}")["state"] == "COMPLETED"
    assert [e["to_state"] for e in follows(builder, po)] == ["IN_PROCESS", "COMPLETED"]


def test_reports_racing_the_cancel_of_their_order_never_deadlock(
    live_server: str, builder: Builder
) -> None:
    """The cancel locks the order, then its work orders; the reports lock only their work
    order. Each report lands before the cancel (and is kept) or after it (refused)."""
    po, wos = _order_of(builder, CLIENTS - 1, "IN_PROCESS")
    reports: list[Request] = [
        (
            "POST",
            f"/work-orders/{wo['id']}/line-items/{wo['line_items'][0]['id']}/report",
            {"quantity_completed": "1"},
            builder.headers("operator"),
        )
        for wo in wos
    ]
    cancel: Request = (
        "POST",
        f"/production-orders/{po['id']}/cancel",
        {"reason": "the customer called it off"},
        builder.headers(),
    )

    responses = race(live_server, [*reports, cancel])

    assert responses[-1].status_code == 200, responses[-1].text
    assert set(statuses(responses[:-1])) <= {200, 409}, [r.text for r in responses]
    for wo, answer in zip(wos, responses, strict=False):
        now = builder.get(f"/work-orders/{wo['id']}")
        assert now["state"] == "CANCELED"
        landed = "1" if answer.status_code == 200 else "0"
        assert now["line_items"][0]["quantity_completed"] == landed
