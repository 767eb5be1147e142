"""The production order and work order pages, through a signed-in browser session.

Records are built through the API (the tenant's bearer tokens); the pages are driven through
their forms (the session cookie and each form's CSRF token), and the outcome is read back
through the API. Every test runs on SQLite and on PostgreSQL.
"""

import html
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.factories import allow_over_production
from tests.helpers import API, Tenant, bodies, create, db_counts
from tests.portal.conftest import csrf_of, signed_in

# A Monday, 08:00 in the plant (America/Chicago, UTC-6 in early March), far from now.
T0 = datetime(2031, 3, 3, 14, 0, tzinfo=UTC)
ZONE = "America/Chicago"
OPERATIONS = ("Bottling", "Labeling", "Casing", "Packing", "Palletising")
Json = dict[str, Any]


def iso(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


# --- building records through the API ------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    resources: list[Json]
    item: Json
    other_item: Json
    customer: Json
    other_customer: Json


def make_plant(client: TestClient, tenant: Tenant) -> Plant:
    facility = create(client, tenant, "/facilities", bodies.facility(timezone=ZONE))
    return Plant(
        resources=[
            create(client, tenant, "/resources", bodies.resource(facility["id"])) for _ in range(2)
        ],
        item=create(client, tenant, "/items", bodies.item(name="Apple juice 16oz")),
        other_item=create(client, tenant, "/items", bodies.item(name="Kombucha 12oz")),
        customer=create(client, tenant, "/customers", bodies.customer(name="Healthy Juices")),
        other_customer=create(client, tenant, "/customers", bodies.customer(name="Peak Kombucha")),
    )


def wo_body(plant: Plant, hours: float = 0, lines: int = 2, **changes: Any) -> Json:
    """A work order of 100 units whose line items run one hour each from T0 + hours."""
    return {
        "item_id": plant.item["id"],
        "quantity": "100",
        "line_items": [
            {
                "operation": OPERATIONS[i % len(OPERATIONS)],
                "resource_id": plant.resources[i % 2]["id"],
                "setup_minutes": "30",
                "run_minutes_per_unit": "0.3",
                "planned_start": iso(hours + i),
                "planned_end": iso(hours + i + 1),
            }
            for i in range(lines)
        ],
        **changes,
    }


def make_order(
    client: TestClient, tenant: Tenant, plant: Plant, work_orders: int = 1, **changes: Any
) -> Json:
    body = {
        "owner_id": plant.customer["id"],
        "reference": "HJ-1001",
        "due_date": iso(24 * 7),
        "items": [{"item_id": plant.item["id"], "quantity": str(100 * max(work_orders, 1))}],
        "work_orders": [wo_body(plant, hours=3 * i) for i in range(work_orders)],
        **changes,
    }
    created: Json = create(client, tenant, "/production-orders", body)
    return created


def make_work_order(client: TestClient, tenant: Tenant, plant: Plant, **changes: Any) -> Json:
    created: Json = create(client, tenant, "/work-orders", wo_body(plant, **changes))
    return created


def api(client: TestClient, tenant: Tenant, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON answer of an API call as the tenant's planner (asserting 200)."""
    response = client.request(method, f"{API}{path}", headers=tenant.headers(), **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def order(client: TestClient, tenant: Tenant, po_id: str) -> Json:
    body: Json = api(client, tenant, "GET", f"/production-orders/{po_id}")
    return body


def work_order(client: TestClient, tenant: Tenant, wo_id: str) -> Json:
    body: Json = api(client, tenant, "GET", f"/work-orders/{wo_id}")
    return body


def in_process(client: TestClient, tenant: Tenant, plant: Plant, **changes: Any) -> Json:
    wo = make_work_order(client, tenant, plant, **changes)
    api(client, tenant, "POST", f"/work-orders/{wo['id']}/schedule")
    started: Json = api(client, tenant, "POST", f"/work-orders/{wo['id']}/start")
    return started


# --- reading pages and posting their forms -------------------------------------------------


def page(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, f"GET {url}: {response.status_code}\n{response.text}"
    text: str = response.text
    return text


def post(
    client: TestClient, url: str, data: Mapping[str, str] | None = None, *, csrf: bool = True
) -> httpx.Response:
    """Posts a form as the page would: with the session's CSRF token (from any page)."""
    fields = dict(data or {})
    if csrf:
        fields["csrf_token"] = csrf_of(page(client, "/production-orders"))
    response: httpx.Response = client.post(url, data=fields, follow_redirects=False)
    return response


def followed(client: TestClient, response: httpx.Response) -> str:
    """The page a post/redirect/get lands on, with its one-time message."""
    assert response.status_code == 303, f"{response.status_code}: {response.text}"
    return page(client, response.headers["location"])


_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def action_forms(text: str) -> set[str]:
    """The actions a page offers as forms, by their last path segment ("start", "report")."""
    return {
        url.rsplit("/", 1)[1]
        for url in _FORM_ACTION.findall(text)
        if url.startswith(("/production-orders/", "/work-orders/"))
    }


def visible(text: str) -> str:
    """The page's text with entities decoded, for comparing with the API's messages."""
    return html.unescape(text)


def field_with_error(text: str, name: str) -> tuple[str, str]:
    """The input (or select) named `name` and the message next to it."""
    fid = "f-" + name.replace(".", "-")
    found = re.search(
        rf'<(?:input|select|textarea) id="{re.escape(fid)}"(?P<attrs>[^>]*)>.*?'
        rf'<span class="field-error" id="{re.escape(fid)}-error">(?P<msg>[^<]*)</span>',
        text,
        re.DOTALL,
    )
    assert found is not None, f"no field {name} with a message next to it"
    between = text[found.start() : found.end()]
    assert between.count('class="field"') == 0, "the message is not next to its field"
    return found.group("attrs"), html.unescape(found.group("msg"))


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def queries_for(client: TestClient, app: FastAPI, url: str) -> int:
    with counting_queries(app.state.engine) as statements:
        page(client, url)
    return len(statements)


# --- every page renders ----------------------------------------------------------------------


def test_every_page_renders_for_a_planner(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=2)
    wo = po["work_orders"][0]
    signed_in(client, tenant, "planner")

    listing = page(client, "/production-orders")
    assert po["number"] in listing
    assert "Healthy Juices" in listing
    assert "HJ-1001" in listing
    assert 'href="/production-orders" aria-current="page"' in listing
    assert 'role="progressbar"' in listing
    assert "New production order" in listing

    detail = page(client, f"/production-orders/{po['id']}")
    for text in (po["number"], "Healthy Juices", wo["number"], "Timeline", "create"):
        assert text in detail
    assert f'href="/production-orders/{po["id"]}/edit"' in detail

    assert 'name="items.0.item_id"' in page(client, "/production-orders/new")
    assert 'value="HJ-1001"' in page(client, f"/production-orders/{po['id']}/edit")

    works = page(client, "/work-orders")
    assert wo["number"] in works
    assert po["number"] in works
    assert 'href="/work-orders" aria-current="page"' in works

    wo_page = page(client, f"/work-orders/{wo['id']}")
    for text in (wo["number"], "Bottling", "Labeling", plant.resources[0]["code"], "PENDING"):
        assert text in wo_page
    assert 'name="line_items.0.operation"' in page(client, f"/work-orders/{wo['id']}/edit")
    assert 'name="production_order_id"' in page(client, "/work-orders/new")


def test_times_show_on_the_plants_clock(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    text = page(client, f"/work-orders/{wo['id']}")
    # T0 is 14:00 UTC: 08:00 in Chicago.
    assert "Mon 03 Mar 08:00" in text
    assert "Mon 03 Mar 14:00" not in text
    assert "times in America/Chicago" in text


def test_signed_out_pages_and_forms_send_to_sign_in(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    wo = po["work_orders"][0]
    for url in (
        "/production-orders?state=DRAFT",
        "/production-orders/new",
        f"/production-orders/{po['id']}",
        f"/production-orders/{po['id']}/edit",
        "/work-orders",
        f"/work-orders/{wo['id']}",
        f"/work-orders/{wo['id']}/edit",
    ):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"] == f"/login?next={quote(url)}"
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]
    response = client.post(
        f"/work-orders/{wo['id']}/cancel", data={"reason": "x"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_another_organisations_orders_are_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    plant = make_plant(client, other_tenant)
    po = make_order(client, other_tenant, plant)
    signed_in(client, tenant, "planner")
    assert po["number"] not in page(client, "/production-orders")
    page(client, f"/production-orders/{po['id']}", 404)
    page(client, f"/work-orders/{po['work_orders'][0]['id']}", 404)
    response = post(client, f"/production-orders/{po['id']}/cancel", {"reason": "mine now"})
    assert response.status_code == 404
    assert order(client, other_tenant, po["id"])["state"] == "DRAFT"


def test_a_refused_page_goes_back_to_the_page_it_came_from_by_an_ordinary_link(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    plant = make_plant(client, other_tenant)
    po = make_order(client, other_tenant, plant)
    signed_in(client, tenant, "planner")
    base = str(client.base_url)

    came_from = client.get(
        f"/production-orders/{po['id']}", headers={"Referer": f"{base}/work-orders?state=DRAFT"}
    )
    elsewhere = client.get(
        f"/production-orders/{po['id']}", headers={"Referer": "https://evil.example/work-orders"}
    )

    assert came_from.status_code == elsewhere.status_code == 404
    assert '<a href="/work-orders?state=DRAFT">Go back</a>' in came_from.text
    assert "Go back" not in elsewhere.text  # only the dashboard, never another site
    assert "javascript:" not in came_from.text + elsewhere.text


# --- what each role is offered -----------------------------------------------------------------


def test_a_viewer_sees_no_actions_and_no_new_or_edit_links(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    draft = make_order(client, tenant, plant)
    running = in_process(client, tenant, plant, hours=10)
    signed_in(client, tenant, "viewer")
    pages = [
        page(client, "/production-orders"),
        page(client, f"/production-orders/{draft['id']}"),
        page(client, "/work-orders"),
        page(client, f"/work-orders/{draft['work_orders'][0]['id']}"),
        page(client, f"/work-orders/{running['id']}"),
    ]
    for text in pages:
        assert action_forms(text) == set()
        assert "/edit" not in text
        assert "/new" not in text
        assert "Add work order" not in text
    page(client, "/production-orders/new", 403)
    page(client, f"/work-orders/{running['id']}/edit", 403)


def test_an_operator_sees_only_start_pause_resume_report_complete(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    draft = po["work_orders"][0]
    scheduled = make_work_order(client, tenant, plant, hours=10)
    api(client, tenant, "POST", f"/work-orders/{scheduled['id']}/schedule")
    running = in_process(client, tenant, plant, hours=20)
    signed_in(client, tenant, "operator")

    assert action_forms(page(client, f"/production-orders/{po['id']}")) == set()
    assert action_forms(page(client, f"/work-orders/{draft['id']}")) == set()
    assert action_forms(page(client, f"/work-orders/{scheduled['id']}")) == {"start"}
    text = page(client, f"/work-orders/{running['id']}")
    assert action_forms(text) == {"pause", "report"}
    assert text.count('/report"') == 2  # one form per open line item; no skip, no cancel
    api(client, tenant, "POST", f"/work-orders/{running['id']}/pause", json={"reason": "jam"})
    assert action_forms(page(client, f"/work-orders/{running['id']}")) == {"resume"}
    api(client, tenant, "POST", f"/work-orders/{running['id']}/resume")
    for li in running["line_items"]:
        api(
            client,
            tenant,
            "POST",
            f"/work-orders/{running['id']}/line-items/{li['id']}/report",
            json={"quantity_completed": "100", "done": True},
        )
    assert action_forms(page(client, f"/work-orders/{running['id']}")) == {"pause", "complete"}
    for text in (page(client, "/production-orders"), page(client, "/work-orders")):
        assert "/new" not in text


def test_a_planner_sees_the_actions_allowed_now(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    wo = po["work_orders"][0]
    signed_in(client, tenant, "planner")
    assert action_forms(page(client, f"/production-orders/{po['id']}")) == {
        "schedule",
        "generate",  # a DRAFT order's work orders from its bills of material
        "cancel",
        "delete",
    }
    text = page(client, f"/work-orders/{wo['id']}")
    assert action_forms(text) == {"schedule", "cancel", "delete"}
    assert f'href="/work-orders/{wo["id"]}/edit"' in text
    running = in_process(client, tenant, plant, hours=10)
    text = page(client, f"/work-orders/{running['id']}")
    assert action_forms(text) == {"pause", "cancel", "report", "skip"}
    assert "/edit" not in text


# --- the actions, through their forms ----------------------------------------------------------


def test_production_order_schedule_cancel_delete_through_the_forms(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=2)
    signed_in(client, tenant, "planner")

    landed = followed(client, post(client, f"/production-orders/{po['id']}/schedule", {}))
    assert f"Production order {po['number']} scheduled." in landed
    assert order(client, tenant, po["id"])["state"] == "SCHEDULED"

    response = post(client, f"/production-orders/{po['id']}/cancel", {"reason": "Customer pulled"})
    assert "canceled" in followed(client, response)
    canceled = order(client, tenant, po["id"])
    assert canceled["state"] == "CANCELED"
    assert {w["state"] for w in canceled["work_orders"]} == {"CANCELED"}
    assert "Customer pulled" in page(client, f"/production-orders/{po['id']}")

    response = post(client, f"/production-orders/{po['id']}/delete")
    assert response.headers["location"] == "/production-orders"
    assert "deleted" in followed(client, response)
    assert order(client, tenant, po["id"])["state"] == "DELETED"
    assert po["number"] not in page(client, "/production-orders")


def test_scheduling_an_order_from_a_start_on_the_plants_clock(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    response = post(
        client, f"/production-orders/{po['id']}/schedule", {"start": "2031-04-01T09:00"}
    )
    followed(client, response)
    wo = work_order(client, tenant, po["work_orders"][0]["id"])
    assert wo["state"] == "SCHEDULED"
    # 09:00 in Chicago (CDT, UTC-5 in April) is 14:00 UTC
    assert datetime.fromisoformat(wo["planned_start"]) == datetime(2031, 4, 1, 14, 0, tzinfo=UTC)


def test_a_work_order_through_its_whole_life_on_its_page(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    allow_over_production(client, tenant)  # 100 completed and 2 scrapped of 100
    po = make_order(client, tenant, plant)
    wo = po["work_orders"][0]
    url = f"/work-orders/{wo['id']}"
    signed_in(client, tenant, "planner")

    def state() -> Json:
        return work_order(client, tenant, wo["id"])

    assert "scheduled" in followed(client, post(client, f"{url}/schedule"))
    assert state()["state"] == "SCHEDULED"
    assert "unscheduled" in followed(client, post(client, f"{url}/unschedule"))
    assert state()["state"] == "DRAFT"

    # the windows form: a new window for each line item
    lines = state()["line_items"]
    windows = {}
    for i, li in enumerate(lines):
        windows[f"line_items.{i}.id"] = li["id"]
        windows[f"line_items.{i}.resource_id"] = li["resource_id"]
        windows[f"line_items.{i}.planned_start"] = f"2031-05-0{i + 5}T07:00"
        windows[f"line_items.{i}.planned_end"] = f"2031-05-0{i + 5}T08:30"
    followed(client, post(client, f"{url}/schedule", windows))
    scheduled = state()
    assert scheduled["state"] == "SCHEDULED"
    assert datetime.fromisoformat(scheduled["line_items"][1]["planned_start"]) == datetime(
        2031, 5, 6, 12, 0, tzinfo=UTC
    )

    assert "started" in followed(client, post(client, f"{url}/start"))
    assert state()["state"] == "IN_PROCESS"
    assert order(client, tenant, po["id"])["state"] == "IN_PROCESS"

    followed(client, post(client, f"{url}/pause", {"reason": "Label jam"}))
    assert state()["on_hold"] is True
    held = page(client, url)
    assert "On hold" in held
    assert "Label jam" in held
    followed(client, post(client, f"{url}/resume"))
    assert state()["on_hold"] is False

    first, second = lines
    report = f"{url}/line-items/{first['id']}/report"
    followed(client, post(client, report, {"quantity_completed": "60", "quantity_scrapped": "2"}))
    landed = followed(
        client, post(client, report, {"quantity_completed": "40", "done": "true", "note": "ok"})
    )
    assert f"Quantities reported on {wo['number']}." in landed
    reported = state()["line_items"][0]
    assert (reported["status"], reported["quantity_completed"]) == ("DONE", "100")
    assert reported["quantity_scrapped"] == "2"

    skip = f"{url}/line-items/{second['id']}/skip"
    followed(client, post(client, skip, {"reason": "Labels pre-applied"}))
    assert state()["line_items"][1]["status"] == "SKIPPED"

    refused = post(client, f"{url}/complete", {"quantity_produced": "98"})
    assert refused.status_code == 422
    assert (
        '<span class="field-error" id="complete-produced-error">98 is less than the 100 already'
        in refused.text
    )
    assert 'value="98"' in refused.text
    followed(client, post(client, f"{url}/complete", {"quantity_scrapped": "3"}))
    done = state()
    assert (done["state"], done["quantity_produced"], done["quantity_scrapped"]) == (
        "COMPLETED",
        "100",
        "3",
    )
    assert order(client, tenant, po["id"])["state"] == "COMPLETED"

    timeline = visible(page(client, url))
    for text in ("Label jam", "Labels pre-applied", "IN_PROCESS → COMPLETED", "+60 completed"):
        assert text in timeline
    assert tenant.user("planner").email in timeline


def test_an_orders_timeline_is_its_own_events_and_its_work_orders_each_once_oldest_first(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=2)
    other = make_order(client, tenant, plant, work_orders=1)
    api(client, tenant, "POST", f"/production-orders/{po['id']}/schedule")
    first, second = po["work_orders"]
    api(client, tenant, "POST", f"/work-orders/{first['id']}/start")
    signed_in(client, tenant, "viewer")

    # (read in two index walks, of the order's own events and of its work orders')
    events = api(client, tenant, "GET", f"/production-orders/{po['id']}/events")
    shown = visible(page(client, f"/production-orders/{po['id']}"))

    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    by_entity = {e["entity_id"] for e in events}
    assert by_entity == {po["id"], first["id"], second["id"]}
    assert other["work_orders"][0]["id"] not in by_entity
    assert [e["action"] for e in events if e["entity_id"] == first["id"]] == [
        "create",
        "schedule",
        "start",
    ]
    assert {"create", "schedule"} <= {e["action"] for e in events if e["entity_id"] == po["id"]}
    for wo in (first, second):
        assert wo["number"] in shown
    assert other["work_orders"][0]["number"] not in shown


def test_an_operator_reverses_a_report_of_their_own_with_a_reason_on_the_work_order_page(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    wo = in_process(client, tenant, plant)
    url = f"/work-orders/{wo['id']}"
    first = wo["line_items"][0]
    api(
        client,
        tenant,
        "POST",
        f"{url}/line-items/{first['id']}/report",
        json={"quantity_completed": "5"},
    )
    signed_in(client, tenant, "operator")
    followed(
        client, post(client, f"{url}/line-items/{first['id']}/report", {"quantity_completed": "30"})
    )
    shown = page(client, url)
    reports = api(client, tenant, "GET", f"{url}/reports")
    planners, mine = reports
    # the operator's own report has a Reverse form, the planner's none
    assert f'name="report_id" value="{mine["id"]}"' in shown
    assert f'name="report_id" value="{planners["id"]}"' not in shown
    reverse = f"{url}/line-items/{first['id']}/reverse_report"

    without_reason = post(client, reverse, {"report_id": mine["id"], "reason": ""})

    assert without_reason.status_code == 422
    assert 'id="rv-' + mine["id"] + '-reason-error"' in without_reason.text
    assert work_order(client, tenant, wo["id"])["line_items"][0]["quantity_completed"] == "35"

    landed = followed(
        client, post(client, reverse, {"report_id": mine["id"], "reason": "Counted twice"})
    )

    assert f"Report reversed on {wo['number']}." in landed
    assert work_order(client, tenant, wo["id"])["line_items"][0]["quantity_completed"] == "5"
    assert "Reversed" in landed
    assert "Counted twice" in landed
    assert 'name="report_id"' not in landed  # reversed once; the reversal is not reversed
    again = post(client, reverse, {"report_id": mine["id"], "reason": "Again"})
    assert again.status_code == 409
    signed_in(client, tenant, "viewer")
    assert 'name="report_id"' not in page(client, url)
    signed_in(client, tenant, "planner")
    assert f'name="report_id" value="{planners["id"]}"' in page(client, url)


def test_cancel_and_delete_a_work_order(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    followed(client, post(client, f"/work-orders/{wo['id']}/cancel", {"reason": "Not needed"}))
    assert work_order(client, tenant, wo["id"])["state"] == "CANCELED"
    response = post(client, f"/work-orders/{wo['id']}/delete")
    assert response.headers["location"] == "/work-orders"
    followed(client, response)
    assert work_order(client, tenant, wo["id"])["state"] == "DELETED"
    assert wo["number"] not in page(client, "/work-orders")


# --- refused posts: the API's message, nothing changed ------------------------------------------


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_form_post_without_the_right_csrf_token_is_refused(
    client: TestClient, tenant: Tenant, token: str | None
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    wo = po["work_orders"][0]
    signed_in(client, tenant, "planner")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)
    posts = [
        (f"/production-orders/{po['id']}/schedule", {}),
        (f"/production-orders/{po['id']}/cancel", {"reason": "forged"}),
        (f"/production-orders/{po['id']}/delete", {}),
        (f"/production-orders/{po['id']}/edit", {"reference": "forged", "priority": "50"}),
        (
            "/production-orders/new",
            {"items.0.item_id": plant.item["id"], "items.0.quantity": "5"},
        ),
        (f"/work-orders/{wo['id']}/schedule", {}),
        (f"/work-orders/{wo['id']}/delete", {}),
        ("/work-orders/new", {"item_id": plant.item["id"], "quantity": "5"}),
    ]
    for url, data in posts:
        fields = dict(data) if token is None else {**data, "csrf_token": token}
        response = client.post(url, data=fields, follow_redirects=False)
        assert response.status_code == 403, url
        assert "The form is out of date or was not sent from Taktline" in response.text
    assert db_counts(engine) == before
    assert order(client, tenant, po["id"])["state"] == "DRAFT"
    assert order(client, tenant, po["id"])["reference"] == "HJ-1001"


def test_a_refused_action_shows_the_apis_message(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)
    # a DRAFT work order offers no start: forge the post
    response = post(client, f"/work-orders/{wo['id']}/start")
    from_api = client.post(f"{API}/work-orders/{wo['id']}/start", headers=tenant.headers())
    assert response.status_code == from_api.status_code == 409
    detail = from_api.json()["detail"]
    assert detail.startswith(f"Cannot start work order {wo['number']}")
    assert detail in visible(response.text)
    assert 'role="alert"' in response.text
    assert action_forms(response.text) == {"schedule", "cancel", "delete"}  # the page again
    assert db_counts(engine) == before
    assert work_order(client, tenant, wo["id"])["state"] == "DRAFT"


def test_a_refused_reason_is_shown_next_to_its_field(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]
    response = post(client, f"/work-orders/{wo['id']}/cancel", {"reason": "   "})
    from_api = client.post(
        f"{API}/work-orders/{wo['id']}/cancel", json={}, headers=tenant.headers()
    )
    assert response.status_code == from_api.status_code == 422
    # the same rule as the API's; the API names the field by its path, the page by its label
    assert from_api.json()["detail"] == "body.reason: field required"
    assert "Reason for canceling is required" in visible(response.text)
    assert from_api.json()["detail"] not in visible(response.text)
    assert 'id="cancel-reason" name="reason"' in response.text
    assert 'aria-describedby="cancel-reason-error"' in response.text
    assert (
        '<span class="field-error" id="cancel-reason-error">Reason for canceling is required</span>'
        in response.text
    )
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_a_role_may_not_forge_a_planners_action(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "operator")
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]
    response = post(client, f"/work-orders/{wo['id']}/cancel", {"reason": "forged"})
    from_api = client.post(
        f"{API}/work-orders/{wo['id']}/cancel",
        json={"reason": "forged"},
        headers=tenant.headers("operator"),
    )
    assert response.status_code == from_api.status_code == 403
    assert from_api.json()["detail"] == "The operator role may not cancel work orders."
    assert from_api.json()["detail"] in visible(response.text)
    response = post(client, "/production-orders/new", {"items.0.quantity": "1"})
    assert response.status_code == 403
    assert "The operator role may not create production orders." in visible(response.text)
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "forged",
    [{"0": "x"}, {"items": "x", "items.0.quantity": "1"}, {"items.\u0661.quantity": "1"}],
)
def test_forged_field_names_are_refused_not_a_crash(
    client: TestClient, tenant: Tenant, forged: dict[str, str]
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]
    for url in ("/production-orders/new", f"/production-orders/{po['id']}/edit"):
        response = post(client, url, {"priority": "50", **forged})
        assert response.status_code == 422, url
        assert "unknown field" in response.text
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_a_form_read_before_someone_else_changed_the_record_is_refused(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    signed_in(client, tenant, "planner")
    text = page(client, f"/work-orders/{wo['id']}")
    version = re.search(r'name="version" value="(\d+)"', text)
    assert version is not None
    api(client, tenant, "PATCH", f"/work-orders/{wo['id']}", json={"priority": 90})
    response = post(client, f"/work-orders/{wo['id']}/schedule", {"version": version.group(1)})
    assert response.status_code == 412
    assert "someone changed it since you read it" in visible(response.text)
    assert work_order(client, tenant, wo["id"])["state"] == "DRAFT"


# --- the forms ----------------------------------------------------------------------------------


def test_creating_an_order_with_work_orders_and_line_items(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    r1, r2 = (r["id"] for r in plant.resources)
    signed_in(client, tenant, "planner")
    assert '<template id="tpl-po-wos">' in page(client, "/production-orders/new")
    fields = {
        "owner_id": plant.customer["id"],
        "reference": "HJ-2002",
        "due_date": "2031-03-20T17:00",
        "priority": "70",
        "notes": "",
        # rows as the script numbers them: a removed row leaves a gap, an empty one is ignored
        "items.0.item_id": plant.item["id"],
        "items.0.quantity": "600",
        "items.2.item_id": plant.other_item["id"],
        "items.2.quantity": "50",
        "items.2.unit": "case",
        "items.3.item_id": "",
        "items.3.quantity": "",
    }
    for w in range(2):
        fields[f"work_orders.{w}.item_id"] = plant.item["id"]
        fields[f"work_orders.{w}.quantity"] = "300"
        fields[f"work_orders.{w}.priority"] = ""
        for n, (operation, resource) in enumerate(
            (("Bottling", r1), ("Labeling", r2), ("Casing", r1))
        ):
            p = f"work_orders.{w}.line_items.{n}."
            fields[p + "operation"] = operation
            fields[p + "resource_id"] = resource
            fields[p + "setup_minutes"] = "15"
            fields[p + "run_minutes_per_unit"] = "0.1"
        fields[f"work_orders.{w}.line_items.3.operation"] = ""  # the spare row
    fields["work_orders.2.item_id"] = ""  # the spare work order
    response = post(client, "/production-orders/new", fields)
    landed = followed(client, response)
    po_id = response.headers["location"].rsplit("/", 1)[1]
    created = order(client, tenant, po_id)
    assert "created" in landed
    assert created["number"] in landed
    assert created["reference"] == "HJ-2002"
    assert created["priority"] == 70
    assert created["owner_id"] == plant.customer["id"]
    assert created["notes"] is None
    # 17:00 in Chicago on 20 March 2031 (CDT) is 22:00 UTC
    assert datetime.fromisoformat(created["due_date"]) == datetime(2031, 3, 20, 22, tzinfo=UTC)
    assert [(i["quantity"], i["unit"]) for i in created["items"]] == [("600", "ea"), ("50", "case")]
    assert len(created["work_orders"]) == 2
    for brief in created["work_orders"]:
        wo = work_order(client, tenant, brief["id"])
        assert [li["operation"] for li in wo["line_items"]] == ["Bottling", "Labeling", "Casing"]
        assert wo["priority"] == 50


def test_the_create_form_keeps_what_was_typed_and_says_what_is_wrong(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    signed_in(client, tenant, "planner")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)
    fields = {
        "reference": "Typed <ref>",
        "items.0.item_id": plant.item["id"],
        "items.0.quantity": "-5",
        "items.0.colour": "red",
        "work_orders.0.item_id": plant.item["id"],
        "work_orders.0.quantity": "7",
        "work_orders.0.line_items.0.operation": "Bottling",
        "work_orders.0.line_items.0.setup_minutes": "soon",
    }
    response = post(client, "/production-orders/new", fields)
    assert response.status_code == 422
    text = response.text
    assert db_counts(engine) == before

    attrs, message = field_with_error(text, "items.0.quantity")
    assert 'value="-5"' in attrs
    assert 'aria-invalid="true"' in attrs
    assert 'aria-describedby="f-items-0-quantity-error"' in attrs
    attrs, minutes = field_with_error(text, "work_orders.0.line_items.0.setup_minutes")
    assert 'value="soon"' in attrs
    assert 'value="Typed &lt;ref&gt;"' in text
    assert 'name="work_orders.0.quantity" type="text" value="7"' in text
    assert 'value="Bottling"' in text
    assert f'<option value="{plant.item["id"]}" selected>' in text
    # the same messages as the API gives for the same body
    from_api = client.post(
        f"{API}/production-orders",
        json={
            "reference": "Typed <ref>",
            "items": [{"item_id": plant.item["id"], "quantity": "-5", "colour": "red"}],
            "work_orders": [
                {
                    "item_id": plant.item["id"],
                    "quantity": "7",
                    "line_items": [{"operation": "Bottling", "setup_minutes": "soon"}],
                }
            ],
        },
        headers=tenant.headers(),
    )
    assert from_api.status_code == 422
    api_errors = {
        ".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in from_api.json()["errors"]
    }
    # the API's rules, said as the form labels each field
    assert api_errors["items.0.quantity"] == "Input should be greater than 0"
    assert message == "Quantity must be more than 0"
    assert (
        api_errors["work_orders.0.line_items.0.setup_minutes"] == "Input should be a valid decimal"
    )
    assert minutes == "Setup minutes must be a number"
    assert api_errors["items.0.colour"] == "unknown field"
    assert "Item row 1, colour: unknown field</a>" in text
    summary = visible(text)
    assert "Item row 1: quantity must be more than 0</a>" in summary
    assert "Work order 1, line item 1 (Bottling): setup minutes must be a number</a>" in summary
    assert db_counts(engine) == before


def _problem_box(text: str) -> str:
    found = re.search(r'<div class="error problem" role="alert">.*?</div>', text, re.DOTALL)
    assert found is not None, "no problem box above the form"
    return visible(found.group(0))


def test_a_refused_form_names_each_field_as_the_form_labels_it_in_plain_words(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    signed_in(client, tenant, "planner")
    order_form = {
        "priority": "high",
        "items.0.item_id": plant.item["id"],
        "items.0.quantity": "10",
        "work_orders.0.item_id": plant.item["id"],
        "work_orders.0.quantity": "10",
        "work_orders.0.due_date": "soon",
        "work_orders.0.line_items.0.operation": "Bottling",
        "work_orders.0.line_items.0.setup_minutes": "-5",
    }
    work_order_form = {
        "item_id": plant.item["id"],
        "quantity": "0",
        "line_items.0.operation": "Mixing",
        "line_items.0.run_minutes_per_unit": "fast",
    }

    order = post(client, "/production-orders/new", order_form)
    work = post(client, "/work-orders/new", work_order_form)

    assert order.status_code == work.status_code == 422
    said = _problem_box(order.text)
    assert "Work order 1, line item 1 (Bottling): setup minutes must be 0 or more" in said
    assert "Work order 1: due must be a date and time" in said
    assert "Priority must be a whole number" in said
    assert (
        field_with_error(order.text, "work_orders.0.line_items.0.setup_minutes")[1]
        == "Setup minutes must be 0 or more"
    )
    said_too = _problem_box(work.text)
    assert "Quantity must be more than 0" in said_too
    assert "Line item 1 (Mixing): run minutes per unit must be a number" in said_too
    for box in (said, said_too):
        for raw in (
            "work_orders.0",
            "line_items.0",
            "Input should",
            "Value error",
            "field required",
        ):
            assert raw not in box


def test_an_unknown_item_is_named_next_to_its_select(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    signed_in(client, tenant, "planner")
    missing = "01900000-0000-7000-8000-000000000000"
    response = post(
        client,
        "/production-orders/new",
        {"items.0.item_id": missing, "items.0.quantity": "5", "owner_id": plant.customer["id"]},
    )
    assert response.status_code == 422
    _attrs, message = field_with_error(response.text, "items.0.item_id")
    assert message == "no item with this id"
    assert f'<option value="{missing}" selected>' in response.text
    assert plant.item["id"] in response.text


def test_editing_a_draft_order(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant)
    url = f"/production-orders/{po['id']}/edit"
    signed_in(client, tenant, "planner")
    text = page(client, url)
    assert 'value="100"' in text
    assert "Add work order" in text
    version = re.search(r'name="version" value="(\d+)"', text)
    assert version is not None
    fields = {
        "version": version.group(1),
        "owner_id": plant.other_customer["id"],
        "reference": "",
        "due_date": "",
        "priority": "80",
        "notes": "Rush",
        "items.0.item_id": plant.item["id"],
        "items.0.quantity": "100",
        "items.0.unit": "ea",
    }
    followed(client, post(client, url, fields))
    edited = order(client, tenant, po["id"])
    assert edited["owner_id"] == plant.other_customer["id"]
    assert (edited["reference"], edited["due_date"]) == (None, None)
    assert (edited["priority"], edited["notes"]) == (80, "Rush")
    events = api(client, tenant, "GET", f"/production-orders/{po['id']}/events")
    assert "items" not in events[-1]["changes"]  # unchanged items are not replaced

    fields.pop("version")
    fields["items.1.item_id"] = plant.other_item["id"]
    fields["items.1.quantity"] = "0"
    fields["priority"] = ""
    response = post(client, url, fields)
    assert response.status_code == 422
    assert field_with_error(response.text, "items.1.quantity")[1] == "Quantity must be more than 0"
    assert field_with_error(response.text, "priority")[1] == "Priority is required"
    assert order(client, tenant, po["id"])["priority"] == 80

    fields["items.1.quantity"] = "20"
    fields["priority"] = "80"
    followed(client, post(client, url, fields))
    assert [i["quantity"] for i in order(client, tenant, po["id"])["items"]] == ["100", "20"]

    api(client, tenant, "POST", f"/production-orders/{po['id']}/schedule")
    refused = page(client, url, 409)
    assert "update is allowed only from DRAFT" in refused
    response = post(client, url, fields)
    assert response.status_code == 409
    assert "Cannot update production order" in visible(response.text)


def test_editing_line_items_in_the_portal_keeps_what_only_the_api_sets_on_them(
    client: TestClient, tenant: Tenant
) -> None:
    body = wo_body(plant := make_plant(client, tenant), lines=1)
    body["line_items"][0] |= {
        "interruptible": True,
        "alternatives": [
            {
                "resource_id": plant.resources[1]["id"],
                "setup_minutes": "5",
                "run_minutes_per_unit": "0.5",
            }
        ],
    }
    wo: Json = create(client, tenant, "/work-orders", body)
    url = f"/work-orders/{wo['id']}/edit"
    signed_in(client, tenant, "planner")
    form = page(client, url)
    # every named input of the form as the browser would send it, then one change
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)
        if name != "csrf_token"
    }
    fields["line_items.0.resource_id"] = plant.resources[0]["id"]
    fields["item_id"] = plant.item["id"]
    fields["line_items.0.operation"] = "Bottling and capping"

    followed(client, post(client, url, fields))

    (line,) = work_order(client, tenant, wo["id"])["line_items"]
    assert line["operation"] == "Bottling and capping"
    assert line["interruptible"] is True
    assert [(a["resource_id"], a["setup_minutes"]) for a in line["alternatives"]] == [
        (plant.resources[1]["id"], "5")
    ]


def test_editing_a_draft_work_order_and_its_line_items(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = make_work_order(client, tenant, plant)
    url = f"/work-orders/{wo['id']}/edit"
    signed_in(client, tenant, "planner")
    text = page(client, url)
    assert 'value="Bottling"' in text
    assert 'value="2031-03-03T08:00"' in text
    fields = {
        "item_id": plant.other_item["id"],
        "quantity": "250",
        "unit": "",
        "instructions": "Chill first",
        "due_date": "2031-03-10T12:00",
        "priority": "60",
        "line_items.0.operation": "Bottling",
        "line_items.0.resource_id": plant.resources[0]["id"],
        "line_items.0.setup_minutes": "45",
        "line_items.0.run_minutes_per_unit": "0.2",
        "line_items.1.operation": "",  # a removed line item
        "line_items.5.operation": "Capping",
        "line_items.5.resource_id": plant.resources[1]["id"],
        "line_items.5.run_minutes_per_unit": "0.1",
    }
    followed(client, post(client, url, fields))
    edited = work_order(client, tenant, wo["id"])
    assert (edited["item_id"], edited["quantity"], edited["unit"]) == (
        plant.other_item["id"],
        "250",
        plant.other_item["unit"],
    )
    assert edited["instructions"] == "Chill first"
    assert [(li["sequence"], li["operation"]) for li in edited["line_items"]] == [
        (1, "Bottling"),
        (2, "Capping"),
    ]
    assert edited["line_items"][0]["setup_minutes"] == "45"

    fields["line_items.5.planned_start"] = "2031-03-04T10:00"
    response = post(client, url, fields)
    assert response.status_code == 422
    # the rule of the schema, on the row it is about (the second one shown)
    assert "give both planned_start and planned_end, or neither" in visible(response.text)
    assert 'value="2031-03-04T10:00"' in response.text

    api(client, tenant, "POST", f"/work-orders/{wo['id']}/cancel", json={"reason": "x"})
    assert "update is allowed only from DRAFT" in page(client, url, 409)


def test_a_standalone_work_order_and_one_added_to_an_order(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=0)
    signed_in(client, tenant, "planner")
    text = page(client, f"/work-orders/new?production_order_id={po['id']}")
    assert f'<option value="{po["id"]}" selected>' in text
    fields = {
        "production_order_id": po["id"],
        "item_id": plant.item["id"],
        "quantity": "40",
        "line_items.0.operation": "Mixing",
        "line_items.0.resource_id": plant.resources[0]["id"],
        "line_items.0.setup_minutes": "20",
    }
    response = post(client, "/work-orders/new", fields)
    landed = followed(client, response)
    assert "created" in landed
    assert po["number"] in landed
    assert len(order(client, tenant, po["id"])["work_orders"]) == 1

    response = post(client, "/work-orders/new", {**fields, "production_order_id": ""})
    followed(client, response)
    standalone = work_order(client, tenant, response.headers["location"].rsplit("/", 1)[1])
    assert standalone["production_order_id"] is None

    response = post(client, "/work-orders/new", {**fields, "quantity": ""})
    assert response.status_code == 422
    assert field_with_error(response.text, "quantity")[1] == "Quantity is required"


# --- lists: filters and pages ------------------------------------------------------------------


def test_the_production_order_list_filters_and_pages(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    orders = [make_order(client, tenant, plant, reference=f"REF-{n}") for n in range(5)]
    late = make_order(
        client,
        tenant,
        plant,
        reference="LATE-1",
        owner_id=plant.other_customer["id"],
        due_date=iso(1),
    )
    api(
        client, tenant, "POST", f"/production-orders/{orders[0]['id']}/cancel", json={"reason": "x"}
    )
    signed_in(client, tenant, "planner")

    first = page(client, "/production-orders?limit=4")
    assert [o["number"] in first for o in orders] == [True, True, True, True, False]
    found = re.search(r'<a class="button" href="([^"]+)" rel="next">Next page</a>', first)
    assert found is not None
    second = page(client, html.unescape(found.group(1)))
    assert orders[4]["number"] in second
    assert late["number"] in second
    assert orders[0]["number"] not in second
    assert 'rel="next"' not in second
    assert 'href="/production-orders?limit=4">First page' in second

    drafts = page(client, "/production-orders?state=DRAFT")
    assert orders[0]["number"] not in drafts
    assert orders[1]["number"] in drafts
    assert 'value="DRAFT" checked' in drafts
    canceled = page(client, "/production-orders?state=CANCELED&state=DELETED")
    assert orders[0]["number"] in canceled
    assert orders[1]["number"] not in canceled

    owned = page(client, f"/production-orders?owner_id={plant.other_customer['id']}")
    assert late["number"] in owned
    assert orders[1]["number"] not in owned
    due = page(client, "/production-orders?due_before=2031-03-05")
    assert late["number"] in due
    assert orders[1]["number"] not in due
    searched = page(client, "/production-orders?q=late-")
    assert late["number"] in searched
    assert orders[1]["number"] not in searched
    assert 'value="late-"' in searched
    # a page of a filtered list carries the filter on to the next one
    paged = page(client, "/production-orders?q=REF&limit=2")
    assert "q=REF" in html.unescape(re.findall(r'href="([^"]+)" rel="next"', paged)[0])

    # late: its work order is planned to end after the order's due date
    row = re.search(rf"{late['number']}.*?</tr>", page(client, "/production-orders"), re.DOTALL)
    assert row is not None
    assert "badge late" in row.group(0)

    bad = page(client, "/production-orders?due_before=someday&state=LOST", 422)
    assert 'aria-describedby="filter-due-error"' in bad
    assert "not a state: LOST" in bad


def test_the_work_order_list_filters_and_pages(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=2)
    a, b = po["work_orders"]
    loose = make_work_order(
        client,
        tenant,
        plant,
        hours=100,
        lines=1,
        item_id=plant.other_item["id"],
        due_date=iso(50),
    )
    running = in_process(client, tenant, plant, hours=200, lines=1)
    api(client, tenant, "POST", f"/work-orders/{running['id']}/pause", json={"reason": "jam"})
    signed_in(client, tenant, "planner")
    numbers = {w["id"]: w["number"] for w in (a, b, loose, running)}

    def shown(url: str) -> set[str]:
        text = page(client, url)
        return {wo_id for wo_id, number in numbers.items() if f">{number}</a>" in text}

    assert shown("/work-orders") == set(numbers)
    assert shown("/work-orders?state=IN_PROCESS") == {running["id"]}
    assert shown("/work-orders?state=IN_PROCESS&state=DRAFT") == set(numbers)
    assert shown(f"/work-orders?production_order={po['number']}") == {a["id"], b["id"]}
    # every default work order has a line item on the second resource but the one-line ones
    assert shown(f"/work-orders?resource_id={plant.resources[1]['id']}") == {a["id"], b["id"]}
    assert shown("/work-orders?q=kombucha") == {loose["id"]}
    # T0 + 100 h is Fri 7 March 2031 at noon in Chicago
    assert shown("/work-orders?planned_from=2031-03-07&planned_to=2031-03-07") == {loose["id"]}
    assert shown("/work-orders?due_before=2031-03-06") == {loose["id"]}
    assert shown("/work-orders?limit=3") == {a["id"], b["id"], loose["id"]}

    text = page(client, "/work-orders")
    row = re.search(rf"{running['number']}</a>.*?</tr>", text, re.DOTALL)
    assert row is not None
    assert "On hold" in row.group(0)
    row = re.search(rf"{loose['number']}</a>.*?</tr>", text, re.DOTALL)
    assert row is not None
    assert "badge late" in row.group(0)

    bad = page(client, "/work-orders?planned_from=2031-03-08&planned_to=2031-03-01", 422)
    assert "must be after planned_from" in bad
    assert 'id="filter-planned_to"' in bad
    assert 'aria-invalid="true"' in bad
    unknown = page(client, "/work-orders?production_order=PO-999999", 422)
    assert "no production order numbered PO-999999" in unknown


# --- speed: a fixed number of queries per page ----------------------------------------------------


def test_every_page_reads_in_a_fixed_number_of_queries(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    plant = make_plant(client, tenant)
    small = make_order(client, tenant, plant, work_orders=1)
    small_wo = make_work_order(client, tenant, plant, hours=50, lines=1)
    signed_in(client, tenant, "planner")
    counts_small = {
        "orders": queries_for(client, app, "/production-orders"),
        "works": queries_for(client, app, "/work-orders"),
        "order": queries_for(client, app, f"/production-orders/{small['id']}"),
        "work": queries_for(client, app, f"/work-orders/{small_wo['id']}"),
        "edit": queries_for(client, app, f"/production-orders/{small['id']}/edit"),
    }
    big = make_order(client, tenant, plant, work_orders=4)
    for n in range(4):
        make_order(client, tenant, plant, work_orders=2, reference=f"MORE-{n}")
    big_wo = make_work_order(client, tenant, plant, hours=80, lines=5)  # DRAFT, as the small
    counts_big = {
        "orders": queries_for(client, app, "/production-orders"),
        "works": queries_for(client, app, "/work-orders"),
        "order": queries_for(client, app, f"/production-orders/{big['id']}"),
        "work": queries_for(client, app, f"/work-orders/{big_wo['id']}"),
        "edit": queries_for(client, app, f"/production-orders/{big['id']}/edit"),
    }
    assert counts_big == counts_small


# --- in a real browser: the layout on a tablet and a laptop --------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this system")
def test_pages_fit_a_tablet_and_a_laptop_without_page_scroll(
    client: TestClient, tenant: Tenant, live_server: str, database_url: str
) -> None:
    """At 768 and 1280 pixels wide, no page scrolls sideways (wide tables scroll inside their
    .table-wrap), the row script adds rows, and the console stays clean."""
    if not database_url.startswith("sqlite"):
        pytest.skip("layout does not depend on the database")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.portal.conftest import PASSWORD, set_password

    plant = make_plant(client, tenant)
    po = make_order(client, tenant, plant, work_orders=2)
    running = in_process(client, tenant, plant, hours=40)
    email = set_password(client, tenant, "planner")
    urls = [
        "/production-orders",
        f"/production-orders/{po['id']}",
        "/production-orders/new",
        f"/production-orders/{po['id']}/edit",
        "/work-orders",
        f"/work-orders/{running['id']}",
        f"/work-orders/{po['work_orders'][0]['id']}/edit",
        "/work-orders/new",
    ]
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(message.text)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width, height in ((768, 1024), (1280, 800)):
                context = browser.new_context(viewport={"width": width, "height": height})
                tab = context.new_page()
                tab.on("pageerror", lambda error: problems.append(str(error)))
                tab.on("console", on_console)
                tab.goto(f"{live_server}/login")
                tab.fill("#email", email)
                tab.fill("#password", PASSWORD)
                tab.click("button[type=submit]")
                for url in urls:
                    tab.goto(live_server + url)
                    scroll, client_width = tab.evaluate(
                        "[document.documentElement.scrollWidth,"
                        " document.documentElement.clientWidth]"
                    )
                    assert scroll <= client_width, f"{url} scrolls sideways at {width}px"
                tab.goto(f"{live_server}/production-orders/new")
                tab.click("text=Add item")
                tab.click("[data-add-row='lines-0']")
                tab.click("text=Add work order")
                assert tab.locator("[name='items.1.quantity']").count() == 1
                assert tab.locator("[name='work_orders.0.line_items.1.operation']").count() == 1
                assert tab.locator("[name='work_orders.1.line_items.0.operation']").count() == 1
                focused = tab.evaluate("document.activeElement.name")
                assert focused == "work_orders.1.item_id"
                tab.click("[data-add-row='lines-1']")
                assert tab.locator("[name='work_orders.1.line_items.1.operation']").count() == 1
                tab.locator("#po-items [data-remove-row]").first.click()
                assert tab.locator("[name='items.0.quantity']").count() == 0
                assert problems == [], problems
                context.close()
        finally:
            browser.close()
