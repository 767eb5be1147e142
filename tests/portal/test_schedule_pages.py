"""The board's Schedule action (a preview of what moves and what becomes late, and an Apply
button behind CSRF), and the bottleneck as the scheduler's analysis finds it on the
dashboard and the resource pages. Both go through the scheduling service, so the portal
refuses what the API refuses, with the same message."""

import html
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.portal import charts
from taktline.scheduling import propose, solving
from taktline.scheduling.schemas import ScheduleRequest
from tests.helpers import Tenant, db_counts
from tests.portal.conftest import csrf_of, signed_in
from tests.scheduling.shop import BUSY, WAIT, Json, Shop, at, gated_solves, ok, weekly

_PLAN = re.compile(r'name="plan" value="([^"]*)"')


def plan_of(page: str) -> str:
    match = _PLAN.search(page)
    assert match is not None, "no Apply form on the page"
    return html.unescape(match.group(1))


def _shop(client: TestClient, tenant: Tenant) -> tuple[Shop, Json, Json]:
    """A plant working around the clock (the portal schedules from now) with two draft work
    orders on one line, the second due too soon to make it."""
    shop = Shop.open(client, tenant, hours=None)
    line = shop.resource("FILL-1")
    first = shop.work_order([shop.line(line, 120)], priority=90)
    second = shop.work_order([shop.line(line, 60)], due=at(-24 * 365 * 10), priority=10)
    return shop, first, second


def test_a_planner_previews_the_schedule_and_applies_it(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    shop, first, second = _shop(client, tenant)
    signed_in(client, tenant, "planner")
    assert 'href="/board/schedule"' in client.get("/board").text
    before = db_counts(app.state.engine)

    preview = client.get("/board/schedule", params={"time_limit": 1})

    assert preview.status_code == 200, preview.text
    page = preview.text
    for text in ("Schedule preview", first["number"], second["number"], "Apply this schedule"):
        assert text in page
    assert "NEWLY LATE" in page
    assert db_counts(app.state.engine) == before
    applied = client.post(
        "/board/schedule/apply",
        data={"csrf_token": csrf_of(page), "plan": plan_of(page)},
        follow_redirects=False,
    )
    assert applied.status_code == 303, applied.text
    assert applied.headers["location"].startswith("/board?zoom=week&from=")
    board = client.get(applied.headers["location"]).text
    assert "Schedule applied: 2 work orders scheduled, 0 rescheduled." in board
    assert {shop.get(first)["state"], shop.get(second)["state"]} == {"SCHEDULED"}


def test_apply_needs_the_forms_csrf_token(client: TestClient, tenant: Tenant, app: FastAPI) -> None:
    shop, first, _ = _shop(client, tenant)
    signed_in(client, tenant, "planner")
    page = client.get("/board/schedule", params={"time_limit": 1}).text
    before = db_counts(app.state.engine)

    forged = client.post("/board/schedule/apply", data={"plan": plan_of(page)})

    assert forged.status_code == 403
    assert db_counts(app.state.engine) == before
    assert shop.get(first)["state"] == "DRAFT"


def test_a_viewer_sees_no_schedule_action_and_may_not_use_it(
    client: TestClient, tenant: Tenant
) -> None:
    _shop(client, tenant)
    signed_in(client, tenant, "viewer")

    assert 'href="/board/schedule"' not in client.get("/board").text
    assert client.get("/board/schedule").status_code == 403


def test_an_operator_may_not_preview_and_a_planner_not_beyond_the_time_limit(
    client: TestClient, tenant: Tenant
) -> None:
    _shop(client, tenant)
    signed_in(client, tenant, "operator")
    assert 'href="/board/schedule"' not in client.get("/board").text
    assert client.get("/board/schedule", params={"time_limit": 1}).status_code == 403

    signed_in(client, tenant, "planner")
    too_long = client.get("/board/schedule", params={"time_limit": 61})
    assert too_long.status_code == 422
    assert "Apply this schedule" not in too_long.text


def test_a_preview_while_the_organisation_solves_another_says_so(
    client: TestClient, tenant: Tenant, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(client, tenant)
    signed_in(client, tenant, "planner")
    body = ScheduleRequest(time_limit_seconds=1)

    def solve_elsewhere() -> propose.Preview:
        with app.state.session_factory() as session:
            return propose.preview(session, tenant.actor(), body)

    with gated_solves(monkeypatch) as gate, ThreadPoolExecutor(max_workers=1) as pool:
        elsewhere = pool.submit(solve_elsewhere)
        assert gate.solving.wait(WAIT)
        page = client.get("/board/schedule", params={"time_limit": 1})
        gate.release.set()
        elsewhere.result(WAIT)

    assert page.status_code == 429
    assert page.headers["retry-after"] == str(solving.RETRY_AFTER_SECONDS)
    assert BUSY in html.unescape(page.text)
    assert "Apply this schedule" not in page.text
    assert client.get("/board/schedule", params={"time_limit": 1}).status_code == 200


def test_work_that_changed_since_the_preview_is_not_applied(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    shop, first, _ = _shop(client, tenant)
    signed_in(client, tenant, "planner")
    page = client.get("/board/schedule", params={"time_limit": 1}).text
    ok(shop.request("PATCH", f"/work-orders/{first['id']}", {"priority": 5}))
    before = db_counts(app.state.engine)

    refused = client.post(
        "/board/schedule/apply", data={"csrf_token": csrf_of(page), "plan": plan_of(page)}
    )

    assert refused.status_code == 412
    assert f"{first['number']} is at version" in html.unescape(refused.text)
    assert db_counts(app.state.engine) == before


def test_an_impossible_schedule_is_explained_on_the_preview(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource("BL1"), 600, "Pasteurising")])
    signed_in(client, tenant, "planner")

    page = client.get("/board/schedule", params={"time_limit": 1})

    assert page.status_code == 422
    text = html.unescape(page.text)
    assert f"{wo['number']} line item 1 (Pasteurising) cannot be scheduled" in text
    assert "Apply this schedule" not in text


def test_the_bottleneck_on_the_dashboard_and_resource_pages_follows_the_calendars(
    client: TestClient, tenant: Tenant
) -> None:
    """The same hour booked on two lines: the one that works fewer hours is the bottleneck
    of the next seven days (its resource page says so); the dashboard shows the bottleneck
    of this week exactly as GET /bottlenecks finds it."""
    shop = Shop.open(client, tenant, hours=None)
    long_hours, short_hours = shop.resource("LONG"), shop.resource("SHORT")
    every_day = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    shop.set_calendar("resources", short_hours["id"], weekly("08:00", "12:00", every_day))
    signed_in(client, tenant, "viewer")
    assert "BOTTLENECK" not in client.get("/").text  # nothing booked yet
    for line in (long_hours, short_hours):
        wo = shop.work_order([shop.line(line, 60)], due=at(-24 * 365 * 10))
        body = {"work_order_ids": [wo["id"]], "time_limit_seconds": 1}
        ok(shop.request("POST", "/schedule/apply", body))

    short_page = client.get(f"/resources/{short_hours['id']}").text
    long_page = client.get(f"/resources/{long_hours['id']}").text
    dashboard = html.unescape(client.get("/").text)

    assert "BOTTLENECK" in short_page
    assert "BOTTLENECK" not in long_page
    zone = ZoneInfo(shop.facility["timezone"])
    week = charts.day_window(charts.week_start(datetime.now(zone).date()), 7, zone)
    report = ok(
        shop.request(
            "GET", f"/bottlenecks?from={quote(week[0].isoformat())}&to={quote(week[1].isoformat())}"
        )
    )
    expected = {b["code"] for b in report["bottlenecks"]}
    rows = {
        code: row
        for chunk in dashboard.split("<tr>")
        for row in [chunk.split("</tr>")[0]]
        for code in ("LONG", "SHORT")
        if f'<span class="muted">{code}</span>' in row
    }
    assert set(rows) == {"LONG", "SHORT"}
    for code, row in rows.items():
        assert ("BOTTLENECK" in row) == (code in sorted(expected)[:1]), code
    assert ("Why work is late this week" in dashboard) == bool(report["late_work_orders"])
