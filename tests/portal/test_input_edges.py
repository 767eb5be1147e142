"""The edges of what the portal takes, on both databases: a date outside the one range (years
1900 to 9000) in a page's query or a form's date and time, and text with a NUL character in a
form or a filter. Each is a 422 page that names the field in the form's words and changes
nothing; the same checks as the API's (taktline.schemas) decide."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import API, Tenant, bodies, create, db_counts
from tests.portal.conftest import csrf_of, signed_in

RANGE = "must be between 1900-01-01 and 9000-12-31 (UTC)"
NUL = "must not contain a NUL character"
T0 = datetime(2031, 3, 3, 14, 0, tzinfo=UTC)
Json = dict[str, Any]


def _plant(client: TestClient, tenant: Tenant) -> tuple[Json, Json]:
    facility = create(client, tenant, "/facilities", bodies.facility(timezone="America/Chicago"))
    resource = create(client, tenant, "/resources", bodies.resource(facility["id"]))
    return resource, create(client, tenant, "/items", bodies.item())


def _in_process(client: TestClient, tenant: Tenant, resource: Json, item: Json) -> Json:
    body = {
        "item_id": item["id"],
        "quantity": "10",
        "line_items": [
            {
                "operation": "Bottling",
                "resource_id": resource["id"],
                "planned_start": T0.isoformat(),
                "planned_end": (T0 + timedelta(hours=1)).isoformat(),
            }
        ],
    }
    wo = create(client, tenant, "/work-orders", body)
    for action in ("schedule", "start"):
        response = client.post(f"{API}/work-orders/{wo['id']}/{action}", headers=tenant.headers())
        assert response.status_code == 200, response.text
    started: Json = response.json()
    return started


def _csrf(client: TestClient) -> str:
    return csrf_of(client.get("/production-orders").text)


def _post(client: TestClient, url: str, fields: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post(
        url, data={**fields, "csrf_token": _csrf(client)}, follow_redirects=False
    )
    return response


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "9001-01-01", "1899-12-31"])
@pytest.mark.parametrize("zoom", ["day", "week"])
def test_the_board_refuses_a_day_outside_the_range_naming_it(
    day: str, zoom: str, client: TestClient, tenant: Tenant
) -> None:
    """The board's window is a day or a week from `from`, and links a window either side: at
    year 9999 that arithmetic overflowed (500)."""
    signed_in(client, tenant, "viewer")

    response = client.get(f"/board?zoom={zoom}&from={day}")

    assert response.status_code == 422, response.text
    assert f"From {RANGE}" in response.text


@pytest.mark.parametrize("day", ["1900-01-01", "9000-12-31"])
def test_the_board_shows_the_first_and_last_days_of_the_range(
    day: str, client: TestClient, tenant: Tenant
) -> None:
    _plant(client, tenant)
    signed_in(client, tenant, "viewer")

    for zoom in ("day", "week"):
        response = client.get(f"/board?zoom={zoom}&from={day}")
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/work-orders?planned_from=9999-12-31", "planned_from"),
        ("/work-orders?planned_to=9999-12-31", "planned_to"),
        ("/work-orders?due_before=0001-01-01", "due_before"),
        ("/production-orders?due_before=9999-12-31", "due_before"),
    ],
)
def test_a_list_filter_outside_the_range_is_a_message_beside_it(
    url: str, field: str, client: TestClient, tenant: Tenant
) -> None:
    signed_in(client, tenant, "viewer")

    response = client.get(url)

    assert response.status_code == 422, response.text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text)
    assert f"{RANGE}</span>" in response.text


@pytest.mark.parametrize(
    "url", ["/work-orders?q=", "/production-orders?q=", "/work-orders?production_order="]
)
def test_a_list_filter_with_a_nul_character_is_a_message_beside_it(
    url: str, client: TestClient, tenant: Tenant
) -> None:
    signed_in(client, tenant, "viewer")

    response = client.get(url + quote("Apple\x00"))

    assert response.status_code == 422, response.text
    assert NUL in response.text


def test_a_form_with_a_nul_character_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    _, item = _plant(client, tenant)
    signed_in(client, tenant, "planner")
    before = db_counts(app.state.engine)

    work_order = _post(
        client,
        "/work-orders/new",
        {
            "item_id": item["id"],
            "quantity": "10",
            "instructions": "Rinse\x00 first",
            "line_items.0.operation": "Bottling",
        },
    )
    production_order = _post(
        client,
        "/production-orders/new",
        {
            "reference": "HJ\x00-1",
            "items.0.item_id": item["id"],
            "items.0.quantity": "10",
        },
    )

    assert work_order.status_code == production_order.status_code == 422
    assert f"Instructions {NUL}" in work_order.text
    assert f"Customer reference {NUL}" in production_order.text
    assert db_counts(app.state.engine) == before


def test_a_form_date_outside_the_range_is_refused_naming_the_field(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    """A datetime-local input is a time on the plant's clock: in year 9999 it is past what
    a datetime holds once in UTC (500 before). One that is no date at all is said so."""
    resource, item = _plant(client, tenant)
    signed_in(client, tenant, "planner")
    before = db_counts(app.state.engine)

    response = _post(
        client,
        "/work-orders/new",
        {
            "item_id": item["id"],
            "quantity": "10",
            "due_date": "9999-12-31T23:59",
            "line_items.0.operation": "Bottling",
            "line_items.0.resource_id": resource["id"],
            "line_items.0.planned_start": "0001-01-01T00:00",
            "line_items.0.planned_end": "2031-03-03T09:00",
            "release_at": "2031-02-30T08:00",
        },
    )

    assert response.status_code == 422, response.text
    assert f"Due {RANGE}" in response.text
    assert f"Line item 1 (Bottling): planned start {RANGE}" in response.text
    assert "Release at must be a date and time" in response.text
    assert db_counts(app.state.engine) == before


def test_a_floor_report_with_a_nul_character_in_its_note_changes_nothing(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    resource, item = _plant(client, tenant)
    wo = _in_process(client, tenant, resource, item)
    line = wo["line_items"][0]["id"]
    signed_in(client, tenant, "operator")
    before = db_counts(app.state.engine)

    response = _post(
        client,
        f"/floor/{resource['id']}/work-orders/{wo['id']}/line-items/{line}/report",
        {"quantity_completed": "1", "note": "jam\x00"},
    )

    assert response.status_code == 422, response.text
    assert NUL in response.text
    assert db_counts(app.state.engine) == before
    read = client.get(f"{API}/work-orders/{wo['id']}", headers=tenant.headers())
    assert read.json()["line_items"][0]["quantity_completed"] == "0"


def test_a_form_quantity_that_is_no_plain_decimal_is_refused_in_those_words(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    _, item = _plant(client, tenant)
    signed_in(client, tenant, "planner")
    before = db_counts(app.state.engine)

    response = _post(
        client,
        "/work-orders/new",
        {"item_id": item["id"], "quantity": "1_000", "line_items.0.operation": "Bottling"},
    )

    assert response.status_code == 422, response.text
    assert "Quantity must be a plain decimal number such as 12.5" in response.text
    assert db_counts(app.state.engine) == before
