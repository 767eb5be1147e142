"""Builders for API tests: a plant (facility, resources, an item), production orders and work
orders created through the HTTP API, the lifecycle actions, and records driven to any state.

Everything goes through `client` with a `tenant`'s headers (see tests/conftest.py), so what a
test builds is exactly what a client of the API could build. Each builder asserts its answer
and returns the JSON body.

    plant = make_plant(client, tenant)                       # 1 facility, 3 resources, 1 item
    wo = make_work_order(client, tenant, plant, start=2)     # 2 line items, windows from T0+2h
    po = make_production_order(client, tenant, plant, work_orders=2)
    wo = work_order_in_state(client, tenant, plant, "IN_PROCESS")
    response = work_order_action(client, tenant, wo, "pause")   # the raw answer
    wo = get_work_order(client, tenant, wo["id"])

`World` bundles the client, a tenant, its plant and the database engine, with shorthands
(`w.get`, `w.act`, `w.ok`, `w.in_state`, `w.bookings`, `w.counts`, ...); a test module
makes one with `make_world(app, client, tenant)` in a fixture of its own.

Times are laid out from T0 (a Monday in 2030, far from "now"); `at(hours)` is T0 + hours.
Default work orders make 100 units on two line items of one hour each (30 min setup + 0.3
min per unit), "Bottling" on the plant's first resource and "Labeling" on its second, back
to back, so `schedule` with `start` lays them out to the same windows.
"""

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from taktline.resources.models import ResourceBooking
from tests.helpers import bodies
from tests.helpers.counts import db_counts
from tests.helpers.tenants import Tenant

API = "/api/v1"
T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
STATES = ("DRAFT", "SCHEDULED", "IN_PROCESS", "COMPLETED", "CANCELED", "DELETED")
WORK_ORDER_ACTIONS = (
    "update",
    "schedule",
    "unschedule",
    "start",
    "pause",
    "resume",
    "report",
    "skip",
    "complete",
    "cancel",
    "delete",
)
PRODUCTION_ORDER_ACTIONS = ("update", "schedule", "cancel", "delete")
DEFAULT_OPERATIONS = ("Bottling", "Labeling")
DEFAULT_QUANTITY = "100"
Json = dict[str, Any]

_serial = itertools.count(1)


def at(hours: float) -> datetime:
    """T0 plus `hours`."""
    return T0 + timedelta(hours=hours)


def iso(hours: float) -> str:
    """T0 plus `hours`, as the ISO 8601 string a client sends."""
    return at(hours).isoformat()


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def expect(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of `response`, after checking its status (the body is shown if not)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, "
        f"got {response.status_code}: {response.text}"
    )
    return response.json()


def expect_object(response: httpx.Response, status: int = 200) -> Json:
    """`expect` for an answer whose body is a JSON object (a record)."""
    body = expect(response, status)
    assert isinstance(body, dict), body
    return body


# --- the plant -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    """A facility with its resources and the item the work orders make."""

    facility: Json
    resources: list[Json]
    item: Json

    @property
    def resource_ids(self) -> list[str]:
        return [r["id"] for r in self.resources]


def make_facility(client: TestClient, tenant: Tenant, **changes: Any) -> Json:
    return expect_object(
        client.post(f"{API}/facilities", json=bodies.facility(**changes), headers=tenant.headers()),
        201,
    )


def make_item(client: TestClient, tenant: Tenant, **changes: Any) -> Json:
    return expect_object(
        client.post(f"{API}/items", json=bodies.item(**changes), headers=tenant.headers()), 201
    )


def make_resource(client: TestClient, tenant: Tenant, facility_id: str, **changes: Any) -> Json:
    """A resource (a LINE, 0-1000 gal, one job at a time unless `parallel_capacity` says)."""
    body = bodies.resource(facility_id, **changes)
    return expect_object(client.post(f"{API}/resources", json=body, headers=tenant.headers()), 201)


def make_plant(
    client: TestClient,
    tenant: Tenant,
    *,
    resources: int = 3,
    parallel_capacity: int | Sequence[int] = 1,
) -> Plant:
    """A facility, `resources` resources in it and one item (unit "ea").

    `parallel_capacity` is for every resource, or one per resource."""
    facility = make_facility(client, tenant)
    capacities = (
        [parallel_capacity] * resources
        if isinstance(parallel_capacity, int)
        else list(parallel_capacity)
    )
    assert len(capacities) == resources
    made = [
        make_resource(client, tenant, facility["id"], parallel_capacity=capacity)
        for capacity in capacities
    ]
    return Plant(facility=facility, resources=made, item=make_item(client, tenant))


def allow_over_production(client: TestClient, tenant: Tenant, percent: str = "5") -> None:
    """The organisation accepts `percent` more than can reach a line item (0 % unless set)."""
    expect(
        client.patch(
            f"{API}/organisation",
            json={"over_production_tolerance_percent": percent},
            headers=tenant.headers("admin"),
        )
    )


# --- bodies ----------------------------------------------------------------------------------


def line_item_bodies(
    resource_ids: Sequence[str],
    *,
    start: float | None = 0,
    hours: float = 1,
    operations: Sequence[str] | None = None,
    setup_minutes: str = "30",
    run_minutes_per_unit: str = "0.3",
) -> list[Json]:
    """One line item per resource, in that order, with back-to-back windows of `hours` each
    from T0 + `start` hours (no windows when `start` is None)."""
    names = list(operations or [f"Operation {i}" for i in range(1, len(resource_ids) + 1)])
    result = []
    for i, (resource_id, operation) in enumerate(zip(resource_ids, names, strict=True)):
        body: Json = {
            "operation": operation,
            "resource_id": resource_id,
            "setup_minutes": setup_minutes,
            "run_minutes_per_unit": run_minutes_per_unit,
        }
        if start is not None:
            body["planned_start"] = iso(start + i * hours)
            body["planned_end"] = iso(start + (i + 1) * hours)
        result.append(body)
    return result


def work_order_body(
    plant: Plant,
    *,
    start: float | None = 0,
    resources: Sequence[str] | None = None,
    operations: Sequence[str] | None = None,
    quantity: str = DEFAULT_QUANTITY,
    **changes: Any,
) -> Json:
    """A work order of `quantity` of the plant's item, with a line item per resource (the
    first two of the plant by default) laid out back to back, one hour each, from T0 +
    `start` hours; `start=None` leaves the windows out."""
    resource_ids = list(resources) if resources is not None else plant.resource_ids[:2]
    if operations is None:
        operations = (
            DEFAULT_OPERATIONS
            if len(resource_ids) == len(DEFAULT_OPERATIONS)
            else [f"Operation {i}" for i in range(1, len(resource_ids) + 1)]
        )
    body: Json = {
        "item_id": plant.item["id"],
        "quantity": quantity,
        "line_items": line_item_bodies(resource_ids, start=start, operations=operations),
    }
    return {**body, **changes}


# --- work orders and production orders ---------------------------------------------------


def make_work_order(
    client: TestClient,
    tenant: Tenant,
    plant: Plant,
    *,
    production_order_id: str | None = None,
    **body: Any,
) -> Json:
    """A DRAFT work order (see `work_order_body` for the keywords), in a production order
    when `production_order_id` is given."""
    payload = work_order_body(plant, **body)
    if production_order_id is not None:
        payload["production_order_id"] = production_order_id
    return expect_object(
        client.post(f"{API}/work-orders", json=payload, headers=tenant.headers()), 201
    )


def make_production_order(
    client: TestClient,
    tenant: Tenant,
    plant: Plant,
    *,
    work_orders: int | Sequence[Mapping[str, Any]] = 1,
    start: float = 0,
    quantity: str = DEFAULT_QUANTITY,
    **changes: Any,
) -> Json:
    """A DRAFT production order for `quantity` of the plant's item, created in one request
    with its work orders: `work_orders` default bodies (the i-th laid out from T0 + `start`
    + 2*i hours, so that none overlaps another), or the given work order bodies."""
    if isinstance(work_orders, int):
        wo_bodies: list[Mapping[str, Any]] = [
            work_order_body(plant, start=start + 2 * i, quantity=quantity)
            for i in range(work_orders)
        ]
    else:
        wo_bodies = list(work_orders)
    payload: Json = {
        "reference": f"REF-{next(_serial):05d}",
        "items": [{"item_id": plant.item["id"], "quantity": quantity}],
        "work_orders": list(wo_bodies),
        **changes,
    }
    return expect_object(
        client.post(f"{API}/production-orders", json=payload, headers=tenant.headers()), 201
    )


def get_work_order(client: TestClient, tenant: Tenant, wo_id: str) -> Json:
    return expect_object(client.get(f"{API}/work-orders/{wo_id}", headers=tenant.headers("viewer")))


def get_production_order(client: TestClient, tenant: Tenant, po_id: str) -> Json:
    return expect_object(
        client.get(f"{API}/production-orders/{po_id}", headers=tenant.headers("viewer"))
    )


def work_order_events(client: TestClient, tenant: Tenant, wo_id: str) -> list[Json]:
    return list(
        expect(client.get(f"{API}/work-orders/{wo_id}/events", headers=tenant.headers("viewer")))
    )


def production_order_events(client: TestClient, tenant: Tenant, po_id: str) -> list[Json]:
    """The order's events and its work orders', oldest first."""
    return list(
        expect(
            client.get(f"{API}/production-orders/{po_id}/events", headers=tenant.headers("viewer"))
        )
    )


# --- actions -----------------------------------------------------------------------------------


def default_action_body(action: str) -> Json | None:
    """A valid body for a work order or production order action (None: no body)."""
    if action in ("pause", "cancel", "skip"):
        return {"reason": f"{action} in a test"}
    if action == "report":
        return {"quantity_completed": "10"}
    if action == "update":
        return {"priority": 77, "instructions": "Handle with care"}
    return None


def work_order_action(
    client: TestClient,
    tenant: Tenant,
    wo: Mapping[str, Any],
    action: str,
    body: Mapping[str, Any] | None = None,
    *,
    line_item: int = 0,
    role: str = "planner",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Takes `action` (one of WORK_ORDER_ACTIONS) on the work order and returns the raw
    answer. `report` and `skip` act on the line item at index `line_item`; `body` defaults
    to `default_action_body(action)`."""
    wo_id = wo["id"]
    payload = dict(body) if body is not None else default_action_body(action)
    all_headers = {**tenant.headers(role), **(headers or {})}
    base = f"{API}/work-orders/{wo_id}"
    response: httpx.Response
    if action == "update":
        response = client.patch(base, json=payload, headers=all_headers)
    elif action == "delete":
        response = client.delete(base, headers=all_headers)
    elif action in ("report", "skip"):
        line_item_id = wo["line_items"][line_item]["id"]
        response = client.post(
            f"{base}/line-items/{line_item_id}/{action}", json=payload, headers=all_headers
        )
    else:
        response = client.post(f"{base}/{action}", json=payload, headers=all_headers)
    return response


def production_order_action(
    client: TestClient,
    tenant: Tenant,
    po: Mapping[str, Any],
    action: str,
    body: Mapping[str, Any] | None = None,
    *,
    role: str = "planner",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Takes `action` (one of PRODUCTION_ORDER_ACTIONS) on the order; the raw answer."""
    payload = dict(body) if body is not None else default_action_body(action)
    if action == "update" and body is None:
        payload = {"priority": 77, "notes": "Rush order"}
    all_headers = {**tenant.headers(role), **(headers or {})}
    base = f"{API}/production-orders/{po['id']}"
    response: httpx.Response
    if action == "update":
        response = client.patch(base, json=payload, headers=all_headers)
    elif action == "delete":
        response = client.delete(base, headers=all_headers)
    else:
        response = client.post(f"{base}/{action}", json=payload, headers=all_headers)
    return response


def act_on_work_order(
    client: TestClient,
    tenant: Tenant,
    wo: Mapping[str, Any],
    action: str,
    body: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Json:
    """`work_order_action`, asserting 200; returns the work order as it is now."""
    return expect_object(work_order_action(client, tenant, wo, action, body, **kwargs))


def act_on_production_order(
    client: TestClient,
    tenant: Tenant,
    po: Mapping[str, Any],
    action: str,
    body: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Json:
    """`production_order_action`, asserting 200; returns the order as it is now."""
    return expect_object(production_order_action(client, tenant, po, action, body, **kwargs))


def finish_line_items(client: TestClient, tenant: Tenant, wo: Mapping[str, Any]) -> Json:
    """Reports every line item of an IN_PROCESS work order done with its full quantity."""
    current: Json = dict(wo)
    for index in range(len(wo["line_items"])):
        current = act_on_work_order(
            client,
            tenant,
            current,
            "report",
            {"quantity_completed": wo["quantity"], "done": True},
            line_item=index,
        )
    return current


# --- records in a given state --------------------------------------------------------------


def drive_work_order(client: TestClient, tenant: Tenant, wo: Mapping[str, Any], state: str) -> Json:
    """Moves a DRAFT work order to `state` by the shortest way through the API:
    SCHEDULED (schedule), IN_PROCESS (+ start), COMPLETED (+ every line item reported done,
    complete), CANCELED (cancel from DRAFT), DELETED (delete from DRAFT)."""
    assert wo["state"] == "DRAFT", wo["state"]
    current: Json = dict(wo)
    if state == "DRAFT":
        return current
    if state == "CANCELED":
        return act_on_work_order(client, tenant, current, "cancel")
    if state == "DELETED":
        return act_on_work_order(client, tenant, current, "delete")
    current = act_on_work_order(client, tenant, current, "schedule")
    if state == "SCHEDULED":
        return current
    current = act_on_work_order(client, tenant, current, "start")
    if state == "IN_PROCESS":
        return current
    assert state == "COMPLETED", state
    current = finish_line_items(client, tenant, current)
    return act_on_work_order(client, tenant, current, "complete")


def work_order_in_state(
    client: TestClient,
    tenant: Tenant,
    plant: Plant,
    state: str,
    *,
    in_production_order: bool = True,
    start: float = 0,
) -> Json:
    """A work order in `state` (see `drive_work_order`), alone in a production order of its
    own unless `in_production_order` is False."""
    if in_production_order:
        po = make_production_order(client, tenant, plant, work_orders=1, start=start)
        wo = get_work_order(client, tenant, po["work_orders"][0]["id"])
    else:
        wo = make_work_order(client, tenant, plant, start=start)
    return drive_work_order(client, tenant, wo, state)


def production_order_in_state(
    client: TestClient,
    tenant: Tenant,
    plant: Plant,
    state: str,
    *,
    work_orders: int = 2,
    start: float = 0,
) -> Json:
    """A production order with `work_orders` work orders, moved to `state` through the API:
    SCHEDULED (schedule), IN_PROCESS (+ its first work order started), COMPLETED (+ every
    work order started, finished and completed), CANCELED (cancel from DRAFT), DELETED
    (delete from DRAFT)."""
    po = make_production_order(client, tenant, plant, work_orders=work_orders, start=start)
    if state == "CANCELED":
        act_on_production_order(client, tenant, po, "cancel")
    elif state == "DELETED":
        act_on_production_order(client, tenant, po, "delete")
    elif state != "DRAFT":
        act_on_production_order(client, tenant, po, "schedule")
        wo_ids = [wo["id"] for wo in po["work_orders"]]
        if state == "IN_PROCESS":
            act_on_work_order(client, tenant, {"id": wo_ids[0]}, "start")
        elif state == "COMPLETED":
            for wo_id in wo_ids:
                wo = act_on_work_order(client, tenant, {"id": wo_id}, "start")
                finish_line_items(client, tenant, wo)
                act_on_work_order(client, tenant, wo, "complete")
        else:
            assert state == "SCHEDULED", state
    po = get_production_order(client, tenant, po["id"])
    assert po["state"] == state, po
    return po


def booked_windows(wo: Json) -> list[tuple[str, datetime, datetime]]:
    """The bookings a scheduled work order must hold: one per line item, its window."""
    return sorted(
        (li["resource_id"], parse(li["planned_start"]), parse(li["planned_end"]))
        for li in wo["line_items"]
    )


# --- a test's world ------------------------------------------------------------------------


@dataclass
class World:
    """A test's view of one tenant through the API: its client, its plant and the database
    engine (for row counts and bookings), with shorthands for the builders above."""

    client: TestClient
    tenant: Tenant
    plant: Plant
    engine: Engine

    def get(self, wo_id: str) -> Json:
        return get_work_order(self.client, self.tenant, wo_id)

    def order(self, po_id: str) -> Json:
        return get_production_order(self.client, self.tenant, po_id)

    def act(self, wo: Json, action: str, body: Any = None, **kwargs: Any) -> Any:
        return work_order_action(self.client, self.tenant, wo, action, body, **kwargs)

    def ok(self, wo: Json, action: str, body: Any = None, **kwargs: Any) -> Json:
        return act_on_work_order(self.client, self.tenant, wo, action, body, **kwargs)

    def events(self, wo_id: str) -> list[Json]:
        return work_order_events(self.client, self.tenant, wo_id)

    def order_events(self, po_id: str) -> list[Json]:
        return production_order_events(self.client, self.tenant, po_id)

    def act_on_order(self, po: Json, action: str, body: Any = None, **kwargs: Any) -> Any:
        return production_order_action(self.client, self.tenant, po, action, body, **kwargs)

    def ok_on_order(self, po: Json, action: str, body: Any = None, **kwargs: Any) -> Json:
        return act_on_production_order(self.client, self.tenant, po, action, body, **kwargs)

    def order_in_state(self, state: str, **kwargs: Any) -> Json:
        return production_order_in_state(self.client, self.tenant, self.plant, state, **kwargs)

    def bookings(self, wo_id: str) -> list[tuple[str, datetime, datetime]]:
        """The work order's resource bookings, sorted (resource id, start, end) tuples."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    ResourceBooking.resource_id, ResourceBooking.starts_at, ResourceBooking.ends_at
                ).where(ResourceBooking.work_order_id == uuid.UUID(wo_id))
            ).all()
        return sorted((str(r), s, e) for r, s, e in rows)

    def counts(self) -> dict[str, int]:
        return db_counts(self.engine)

    def in_state(self, state: str, **kwargs: Any) -> Json:
        return work_order_in_state(self.client, self.tenant, self.plant, state, **kwargs)


def make_world(app: FastAPI, client: TestClient, tenant: Tenant, **plant: Any) -> World:
    """A World on a fresh plant (`make_plant` keywords)."""
    return World(client, tenant, make_plant(client, tenant, **plant), app.state.engine)
