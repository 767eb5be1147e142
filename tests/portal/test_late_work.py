"""Late work, one word on every page: the dashboard, the work order lists and pages and the
production order pages all say "late" as `orders.lifecycle.punctuality` does: open work
planned to end after its due date, or past its due date and still open."""

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from taktline.db import utcnow
from tests.helpers import Tenant
from tests.portal.conftest import signed_in
from tests.portal.test_plant_pages import api_ok, make_order, make_plant, page, table_row, wo_body


def _row_of(html: str, number: str) -> str:
    found = re.search(rf">{number}</a>.*?</tr>", html, re.DOTALL)
    assert found is not None, f"no row of {number}"
    return found.group(0)


def test_work_past_its_due_date_and_still_in_process_is_late_on_every_page(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    now = utcnow()
    # Planned to end 4 hours ago, 3 hours before its due date, which passed an hour ago.
    body = wo_body(plant, now - timedelta(hours=6), due=now - timedelta(hours=1))
    po = make_order(client, tenant, plant, [body])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    assert wo["state"] == "IN_PROCESS"
    assert wo["punctuality"] == "LATE"  # the API's word for it
    signed_in(client, tenant, "viewer")

    dashboard = table_row(page(client, "/"), wo["number"])
    work_order = page(client, f"/work-orders/{wo['id']}")
    in_the_list = _row_of(page(client, "/work-orders"), wo["number"])
    on_its_order = _row_of(page(client, f"/production-orders/{po['id']}"), wo["number"])

    assert "LATE" in dashboard
    h1 = re.search(r"<h1>.*?</h1>", work_order, re.DOTALL)
    assert h1 is not None
    assert '<span class="badge late">Late</span>' in h1.group(0)
    assert "badge late" in in_the_list
    assert "badge late" in on_its_order


def test_work_planned_to_end_well_before_its_due_date_is_late_nowhere(
    client: TestClient, tenant: Tenant
) -> None:
    plant = make_plant(client, tenant)
    now = utcnow()
    body = wo_body(plant, now + timedelta(hours=1), due=now + timedelta(days=3))
    po = make_order(client, tenant, plant, [body])
    wo = api_ok(client, tenant, po["work_orders"][0]["id"], "start")
    signed_in(client, tenant, "viewer")

    assert wo["number"] not in page(client, "/")
    assert "badge late" not in page(client, f"/work-orders/{wo['id']}")
    assert "badge late" not in _row_of(page(client, "/work-orders"), wo["number"])
    assert "badge late" not in page(client, f"/production-orders/{po['id']}")
