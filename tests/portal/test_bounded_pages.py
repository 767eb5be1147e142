"""The plant pages show the worst few and how many there are, whatever the size of the plant
(on SQLite and PostgreSQL): the dashboard's late and at-risk work, the shop floor's queue a
page at a time (the work in process first), the queue's refresh stamp per page."""

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.orders import production
from taktline.orders.schemas import (
    LineItemIn,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    WorkOrderFields,
)
from taktline.portal.queries import QUEUE_PAGE
from tests.helpers.api import API
from tests.helpers.counts import db_counts
from tests.helpers.tenants import Tenant
from tests.portal.conftest import csrf_of, signed_in
from tests.portal.test_plant_pages import (
    T0,
    Plant,
    api_ok,
    floor_forms,
    get_wo,
    make_plant,
    page,
)

Json = dict[str, object]


@pytest.fixture
def plant(client: TestClient, tenant: Tenant) -> Plant:
    return make_plant(client, tenant)


def _scheduled_order(
    app: FastAPI,
    tenant: Tenant,
    plant: Plant,
    n: int,
    *,
    minutes: int = 30,
    due: list[timedelta | None] | None = None,
) -> list[Json]:
    """n work orders of one line item each on the plant's first resource, scheduled one
    after another from T0 through the services (`minutes` each); `due`: each one's due date
    from its planned end. Returns them through the API, in planned order."""
    actor = tenant.actor("planner")

    def _due(k: int) -> datetime | None:
        after = due[k] if due is not None else None
        return None if after is None else T0 + (k + 1) * timedelta(minutes=minutes) + after

    item = uuid.UUID(str(plant.item["id"]))
    r0 = uuid.UUID(plant.ids[0])
    with app.state.session_factory() as session:
        po = production.create_production_order(
            session,
            actor,
            ProductionOrderCreate(
                items=[ProductionOrderItemIn(item_id=item, quantity=Decimal(10 * n))],
                work_orders=[
                    WorkOrderFields(
                        item_id=item,
                        quantity=Decimal(10),
                        due_date=_due(k),
                        line_items=[
                            LineItemIn(operation="Filling", resource_id=r0, setup_minutes=minutes)
                        ],
                    )
                    for k in range(n)
                ],
            ),
        )
        production.schedule(session, actor, po.id, start=T0)
        po_id = po.id
    return [{"id": str(i)} for i in _work_order_ids(app, po_id)]


def _work_order_ids(app: FastAPI, po_id: uuid.UUID) -> list[uuid.UUID]:
    """A production order's work orders, in the order they were made (and planned)."""
    from sqlalchemy import select

    from taktline.orders.models import WorkOrder

    with app.state.session_factory() as session:
        return list(
            session.scalars(
                select(WorkOrder.id)
                .where(WorkOrder.production_order_id == po_id)
                .order_by(WorkOrder.planned_start)
            )
        )


def _queue(html: str) -> list[str]:
    """The work order numbers of a floor page's cards, in order."""
    queue = html.split('<ol class="queue"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<a href="/work-orders/[^"]+"(?: id="wo-[^"]+")?>(WO-\d+)</a>', queue)


def test_the_floor_shows_its_queue_a_page_at_a_time_the_work_in_process_first(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    wos = _scheduled_order(app, tenant, plant, 2 * QUEUE_PAGE + 5)
    numbers = [get_wo(client, tenant, str(w["id"]))["number"] for w in wos]
    # Two late in the queue are under way: they come first.
    running = [numbers[30], numbers[40]]
    for k in (30, 40):
        api_ok(client, tenant, str(wos[k]["id"]), "start")
    r0 = plant.ids[0]
    signed_in(client, tenant, "operator")

    first = page(client, f"/floor/{r0}")
    second = page(client, f"/floor/{r0}?page=2")
    third = page(client, f"/floor/{r0}?page=3")
    beyond = page(client, f"/floor/{r0}?page=4")

    waiting = [n for n in numbers if n not in running]
    assert _queue(first) == running + waiting[: QUEUE_PAGE - 2]
    assert _queue(first) + _queue(second) + _queue(third) == running + waiting
    assert len(_queue(third)) == 5
    assert f"{len(numbers)} to do" in first
    assert "Page 1 of 3" in first
    assert f'href="/floor/{r0}?page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    assert f'href="/floor/{r0}" rel="prev"' in second
    assert f'href="/floor/{r0}?page=3" rel="next"' in second
    assert 'rel="next"' not in third
    assert _queue(beyond) == []
    assert "Nothing more is queued" in beyond
    assert client.get(f"/floor/{r0}?page=0").status_code == 422
    assert client.get(f"/floor/{r0}?page=many").status_code == 422
    # The work in process can be reported from the first page.
    assert f"/floor/{r0}/work-orders/{wos[30]['id']}/pause" in floor_forms(first)


def test_each_page_of_the_queue_has_its_own_refresh_stamp(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    wos = _scheduled_order(app, tenant, plant, QUEUE_PAGE + 3)
    r0 = plant.ids[0]
    signed_in(client, tenant, "operator")

    def stamp(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200
        return str(response.json()["stamp"])

    second = page(client, f"/floor/{r0}?page=2")
    first_stamp, second_stamp = stamp(f"/floor/{r0}/stamp"), stamp(f"/floor/{r0}/stamp?page=2")
    assert f'data-stamp-url="/floor/{r0}/stamp?page=2"' in second
    assert f'data-stamp="{second_stamp}"' in second
    assert first_stamp != second_stamp

    # Work on the second page changes its stamp; the first page shows the same work, but
    # work moves up to it (the one started comes first): its stamp changes too.
    api_ok(client, tenant, str(wos[-1]["id"]), "start")
    assert stamp(f"/floor/{r0}/stamp?page=2") != second_stamp
    assert stamp(f"/floor/{r0}/stamp") != first_stamp


def test_a_refused_action_shows_the_page_of_the_queue_with_its_work_order(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    wos = _scheduled_order(app, tenant, plant, 2 * QUEUE_PAGE + 2)
    last = get_wo(client, tenant, str(wos[-1]["id"]))
    r0 = plant.ids[0]
    signed_in(client, tenant, "operator")
    csrf = csrf_of(page(client, f"/floor/{r0}"))
    before = db_counts(app.state.engine)

    refused: httpx.Response = client.post(
        f"/floor/{r0}/work-orders/{last['id']}/complete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )

    assert refused.status_code == 409
    assert "Page 3 of 3" in refused.text
    assert last["number"] in _queue(refused.text)
    assert 'role="alert"' in refused.text
    assert db_counts(app.state.engine) == before


def test_the_dashboard_lists_the_latest_few_and_counts_all_late_and_at_risk_work(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    # 25 late by 5 to 125 minutes, 3 at risk (1 to 3 hours to spare), 2 on time.
    due: list[timedelta | None] = [timedelta(minutes=-5 * (k + 1)) for k in range(25)]
    due += [timedelta(hours=k) for k in (1, 2, 3)] + [timedelta(days=3), None]
    wos = _scheduled_order(app, tenant, plant, len(due), due=due)
    numbers = [get_wo(client, tenant, str(w["id"]))["number"] for w in wos]
    signed_in(client, tenant, "viewer")

    html = page(client, "/")

    section = html.split('id="due-h"', 1)[1].split("</section>", 1)[0]
    shown = re.findall(r">(WO-\d+)</a>", section)
    assert "25 late · 3 at risk" in section
    assert "The 20 latest of 28 are shown." in section
    # The latest first: the one 125 minutes late, then 120, ...
    assert shown == numbers[:25][::-1][:20]
    response = client.get(f"{API}/work-orders/{wos[0]['id']}", headers=tenant.headers("viewer"))
    assert response.json()["punctuality"] == "LATE"
