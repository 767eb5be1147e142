"""The plant pages through a browser's eyes (TestClient, on SQLite and PostgreSQL): the
dashboard, resources, the schedule board and the shop floor, with its forms.

Records are built through the API (or, for the 500 bookings, the services the API calls);
what the portal changes is checked through the API.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine, event, func, select

from taktline.db import utcnow
from taktline.orders import production
from taktline.orders.schemas import (
    LineItemIn,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    WorkOrderFields,
)
from taktline.resources.models import ResourceBooking
from tests.factories import allow_over_production
from tests.helpers import bodies
from tests.helpers.api import API, create
from tests.helpers.counts import db_counts
from tests.helpers.tenants import Tenant
from tests.portal.conftest import csrf_of, signed_in

# A Monday: midnight in Chicago, the plant's zone (bodies.facility), is 06:00 UTC.
T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
DAY = "2030-01-07"
CHICAGO = ZoneInfo("America/Chicago")
Json = dict[str, Any]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- building the plant through the API ------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    facility: Json
    resources: list[Json]
    item: Json

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.resources]


def make_plant(client: TestClient, tenant: Tenant, resources: int = 2) -> Plant:
    facility = create(client, tenant, "/facilities", bodies.facility())
    made = [
        create(client, tenant, "/resources", bodies.resource(facility["id"]))
        for _ in range(resources)
    ]
    return Plant(facility, made, create(client, tenant, "/items", bodies.item()))


def wo_body(
    plant: Plant,
    start: datetime,
    *,
    hours: float = 1,
    resources: list[str] | None = None,
    quantity: str = "100",
    due: datetime | None = None,
) -> Json:
    """A work order with one line item per resource (the plant's first two by default),
    back to back, `hours` each, from `start`."""
    ids = resources if resources is not None else plant.ids[:2]
    body: Json = {
        "item_id": plant.item["id"],
        "quantity": quantity,
        "line_items": [
            {
                "operation": f"Operation {i + 1}",
                "resource_id": rid,
                "setup_minutes": "30",
                "planned_start": (start + timedelta(hours=i * hours)).isoformat(),
                "planned_end": (start + timedelta(hours=(i + 1) * hours)).isoformat(),
            }
            for i, rid in enumerate(ids)
        ],
    }
    if due is not None:
        body["due_date"] = due.isoformat()
    return body


def make_order(
    client: TestClient, tenant: Tenant, plant: Plant, wos: list[Json], *, schedule: bool = True
) -> Json:
    """A production order of these work orders (its item: the sum of their quantities),
    scheduled on their windows unless `schedule` is False."""
    total = sum(Decimal(w["quantity"]) for w in wos)
    po: Json = create(
        client,
        tenant,
        "/production-orders",
        {"items": [{"item_id": plant.item["id"], "quantity": str(total)}], "work_orders": wos},
    )
    if schedule:
        response = client.post(
            f"{API}/production-orders/{po['id']}/schedule", headers=tenant.headers()
        )
        assert response.status_code == 200, response.text
    return po


def get_wo(client: TestClient, tenant: Tenant, wo_id: str) -> Json:
    response = client.get(f"{API}/work-orders/{wo_id}", headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def api_action(
    client: TestClient, tenant: Tenant, wo_id: str, action: str, body: Json | None = None
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{API}/work-orders/{wo_id}/{action}", json=body, headers=tenant.headers()
    )
    return response


def api_ok(client: TestClient, tenant: Tenant, wo_id: str, action: str, body: Json | None = None):
    response = api_action(client, tenant, wo_id, action, body)
    assert response.status_code == 200, response.text
    return response.json()


def api_report(client: TestClient, tenant: Tenant, wo: Json, index: int, body: Json) -> Json:
    li = wo["line_items"][index]["id"]
    response = client.post(
        f"{API}/work-orders/{wo['id']}/line-items/{li}/report", json=body, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def page(client: TestClient, url: str) -> str:
    response: httpx.Response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:2000]}"
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def gantt_svg(html: str) -> str:
    match = re.search(r'<svg class="gantt".*?</svg>\s*</div>', html, re.S)
    assert match is not None, "no Gantt chart on the page"
    return match.group(0)


def bars(svg: str) -> list[tuple[str, str]]:
    """(href, line item id) of each bar of a Gantt chart."""
    return re.findall(r'<a href="([^"]+)" class="bar" data-line-item="([^"]+)"', svg)


def blocks(svg: str) -> list[tuple[str, int, str]]:
    """(href, line items, title) of each busy block of a Gantt chart (a week's)."""
    found = re.findall(
        r'<a href="([^"]+)" class="bar block" data-line-items="(\d+)"><title>([^<]*)</title>', svg
    )
    return [(href.replace("&amp;", "&"), int(n), title) for href, n, title in found]


def floor_forms(html: str) -> list[str]:
    """The actions of the shop floor's forms on a page."""
    return re.findall(r'<form method="post" action="(/floor/[^"]+)"', html)


def table_row(html: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if text in r]
    assert len(rows) == 1, f"{len(rows)} rows with {text!r}"
    return str(rows[0])


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def plant(client: TestClient, tenant: Tenant) -> Plant:
    return make_plant(client, tenant)


# --- every page renders --------------------------------------------------------------------


def test_every_plant_page_renders_for_a_planner(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1)), wo_body(plant, at(3))])
    numbers = [w["number"] for w in po["work_orders"]]
    r0 = plant.ids[0]
    signed_in(client, tenant, "planner")

    dashboard = page(client, "/")
    resources = page(client, "/resources")
    detail = page(client, f"/resources/{r0}")
    day = page(client, f"/board?zoom=day&from={DAY}")
    week = page(client, f"/board?zoom=week&from={DAY}")
    board_now = page(client, "/board")
    picker = page(client, "/floor")
    floor = page(client, f"/floor/{r0}")

    assert po["number"] in dashboard
    for r in plant.resources:
        assert r["code"] in resources
        assert f'href="/resources/{r["id"]}"' in resources
        assert f'href="/floor/{r["id"]}"' in picker
    assert plant.resources[0]["name"] in detail
    assert all(n in detail for n in numbers)
    assert all(n in day and n in week and n in floor for n in numbers)
    assert "Nothing is booked in this period." in board_now
    for html in (dashboard, resources, detail, day, week, picker, floor):
        assert 'aria-current="page"' in html


def test_pages_need_a_signed_in_user(client: TestClient, tenant: Tenant, plant: Plant) -> None:
    for url in ("/", "/resources", f"/resources/{plant.ids[0]}", "/board", "/floor"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_another_organisations_resource_is_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = make_plant(client, other_tenant).ids[0]
    signed_in(client, tenant, "viewer")

    for url in (f"/resources/{theirs}", f"/floor/{theirs}", f"/floor/{theirs}/stamp"):
        assert client.get(url).status_code == 404
    assert theirs not in page(client, "/resources")
    assert theirs not in page(client, "/board")


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_counts_work_orders_by_state_with_links_to_the_list(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    make_order(client, tenant, plant, [wo_body(plant, at(1))], schedule=False)
    po = make_order(client, tenant, plant, [wo_body(plant, at(3)), wo_body(plant, at(5))])
    api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    signed_in(client, tenant, "viewer")

    html = page(client, "/")

    for state, n in (("DRAFT", 1), ("SCHEDULED", 1), ("IN_PROCESS", 1), ("COMPLETED", 0)):
        assert f'href="/work-orders?state={state}" aria-label="{n} {state} work orders"' in html


def test_the_dashboard_lists_late_and_at_risk_work_orders(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    # Each ends 2 hours after it starts (two line items of one hour).
    late = wo_body(plant, at(10), due=at(11))
    at_risk = wo_body(plant, at(20), due=at(24))
    safe = wo_body(plant, at(30), due=at(100))
    po = make_order(client, tenant, plant, [late, at_risk, safe])
    late_no, risk_no, safe_no = (w["number"] for w in po["work_orders"])
    signed_in(client, tenant, "viewer")

    html = page(client, "/")

    assert "LATE" in table_row(html, late_no)
    assert "1 h late" in table_row(html, late_no)
    assert "AT RISK" in table_row(html, risk_no)
    assert "2 h to spare" in table_row(html, risk_no)
    assert safe_no not in html
    assert html.index(late_no) < html.index(risk_no)


def test_the_dashboard_shows_todays_and_this_weeks_hours_per_resource(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    today = utcnow().astimezone(CHICAGO).date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=CHICAGO).astimezone(UTC)
    # 2 hours on the first resource, then 2 hours on the second, from 01:00 today.
    make_order(client, tenant, plant, [wo_body(plant, midnight + timedelta(hours=1), hours=2)])
    signed_in(client, tenant, "viewer")

    html = page(client, "/")

    first = table_row(html, plant.resources[0]["name"])
    cells = re.findall(r'<td class="num">([^<]*)</td>', first)
    assert cells == ["2 h", "2 h"]
    assert "BOTTLENECK" in first or "BOTTLENECK" in table_row(html, plant.resources[1]["name"])


def test_the_dashboard_shows_each_open_production_order_with_its_progress(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1)), wo_body(plant, at(3))])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    wo = api_report(client, tenant, wo, 0, {"quantity_completed": "100", "done": True})
    wo = api_report(client, tenant, wo, 1, {"quantity_completed": "100", "done": True})
    api_ok(client, tenant, wo["id"], "complete")
    signed_in(client, tenant, "viewer")

    row = table_row(page(client, "/"), po["number"])

    assert 'aria-valuenow="50"' in row
    assert "100 / 200 ea" in row
    assert "IN_PROCESS" in row


# --- resources -------------------------------------------------------------------------------


def test_the_resource_page_lists_the_bookings_ahead_and_charts_the_next_14_days(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    today = utcnow().astimezone(CHICAGO).date()
    noon = datetime.combine(today, datetime.min.time(), tzinfo=CHICAGO) + timedelta(days=2, hours=8)
    po = make_order(client, tenant, plant, [wo_body(plant, noon.astimezone(UTC), hours=3)])
    (wo,) = po["work_orders"]
    signed_in(client, tenant, "viewer")

    html = page(client, f"/resources/{plant.ids[0]}")

    row = table_row(html, wo["number"])
    assert f'href="/work-orders/{wo["id"]}"' in row
    assert "Operation 1" in row
    assert "SCHEDULED" in row
    assert "08:00" in row
    assert "11:00" in row
    chart = re.search(r'<svg class="barchart".*?</svg>', html, re.S)
    assert chart is not None
    assert len(re.findall(r'<g class="bar', chart.group(0))) == 14
    assert "24 h available" in chart.group(0)
    assert f"{noon:%a %d %b}: 3 h booked of" in chart.group(0)
    assert 'role="img"' in chart.group(0)
    assert "Load as a table" in html


def test_the_resource_list_shows_this_weeks_booked_hours(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    today = utcnow().astimezone(CHICAGO).date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=CHICAGO).astimezone(UTC)
    make_order(client, tenant, plant, [wo_body(plant, midnight + timedelta(hours=2), hours=1.5)])
    signed_in(client, tenant, "viewer")

    row = table_row(page(client, "/resources"), plant.resources[1]["code"])

    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["1.5 h", "1.5 h"]
    assert "0\N{EN DASH}1,000 gal" in row
    assert "LINE" in row


# --- the schedule board ----------------------------------------------------------------------


def booked_line_items(engine: Engine, wo_ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ResourceBooking.line_item_id).where(
                ResourceBooking.work_order_id.in_([uuid.UUID(i) for i in wo_ids])
            )
        )
        return {str(r) for (r,) in rows}


def test_the_board_draws_one_bar_per_booking_linked_to_its_work_order(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(
        client,
        tenant,
        plant,
        [
            wo_body(plant, at(1)),
            wo_body(plant, at(3)),
            wo_body(plant, at(5)),
            wo_body(plant, at(30)),
        ],
    )
    wos = po["work_orders"]
    api_ok(client, tenant, wos[1]["id"], "start")
    booked = booked_line_items(app.state.engine, [w["id"] for w in wos[:3]])
    assert len(booked) == 6
    signed_in(client, tenant, "viewer")

    svg = gantt_svg(page(client, f"/board?zoom=day&from={DAY}"))

    drawn = bars(svg)
    assert {li for _, li in drawn} == booked
    assert len(drawn) == len(booked)
    hrefs = {href for href, _ in drawn}
    assert hrefs == {f"/work-orders/{w['id']}" for w in wos[:3]}
    for w in wos[:3]:
        assert f"<title>{w['number']} · " in svg
    assert wos[3]["number"] not in svg  # the next day
    assert "fill-SCHEDULED" in svg
    assert "fill-IN_PROCESS" in svg


def test_the_board_zooms_to_a_week_and_pages_by_day_and_week(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1)), wo_body(plant, at(30))])
    signed_in(client, tenant, "viewer")

    day = page(client, f"/board?zoom=day&from={DAY}")
    week = page(client, f"/board?zoom=week&from={DAY}")

    assert len(bars(gantt_svg(day))) == 2
    assert len(bars(gantt_svg(week))) == 4
    assert all(w["number"] in gantt_svg(week) for w in po["work_orders"])
    assert 'href="/board?zoom=day&amp;from=2030-01-06" rel="prev"' in day
    assert 'href="/board?zoom=day&amp;from=2030-01-08" rel="next"' in day
    assert 'href="/board?zoom=week&amp;from=2029-12-31" rel="prev"' in week
    assert 'href="/board?zoom=week&amp;from=2030-01-14" rel="next"' in week
    assert ">Mon 07 Jan<" in week
    assert ">Sun 13 Jan<" in week
    assert client.get("/board?zoom=month").status_code == 422
    assert client.get("/board?from=yesterday").status_code == 422


def test_the_board_keeps_completed_work_in_the_colour_of_its_state(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    wo = api_report(client, tenant, wo, 0, {"quantity_completed": "100", "done": True})
    wo = api_report(client, tenant, wo, 1, {"quantity_completed": "100", "done": True})
    api_ok(client, tenant, wo["id"], "complete")
    signed_in(client, tenant, "viewer")

    svg = gantt_svg(page(client, f"/board?zoom=day&from={DAY}"))

    assert len(bars(svg)) == 2
    assert svg.count("fill-COMPLETED") == 2


def test_a_week_draws_a_resources_line_items_of_a_day_in_one_state_as_one_block(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(
        client,
        tenant,
        plant,
        [
            wo_body(plant, at(1)),
            wo_body(plant, at(3)),
            wo_body(plant, at(5)),
            wo_body(plant, at(30)),
        ],
    )
    wos = po["work_orders"]
    api_ok(client, tenant, wos[1]["id"], "start")
    signed_in(client, tenant, "viewer")

    svg = gantt_svg(page(client, f"/board?zoom=week&from={DAY}"))

    # On each resource, the first day: the two SCHEDULED ones as a block that says how many
    # and links to that day, the one IN_PROCESS its own bar; the next day's alone a bar.
    found = blocks(svg)
    assert [(href, n) for href, n, _ in found] == [(f"/board?zoom=day&from={DAY}", 2)] * 2
    for _, _, title in found:
        assert title.startswith(f"2 line items of {wos[0]['number']} to {wos[2]['number']} · ")
        assert title.endswith(" · SCHEDULED")
    hrefs = sorted(href for href, _ in bars(svg))
    assert hrefs == sorted(
        [f"/work-orders/{wos[1]['id']}"] * 2 + [f"/work-orders/{wos[3]['id']}"] * 2
    )
    assert "fill-IN_PROCESS" in svg


def test_the_board_draws_500_bookings_of_a_week_as_a_few_blocks_and_a_day_bar_by_bar(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    more = [
        create(client, tenant, "/resources", bodies.resource(plant.facility["id"]))
        for _ in range(2)
    ]
    ids = [uuid.UUID(r) for r in plant.ids] + [uuid.UUID(r["id"]) for r in more]
    item = uuid.UUID(plant.item["id"])
    actor = tenant.actor("planner")
    with app.state.session_factory() as session:
        po = production.create_production_order(
            session,
            actor,
            ProductionOrderCreate(
                items=[ProductionOrderItemIn(item_id=item, quantity=Decimal(250 * 10))],
                work_orders=[
                    WorkOrderFields(
                        item_id=item,
                        quantity=Decimal(10),
                        line_items=[
                            LineItemIn(operation=op, resource_id=ids[(i + k) % 4], setup_minutes=20)
                            for k, op in enumerate(("Filling", "Packing"))
                        ],
                    )
                    for i in range(250)
                ],
            ),
        )
        production.schedule(session, actor, po.id, start=T0)
    with app.state.engine.connect() as conn:
        booked = conn.scalar(
            select(func.count())
            .select_from(ResourceBooking)
            .where(ResourceBooking.org_id == tenant.org_id)
        )
    assert booked == 500
    signed_in(client, tenant, "viewer")

    html = page(client, f"/board?zoom=week&from={DAY}")

    # A block (or a bar of one) per resource and day at most, every booking in one of them.
    svg = gantt_svg(html)
    found = blocks(svg)
    assert sum(n for _, n, _ in found) + len(bars(svg)) == 500
    assert len(found) + len(bars(svg)) <= 4 * 7
    assert all(href.startswith("/board?zoom=day&from=2030-01-") for href, _, _ in found)
    assert "500 bookings" in html
    assert len(svg.encode()) < 30_000, f"the SVG is {len(svg.encode())} bytes"
    day = page(client, f"/board?zoom=day&from={DAY}")
    assert 0 < len(bars(gantt_svg(day))) < 500
    assert not blocks(gantt_svg(day))


# --- the shop floor ------------------------------------------------------------------------


def post(client: TestClient, url: str, data: Json) -> httpx.Response:
    response: httpx.Response = client.post(url, data=data, follow_redirects=False)
    return response


def test_an_operator_starts_pauses_resumes_reports_and_completes_from_the_floor(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    allow_over_production(client, tenant)  # 100 completed and 2 scrapped of 100
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = get_wo(client, tenant, po["work_orders"][0]["id"])
    r0, r1 = plant.ids[:2]
    li0, li1 = (li["id"] for li in wo["line_items"])
    base = f"/floor/{r0}/work-orders/{wo['id']}"
    signed_in(client, tenant, "operator")
    html = page(client, f"/floor/{r0}")
    csrf = csrf_of(html)
    assert f"{base}/start" in floor_forms(html)

    started = post(client, f"{base}/start", {"csrf_token": csrf, "version": wo["version"]})
    assert started.status_code == 303
    assert started.headers["location"] == f"/floor/{r0}#wo-{wo['id']}"
    assert f"{wo['number']} started." in page(client, started.headers["location"])
    wo = get_wo(client, tenant, wo["id"])
    assert wo["state"] == "IN_PROCESS"

    paused = post(client, f"{base}/pause", {"csrf_token": csrf, "reason": "Changeover"})
    assert paused.status_code == 303
    assert get_wo(client, tenant, wo["id"])["hold_reason"] == "Changeover"
    held = page(client, f"/floor/{r0}")
    assert f"{base}/resume" in floor_forms(held)
    assert f"{base}/line-items/{li0}/report" not in floor_forms(held)
    assert post(client, f"{base}/resume", {"csrf_token": csrf}).status_code == 303
    assert get_wo(client, tenant, wo["id"])["on_hold"] is False

    report = {
        "csrf_token": csrf,
        "quantity_completed": "100",
        "quantity_scrapped": "2",
        "done": "true",
    }
    reported = post(client, f"{base}/line-items/{li0}/report", report)
    assert reported.status_code == 303
    assert reported.headers["location"] == f"/floor/{r0}#li-{li0}"
    wo = get_wo(client, tenant, wo["id"])
    first = wo["line_items"][0]
    assert (first["status"], first["quantity_completed"], first["quantity_scrapped"]) == (
        "DONE",
        "100",
        "2",
    )

    other = f"/floor/{r1}/work-orders/{wo['id']}"
    assert (
        post(
            client,
            f"{other}/line-items/{li1}/report",
            {"csrf_token": csrf, "quantity_completed": "60"},
        ).status_code
        == 303
    )
    assert (
        post(
            client,
            f"{other}/line-items/{li1}/report",
            {"csrf_token": csrf, "quantity_completed": "38", "done": "true"},
        ).status_code
        == 303
    )
    floor = page(client, f"/floor/{r1}")
    assert f"{other}/complete" in floor_forms(floor)
    completed = post(client, f"{other}/complete", {"csrf_token": csrf})
    assert completed.status_code == 303

    wo = get_wo(client, tenant, wo["id"])
    assert wo["state"] == "COMPLETED"
    assert (wo["quantity_produced"], wo["quantity_scrapped"]) == ("98", "2")
    order = client.get(f"{API}/production-orders/{po['id']}", headers=tenant.headers()).json()
    assert order["state"] == "COMPLETED"
    queue = page(client, f"/floor/{r0}").split('<ol class="queue"', 1)[1]
    assert wo["number"] not in queue


def test_a_viewer_sees_no_action_buttons_but_an_operator_does(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1)), wo_body(plant, at(3))])
    api_ok(client, tenant, po["work_orders"][1]["id"], "start")
    r0 = plant.ids[0]

    signed_in(client, tenant, "viewer")
    viewer = page(client, f"/floor/{r0}")
    signed_in(client, tenant, "operator")
    operator = page(client, f"/floor/{r0}")

    assert all(w["number"] in viewer for w in po["work_orders"])
    assert floor_forms(viewer) == []
    for label in (">Start<", ">Pause…<", ">Resume<", ">Complete<", ">Report<"):
        assert label not in viewer
    actions = {url.rsplit("/", 1)[-1] for url in floor_forms(operator)}
    assert actions == {"start", "pause", "report"}
    assert "<button" not in re.sub(
        r'<form method="post" action="/logout">.*?</form>', "", viewer, flags=re.S
    )


def test_a_viewers_post_is_refused_with_the_apis_message_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo_id = po["work_orders"][0]["id"]
    api_ok(client, tenant, wo_id, "start")
    api_ok(client, tenant, wo_id, "pause", {"reason": "waiting for labels"})
    api = client.post(f"{API}/work-orders/{wo_id}/resume", headers=tenant.headers("viewer"))
    assert api.status_code == 403
    signed_in(client, tenant, "viewer")
    csrf = csrf_of(page(client, "/floor"))
    before = db_counts(app.state.engine)

    response = post(
        client, f"/floor/{plant.ids[0]}/work-orders/{wo_id}/resume", {"csrf_token": csrf}
    )

    assert response.status_code == 403
    assert str(escape(api.json()["detail"])) in response.text
    assert db_counts(app.state.engine) == before
    assert get_wo(client, tenant, wo_id)["on_hold"] is True


def test_a_forged_post_without_the_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = get_wo(client, tenant, po["work_orders"][0]["id"])
    r0 = plant.ids[0]
    signed_in(client, tenant, "operator")
    before = db_counts(app.state.engine)
    base = f"/floor/{r0}/work-orders/{wo['id']}"

    forged = [
        post(client, f"{base}/start", {}),
        post(client, f"{base}/start", {"csrf_token": "guessed"}),
        post(
            client,
            f"{base}/line-items/{wo['line_items'][0]['id']}/report",
            {"quantity_completed": "5"},
        ),
    ]

    assert [r.status_code for r in forged] == [403, 403, 403]
    assert "not sent from Taktline" in forged[0].text
    assert db_counts(app.state.engine) == before
    assert get_wo(client, tenant, wo["id"]) == wo


def test_a_refused_action_shows_the_apis_message_on_the_floor_page(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    r0 = plant.ids[0]
    base = f"/floor/{r0}/work-orders/{wo['id']}"
    api = api_action(client, tenant, wo["id"], "complete")
    assert api.status_code == 409
    signed_in(client, tenant, "operator")
    csrf = csrf_of(page(client, f"/floor/{r0}"))
    before = db_counts(app.state.engine)

    refused = post(client, f"{base}/complete", {"csrf_token": csrf})
    stale = post(client, f"{base}/pause", {"csrf_token": csrf, "reason": "x", "version": "1"})
    empty = post(
        client, f"{base}/line-items/{wo['line_items'][0]['id']}/report", {"csrf_token": csrf}
    )
    no_reason = post(client, f"{base}/pause", {"csrf_token": csrf, "reason": "  "})

    assert refused.status_code == 409
    assert str(escape(api.json()["detail"])) in refused.text
    assert 'role="alert"' in refused.text
    assert stale.status_code == 412
    assert "someone changed it since you read it" in stale.text
    assert empty.status_code == 422
    assert "report a quantity completed or scrapped, or done: true" in empty.text
    assert no_reason.status_code == 422
    assert 'aria-invalid="true"' in no_reason.text
    assert db_counts(app.state.engine) == before
    assert get_wo(client, tenant, wo["id"])["version"] == wo["version"]


def _alerts(text: str) -> list[str]:
    return re.findall(r'<p class="error" role="alert">([^<]*)</p>', text)


def test_a_refused_report_on_the_floor_says_what_is_wrong_in_plain_words(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    r0 = plant.ids[0]
    li = wo["line_items"][0]["id"]
    report = f"/floor/{r0}/work-orders/{wo['id']}/line-items/{li}/report"
    signed_in(client, tenant, "operator")
    csrf = csrf_of(page(client, f"/floor/{r0}"))
    before = db_counts(app.state.engine)

    wrong = post(
        client,
        report,
        {"csrf_token": csrf, "quantity_completed": "-3", "quantity_scrapped": "lots"},
    )
    nothing = post(client, report, {"csrf_token": csrf, "note": "nothing yet"})

    assert wrong.status_code == nothing.status_code == 422
    assert _alerts(wrong.text) == ["Completed must be 0 or more; Scrapped must be a number"]
    assert f'id="qc-err-{li}">Completed must be 0 or more</span>' in wrong.text
    assert f'id="qs-err-{li}">Scrapped must be a number</span>' in wrong.text
    assert 'value="-3"' in wrong.text
    assert _alerts(nothing.text) == [
        str(escape("report a quantity completed or scrapped, or done: true"))
    ]
    for refused in (wrong.text, nothing.text):
        assert "Value error" not in refused
        assert "Input should" not in refused
    assert db_counts(app.state.engine) == before


@pytest.mark.parametrize("version", ["abc", "1.5", "-1"])
def test_a_floor_post_with_a_malformed_version_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant, version: str
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1)), wo_body(plant, at(3))])
    scheduled = get_wo(client, tenant, po["work_orders"][0]["id"])
    running = api_ok(client, tenant, po["work_orders"][1]["id"], "start")
    r0 = plant.ids[0]
    signed_in(client, tenant, "operator")
    csrf = csrf_of(page(client, f"/floor/{r0}"))
    before = db_counts(app.state.engine)
    li = running["line_items"][0]["id"]

    # Each would go through with a well-formed version, or none.
    refused = [
        post(
            client,
            f"/floor/{r0}/work-orders/{scheduled['id']}/start",
            {"csrf_token": csrf, "version": version},
        ),
        post(
            client,
            f"/floor/{r0}/work-orders/{running['id']}/pause",
            {"csrf_token": csrf, "version": version, "reason": "Changeover"},
        ),
        post(
            client,
            f"/floor/{r0}/work-orders/{running['id']}/line-items/{li}/report",
            {"csrf_token": csrf, "version": version, "quantity_completed": "5"},
        ),
    ]

    assert [r.status_code for r in refused] == [422, 422, 422]
    for response in refused:
        assert str(escape('expected a version such as "3"')) in response.text
    assert db_counts(app.state.engine) == before
    assert get_wo(client, tenant, scheduled["id"]) == scheduled
    assert get_wo(client, tenant, running["id"]) == running


def test_the_queue_lists_its_line_items_in_planned_order(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    r0, r1 = plant.ids[:2]
    late = wo_body(plant, at(10))
    early = wo_body(plant, at(2), resources=[r1, r0])  # on r0 second, from at(3)
    po = make_order(client, tenant, plant, [late, early])
    draft = make_order(client, tenant, plant, [wo_body(plant, at(20))], schedule=False)
    signed_in(client, tenant, "viewer")

    html = page(client, f"/floor/{r0}")

    late_no, early_no = (w["number"] for w in po["work_orders"])
    assert html.index(early_no) < html.index(late_no)
    assert "2. Operation 2" in html
    assert draft["work_orders"][0]["number"] not in html


def test_the_stamp_changes_when_another_user_changes_the_queue(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = make_order(client, tenant, plant, [wo_body(plant, at(1))])
    wo = get_wo(client, tenant, po["work_orders"][0]["id"])
    r0, r1 = plant.ids[:2]
    signed_in(client, tenant, "operator")
    html = page(client, f"/floor/{r0}")

    def stamp(resource_id: str) -> str:
        response = client.get(f"/floor/{resource_id}/stamp")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        return response.json()["stamp"]  # type: ignore[no-any-return]

    first = stamp(r0)
    assert f'data-stamp="{first}"' in html
    assert f'data-stamp-url="/floor/{r0}/stamp"' in html
    assert stamp(r0) == first

    api_ok(client, tenant, wo["id"], "start")  # the planner, through the API
    started = stamp(r0)
    # What reaches the second line item is what the first completed (issue 8).
    api_report(client, tenant, get_wo(client, tenant, wo["id"]), 0, {"quantity_completed": "10"})
    wo = api_report(
        client, tenant, get_wo(client, tenant, wo["id"]), 1, {"quantity_completed": "5"}
    )
    reported = stamp(r0)
    make_order(client, tenant, plant, [wo_body(plant, at(5))])
    added = stamp(r0)
    unrelated = make_plant(client, tenant, resources=1)
    make_order(client, tenant, unrelated, [wo_body(unrelated, at(1), resources=unrelated.ids)])

    assert len({first, started, reported, added}) == 4
    assert stamp(r0) == added
    assert stamp(r1) == added  # the same work orders queue on both
    assert stamp(unrelated.ids[0]) != added


# --- a fixed number of queries ---------------------------------------------------------------


def test_each_page_runs_a_fixed_number_of_queries_however_much_there_is(
    app: FastAPI, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    make_order(client, tenant, plant, [wo_body(plant, at(1))])
    r0 = plant.ids[0]
    urls = [
        "/",
        "/resources",
        f"/resources/{r0}",
        f"/board?zoom=week&from={DAY}",
        "/floor",
        f"/floor/{r0}",
        f"/floor/{r0}/stamp",
    ]
    signed_in(client, tenant, "viewer")

    def counts() -> list[int]:
        found = []
        for url in urls:
            with counting_queries(app.state.engine) as statements:
                assert client.get(url).status_code == 200
            found.append(len(statements))
        return found

    few = counts()
    more = make_plant(client, tenant, resources=3)
    po = make_order(
        client,
        tenant,
        plant,
        [wo_body(plant, at(3 + 2 * i), due=at(4)) for i in range(6)],
    )
    make_order(client, tenant, more, [wo_body(more, at(1), resources=more.ids)])
    api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    make_order(client, tenant, plant, [wo_body(plant, at(40))], schedule=False)

    assert counts() == few
    # (the floor's cards read their work's materials, allocations and pulls: 22)
    assert max(few) <= 24


# --- the demo data (bench/portal_pages.py times these pages) -------------------------------


def test_every_plant_page_renders_with_the_demo_data(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    from taktline import demo
    from taktline.db import transaction

    with app.state.session_factory() as session, transaction(session):
        demo.load(session, tenant.name)
    signed_in(client, tenant, "planner")
    resources = client.get(f"{API}/resources", headers=tenant.headers()).json()["items"]
    bottling = next(r["id"] for r in resources if r["code"] == "BL1")
    tomorrow = demo.first_day()
    urls = [
        "/",
        "/resources",
        f"/resources/{bottling}",
        f"/board?zoom=day&from={tomorrow}",
        f"/board?zoom=week&from={tomorrow}",
        "/floor",
        f"/floor/{bottling}",
        f"/floor/{bottling}/stamp",
    ]
    # tomorrow's work: two juice batches (Blending on the press), then the two bottling runs
    # they feed, each Bottling, Labeling and Casing: a bar per line item
    assert len(bars(gantt_svg(page(client, urls[3])))) == 8

    for url in urls:
        assert client.get(url).status_code == 200, url
