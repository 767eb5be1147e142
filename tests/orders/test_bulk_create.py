"""A production order of a thousand work orders of three line items each, in one request:
created exactly as a small one is (every row and event, numbers in order, defaults filled
in), and refused as a whole, with the place of each mistake, when any part is wrong."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from taktline.events.models import Event
from taktline.orders.models import LineItem, LineItemAlternative, WorkOrder
from taktline.orders.schemas import MAX_WORK_ORDERS
from tests.helpers import API, Tenant, assert_problem, bodies, create, db_counts, error_fields

BULK = 1000
START = datetime(2031, 3, 3, 6, 0, tzinfo=UTC)


def _plant(client: TestClient, tenant: Tenant) -> tuple[list[str], list[str]]:
    facility = create(client, tenant, "/facilities", bodies.facility())
    resources = [
        create(client, tenant, "/resources", bodies.resource(facility["id"]))["id"]
        for _ in range(4)
    ]
    items = [create(client, tenant, "/items", bodies.item(unit="case"))["id"] for _ in range(7)]
    return items, resources


def _body(items: list[str], resources: list[str], n: int = BULK) -> dict[str, Any]:
    def work_order(i: int) -> dict[str, Any]:
        start = START + timedelta(hours=i)
        wo: dict[str, Any] = {
            "item_id": items[i % len(items)],
            "quantity": str(100 + i),
            "priority": i % 101,
            "line_items": [
                {
                    "operation": f"Step {k}",
                    "resource_id": resources[(i + k) % len(resources)],
                    "setup_minutes": "15",
                    "run_minutes_per_unit": "0.05",
                    "planned_start": (start + timedelta(minutes=20 * k)).isoformat(),
                    "planned_end": (start + timedelta(minutes=20 * k + 15)).isoformat(),
                    "interruptible": k == 2,
                    "alternatives": (
                        [{"resource_id": resources[(i + k + 1) % len(resources)]}]
                        if i % 10 == 0
                        else []
                    ),
                }
                for k in range(3)
            ],
        }
        if i % 2:
            wo["due_date"] = (START + timedelta(days=3)).isoformat()
            wo["unit"] = "pallet"
        return wo

    return {
        "reference": "BULK-1",
        "due_date": (START + timedelta(days=7)).isoformat(),
        "items": [{"item_id": items[0], "quantity": "100000"}],
        "work_orders": [work_order(i) for i in range(n)],
    }


def _count(app: FastAPI, model: Any, *where: Any) -> int:
    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_thousand_work_orders_are_one_request(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    items, resources = _plant(client, tenant)
    body = _body(items, resources)
    assert BULK <= MAX_WORK_ORDERS

    po = create(client, tenant, "/production-orders", body)

    wos = po["work_orders"]
    assert len(wos) == BULK
    first = int(wos[0]["number"].removeprefix("WO-"))
    assert [wo["number"] for wo in wos] == [f"WO-{first + i:06d}" for i in range(BULK)]
    assert [wo["item_id"] for wo in wos] == [w["item_id"] for w in body["work_orders"]]
    assert {wo["state"] for wo in wos} == {"DRAFT"}
    assert po["summary"]["count"] == BULK
    assert _count(app, LineItem, LineItem.org_id == tenant.org_id) == 3 * BULK
    assert _count(app, LineItemAlternative, LineItemAlternative.org_id == tenant.org_id) == 300
    # One create event per work order, in the order of the body, after the order's own.
    with app.state.session_factory() as session:
        trail = session.execute(
            select(Event.entity_type, Event.entity_id, Event.action, Event.to_state, Event.changes)
            .where(Event.org_id == tenant.org_id, Event.action == "create")
            .where(Event.entity_type.in_(["production_order", "work_order"]))
            .order_by(Event.id)
        ).all()
    assert [(t, str(e)) for t, e, *_ in trail] == [("production_order", po["id"])] + [
        ("work_order", wo["id"]) for wo in wos
    ]
    assert {(a, s) for _, _, a, s, _ in trail[1:]} == {("create", "DRAFT")}
    assert trail[1][4]["line_items"][2]["interruptible"] is True
    assert trail[1][4]["item_id"] == items[0]


def test_a_bulk_work_order_is_the_one_a_single_request_makes(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    items, resources = _plant(client, tenant)
    body = _body(items, resources, n=20)
    po = create(client, tenant, "/production-orders", body)
    headers = tenant.headers()

    alone = body["work_orders"][11] | {"production_order_id": po["id"]}
    single = create(client, tenant, "/work-orders", alone)
    bulk = client.get(f"{API}/work-orders/{po['work_orders'][11]['id']}", headers=headers).json()

    different = {"id", "number", "created_at", "updated_at", "allowed_actions"}
    same = {k: v for k, v in bulk.items() if k not in different | {"line_items"}}
    assert same == {k: v for k, v in single.items() if k not in different | {"line_items"}}
    # the defaults: the item's unit unless given, the order's due date unless given, the
    # window of the line items
    assert bulk["unit"] == "pallet"
    assert bulk["due_date"] == "2031-03-06T06:00:00Z"
    even = client.get(f"{API}/work-orders/{po['work_orders'][10]['id']}", headers=headers).json()
    assert (even["unit"], even["due_date"]) == ("case", "2031-03-10T06:00:00Z")
    assert even["planned_start"] == "2031-03-03T16:00:00Z"
    assert even["planned_end"] == "2031-03-03T16:55:00Z"
    assert even["line_items"][0]["alternatives"][0]["resource"]["id"] == resources[3]
    strip = {"id"}
    assert [{k: v for k, v in li.items() if k not in strip} for li in bulk["line_items"]] == [
        {k: v for k, v in li.items() if k not in strip} for li in single["line_items"]
    ]
    assert bulk["quantity"] == "111"


def test_more_work_orders_than_the_limit_are_refused(client: TestClient, tenant: Tenant) -> None:
    items, resources = _plant(client, tenant)
    body = _body(items, resources, n=1)
    body["work_orders"] = body["work_orders"] * (MAX_WORK_ORDERS + 1)

    response = client.post(f"{API}/production-orders", json=body, headers=tenant.headers())

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == ["body.work_orders"]


def test_one_wrong_reference_refuses_all_thousand_and_says_where(
    client: TestClient, app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    items, resources = _plant(client, tenant)
    foreign = create(client, other_tenant, "/items", bodies.item())["id"]
    body = _body(items, resources)
    body["work_orders"][837]["item_id"] = foreign
    body["work_orders"][901]["item_id"] = foreign
    before = db_counts(app.state.engine)

    response = client.post(f"{API}/production-orders", json=body, headers=tenant.headers())

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == [
        "body.work_orders.837.item_id",
        "body.work_orders.901.item_id",
    ]
    assert db_counts(app.state.engine) == before


def test_a_wrong_resource_deep_in_the_body_is_named(
    client: TestClient, app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    items, resources = _plant(client, tenant)
    other_facility = create(client, other_tenant, "/facilities", bodies.facility())
    foreign = create(client, other_tenant, "/resources", bodies.resource(other_facility["id"]))
    body = _body(items, resources)
    body["work_orders"][990]["line_items"][2]["alternatives"] = [{"resource_id": foreign["id"]}]
    before = db_counts(app.state.engine)

    response = client.post(f"{API}/production-orders", json=body, headers=tenant.headers())

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == ["body.work_orders.990.line_items.2.alternatives.0.resource_id"]
    assert db_counts(app.state.engine) == before
    assert _count(app, WorkOrder, WorkOrder.org_id == tenant.org_id) == 0
