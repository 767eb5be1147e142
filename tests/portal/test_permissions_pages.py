"""Who may do what, through the portal: the permissions table, walked key by key.

For every work order and production order key of `taktline.permissions.PERMISSIONS` (and
schedule.apply), each role signs in and sends the portal's route for it (the action routes
of the work order page and of the shop floor, the forms, the Apply button) as a forged post
with the session's valid CSRF token, on a fresh record in a state that allows the action.
A role of the rule gets through; any other is refused with 403 and the table's words, and
nothing changes. The portal decides none of it: the use cases do, from the table.
"""

import html
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient

from taktline.orders.registry import ON_PRODUCTION_ORDERS, ON_WORK_ORDERS
from taktline.permissions import PERMISSIONS, Role
from tests.helpers import API, Tenant, bodies, create, db_counts
from tests.portal.conftest import csrf_of, signed_in
from tests.portal.test_order_pages import (
    Json,
    Plant,
    api,
    in_process,
    make_plant,
    make_work_order,
    wo_body,
)
from tests.scheduling.shop import Shop

# The work order's stock actions are not the lifecycle's: their pages' own tests walk them
# (tests/portal/test_inventory_pages.py, tests/portal/test_floor_pulls.py).
STOCK_ACTIONS = {
    "work_order.allocate",
    "work_order.release_allocation",
    "work_order.pull",
    "work_order.return",
}
KEYS = [
    key
    for key in PERMISSIONS
    if (key.startswith(("work_order.", "production_order.")) and key not in STOCK_ACTIONS)
    or key == "schedule.apply"
]
# What each action form sends; the others are buttons without fields.
FORMS: dict[str, dict[str, str]] = {
    "pause": {"reason": "Label jam"},
    "cancel": {"reason": "Not needed"},
    "skip": {"reason": "Pre-applied"},
    "report": {"quantity_completed": "10"},
}
_PLAN = re.compile(r'name="plan" value="([^"]*)"')


@dataclass
class Records:
    """Builds fresh records through the API as the tenant's planner, each on its own hours
    so that scheduling one never collides with another's bookings."""

    client: TestClient
    tenant: Tenant
    plant: Plant
    _hours: Iterator[int] = field(default_factory=lambda: itertools.count(0, 10))

    def work_order(self, state: str) -> Json:
        hours = next(self._hours)
        if state == "DRAFT":
            return make_work_order(self.client, self.tenant, self.plant, hours=hours)
        if state == "SCHEDULED":
            wo = make_work_order(self.client, self.tenant, self.plant, hours=hours)
            scheduled: Json = api(
                self.client, self.tenant, "POST", f"/work-orders/{wo['id']}/schedule"
            )
            return scheduled
        wo = in_process(self.client, self.tenant, self.plant, hours=hours)
        if state == "ON_HOLD":
            body = {"reason": "jam"}
            wo = api(self.client, self.tenant, "POST", f"/work-orders/{wo['id']}/pause", json=body)
        if state == "READY":  # every line item done: it may be completed
            for li in wo["line_items"]:
                wo = api(
                    self.client,
                    self.tenant,
                    "POST",
                    f"/work-orders/{wo['id']}/line-items/{li['id']}/report",
                    json={"quantity_completed": "100", "done": True},
                )
        return wo

    def production_order(self) -> Json:
        """A DRAFT order of one DRAFT work order."""
        body = {
            "items": [{"item_id": self.plant.item["id"], "quantity": "100"}],
            "work_orders": [wo_body(self.plant, hours=next(self._hours))],
        }
        created: Json = create(self.client, self.tenant, "/production-orders", body)
        return created


# The state a work order must be in for each action to go through.
NEEDS = {
    "read": "DRAFT",
    "update": "DRAFT",
    "schedule": "DRAFT",
    "cancel": "DRAFT",
    "delete": "DRAFT",
    "unschedule": "SCHEDULED",
    "start": "SCHEDULED",
    "pause": "IN_PROCESS",
    "report": "IN_PROCESS",
    "skip": "IN_PROCESS",
    "reverse_report": "IN_PROCESS",
    "resume": "ON_HOLD",
    "complete": "READY",
}
# The shop floor's own routes for the same registry actions.
FLOOR = ("start", "pause", "resume", "complete", "report")


@dataclass(frozen=True)
class Attempt:
    """A request the portal answers for a key: what to send, and what it changes."""

    method: str
    url: str
    form: dict[str, str]
    state: Callable[[], object]


def work_order_attempts(records: Records, action: str) -> list[Attempt]:
    client, tenant, plant = records.client, records.tenant, records.plant
    if action == "create":
        form = {"item_id": plant.item["id"], "quantity": "5"}
        return [Attempt("POST", "/work-orders/new", form, lambda: None)]
    found: list[Attempt] = []
    for floor in (False, True) if action in FLOOR else (False,):
        wo = records.work_order(NEEDS[action])

        def state(wo_id: str = wo["id"]) -> object:
            return api(client, tenant, "GET", f"/work-orders/{wo_id}")

        if action == "read":
            found.append(Attempt("GET", f"/work-orders/{wo['id']}", {}, state))
            continue
        if action == "update":
            form = {"item_id": plant.item["id"], "quantity": "120", "priority": "60"}
            found.append(Attempt("POST", f"/work-orders/{wo['id']}/edit", form, state))
            continue
        base = f"/floor/{plant.resources[0]['id']}" if floor else ""
        url = f"{base}/work-orders/{wo['id']}"
        if ON_WORK_ORDERS[action].on_line_item:
            # skip needs a PENDING line item: the second, which nothing has started
            li = wo["line_items"][1 if action == "skip" else 0]
            url += f"/line-items/{li['id']}"
        form = FORMS.get(action, {})
        if action == "reverse_report":
            # the operator's own report: operators reverse theirs, planners anyone's
            reported = client.post(
                f"{API}/work-orders/{wo['id']}/line-items/{li['id']}/report",
                json={"quantity_completed": "10"},
                headers=tenant.headers("operator"),
            )
            assert reported.status_code == 200, reported.text
            report = api(client, tenant, "GET", f"/work-orders/{wo['id']}/reports")[-1]
            form = {"report_id": report["id"], "reason": "Counted twice"}
        found.append(Attempt("POST", f"{url}/{action}", form, state))
    return found


def production_order_attempts(records: Records, action: str) -> list[Attempt]:
    client, tenant, plant = records.client, records.tenant, records.plant
    if action == "create":
        form = {"items.0.item_id": plant.item["id"], "items.0.quantity": "5"}
        return [Attempt("POST", "/production-orders/new", form, lambda: None)]
    if action == "generate":
        # an order of an item of its own that has an ACTIVE bill of material
        kit = create(client, tenant, "/items", bodies.item(name="Gift box"))
        bom = create(
            client,
            tenant,
            "/boms",
            {
                "code": f"KIT-{uuid.uuid4().hex[:8]}",
                "name": "Gift box",
                "item_id": kit["id"],
                "type": "KIT",
                "version": {
                    "batch_quantity": "1",
                    "inputs": [{"item_id": plant.other_item["id"], "quantity": "2"}],
                },
            },
        )
        api(client, tenant, "POST", f"/boms/{bom['id']}/versions/1/activate")
        po = create(
            client,
            tenant,
            "/production-orders",
            {"items": [{"item_id": kit["id"], "quantity": "5"}]},
        )
    else:
        po = records.production_order()

    def state() -> object:
        return api(client, tenant, "GET", f"/production-orders/{po['id']}")

    if action == "read":
        return [Attempt("GET", f"/production-orders/{po['id']}", {}, state)]
    if action == "update":
        form = {
            "priority": "70",
            "items.0.item_id": plant.item["id"],
            "items.0.quantity": "150",
        }
        return [Attempt("POST", f"/production-orders/{po['id']}/edit", form, state)]
    assert action in ON_PRODUCTION_ORDERS
    url = f"/production-orders/{po['id']}/{action}"
    return [Attempt("POST", url, FORMS.get(action, {}), state)]


def send(client: TestClient, attempt: Attempt) -> httpx.Response:
    response: httpx.Response
    if attempt.method == "GET":
        response = client.get(attempt.url, follow_redirects=False)
    else:
        csrf = csrf_of(client.get("/work-orders").text)
        data = {**attempt.form, "csrf_token": csrf}
        response = client.post(attempt.url, data=data, follow_redirects=False)
    return response


def check(client: TestClient, role: Role, key: str, attempts: list[Attempt]) -> None:
    rule = PERMISSIONS[key]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    for attempt in attempts:
        before, state = db_counts(engine), attempt.state()
        response = send(client, attempt)
        where = f"{role} {attempt.method} {attempt.url}"
        if role in rule.roles:
            assert response.status_code != 403, f"{where}: {response.text[:2000]}"
            assert response.status_code in (200, 303), f"{where}: {response.text[:2000]}"
        else:
            assert response.status_code == 403, f"{where}: {response.status_code}"
            said = f"The {role} role may not {rule.what}."
            assert said in html.unescape(response.text), where
            assert db_counts(engine) == before, where
            assert attempt.state() == state, where


@pytest.mark.parametrize("key", [k for k in KEYS if k != "schedule.apply"])
def test_each_role_may_take_the_order_actions_its_rule_allows_and_no_other(
    client: TestClient, tenant: Tenant, key: str
) -> None:
    kind, action = key.split(".")
    records = Records(client, tenant, make_plant(client, tenant))
    for role in Role:
        if kind == "work_order":
            attempts = work_order_attempts(records, action)
        else:
            attempts = production_order_attempts(records, action)
        signed_in(client, tenant, role)
        check(client, role, key, attempts)


def test_each_role_may_apply_a_schedule_only_if_its_rule_allows(
    client: TestClient, tenant: Tenant
) -> None:
    assert "schedule.apply" in KEYS
    shop = Shop.open(client, tenant, hours=None)
    line = shop.resource("FILL-1")
    wo = shop.work_order([shop.line(line, 120)])
    signed_in(client, tenant, Role.PLANNER)
    preview = client.get("/board/schedule", params={"time_limit": 1})
    assert preview.status_code == 200, preview.text
    found = _PLAN.search(preview.text)
    assert found is not None
    form = {"plan": html.unescape(found.group(1))}

    def state() -> object:
        return shop.get(wo)

    # The rule's roles in turn: the first applies it, the next finds the work changed (412).
    for role in sorted(Role, key=lambda r: r not in PERMISSIONS["schedule.apply"].roles):
        signed_in(client, tenant, role)
        attempt = Attempt("POST", "/board/schedule/apply", form, state)
        rule = PERMISSIONS["schedule.apply"]
        if role in rule.roles:
            response = send(client, attempt)
            assert response.status_code in (303, 412), response.text[:2000]
        else:
            check(client, role, "schedule.apply", [attempt])
