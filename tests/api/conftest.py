"""Builders and endpoint scenarios shared by the API tests (tenancy, roles, bad input...).

`Builder` makes the records of one tenant over the API, and puts work orders into any state.
`SCENARIOS` holds, for every operation of the OpenAPI document, how to build a target for it
and the one valid request that the operation's owner may send: the tenancy test sends it as
another organisation, the role matrix as every role, both against the same table. A new
endpoint without a scenario makes those tests fail rather than go untested.
"""

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.app import create_app
from taktline.config import Settings
from taktline.permissions import Role
from tests.boms.sheets import csv_of
from tests.helpers import API, Tenant, bodies, db_counts

# Windows far in the future, two hours apart per work order of one builder: they never meet.
WINDOW_BASE = datetime(2031, 1, 6, 6, 0, tzinfo=UTC)
Json = Any


def iso(moment: datetime) -> str:
    return moment.isoformat()


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the application as it is built (no database is touched)."""
    return create_app(Settings(database_url="sqlite://")).openapi()


def operations() -> list[str]:
    """Every operation of the API as "METHOD /api/v1/path/{param}", in document order."""
    methods = ("get", "post", "put", "patch", "delete")
    return [
        f"{method.upper()} {path}"
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in methods
    ]


def path_id_operations() -> list[str]:
    return [op for op in operations() if "{" in op]


# --- one application per database ---------------------------------------------------------


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[FastAPI]:
    """Overrides the suite's `app` for the API tests: one application per database for the
    whole run rather than one per test. Tests isolate by tenant, so sharing it is safe, and
    building the application is most of what a short API test would otherwise cost."""
    application = create_app(Settings(database_url=database_url))
    application.state.test_sessions = []
    yield application
    application.state.engine.dispose()


# --- building records over the API -------------------------------------------------------


class Builder:
    """Creates one tenant's records through the API (as its planner) and moves work orders
    through their lifecycle. Every method returns the record's JSON as the API answers it."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant
        self._slot = itertools.count()
        self._resource: Json | None = None
        self._item: Json | None = None

    # plumbing
    def headers(self, role: str = "planner", **extra: str) -> dict[str, str]:
        return {**self.tenant.headers(role), **extra}

    def request(
        self, method: str, path: str, body: Json = None, role: str = "planner"
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": self.headers(role)}
        if body is not None:
            kwargs["json"] = body
        response: httpx.Response = self.client.request(method, f"{API}{path}", **kwargs)
        return response

    def ok(self, method: str, path: str, body: Json = None) -> Json:
        response = self.request(method, path, body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()

    def get(self, path: str) -> Json:
        return self.ok("GET", path)

    def window(self, hours: float = 1) -> tuple[datetime, datetime]:
        start = WINDOW_BASE + timedelta(hours=2 * next(self._slot))
        return start, start + timedelta(hours=hours)

    # simple records
    def facility(self, **changes: Any) -> Json:
        return self.ok("POST", "/facilities", bodies.facility(**changes))

    def customer(self, **changes: Any) -> Json:
        return self.ok("POST", "/customers", bodies.customer(**changes))

    def item(self, **changes: Any) -> Json:
        return self.ok("POST", "/items", bodies.item(**changes))

    def resource(self, facility_id: str | None = None, **changes: Any) -> Json:
        facility_id = facility_id or self.facility()["id"]
        return self.ok("POST", "/resources", bodies.resource(facility_id, **changes))

    @property
    def shared_resource(self) -> Json:
        """A resource for work orders that do not care which: it runs many jobs at once."""
        if self._resource is None:
            self._resource = self.resource(parallel_capacity=1000)
        return self._resource

    @property
    def shared_item(self) -> Json:
        if self._item is None:
            self._item = self.item()
        return self._item

    # work orders
    def line_item(
        self,
        resource_id: str | None = None,
        window: tuple[datetime, datetime] | None = None,
        operation: str = "Bottling",
        **changes: Any,
    ) -> dict[str, Any]:
        start, end = window or self.window()
        return {
            "operation": operation,
            "resource_id": resource_id or self.shared_resource["id"],
            "setup_minutes": "15",
            "run_minutes_per_unit": "0.5",
            "planned_start": iso(start),
            "planned_end": iso(end),
            **changes,
        }

    def work_order_body(
        self,
        item_id: str | None = None,
        lines: int = 1,
        resource_id: str | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        return {
            "item_id": item_id or self.shared_item["id"],
            "quantity": "100",
            "line_items": [
                self.line_item(resource_id, operation=f"Operation {n}") for n in range(1, lines + 1)
            ],
            **changes,
        }

    def work_order(self, **kwargs: Any) -> Json:
        return self.ok("POST", "/work-orders", self.work_order_body(**kwargs))

    def wo_action(self, wo: Json, action: str, body: Json = None) -> Json:
        return self.ok("POST", f"/work-orders/{wo['id']}/{action}", body)

    def report(self, wo: Json, line: int = 0, **body: Any) -> Json:
        li = wo["line_items"][line]["id"]
        return self.ok(
            "POST", f"/work-orders/{wo['id']}/line-items/{li}/report", body or {"done": True}
        )

    def wo_in(self, state: str, **kwargs: Any) -> Json:
        """A work order in `state`; besides the six states: ON_HOLD (IN_PROCESS, paused) and
        READY (IN_PROCESS with every line item DONE, so that it may complete)."""
        wo = self.work_order(**kwargs)
        if state == "DRAFT":
            return wo
        if state == "CANCELED":
            return self.wo_action(wo, "cancel", {"reason": "not needed"})
        if state == "DELETED":
            return self.ok("DELETE", f"/work-orders/{wo['id']}")
        wo = self.wo_action(wo, "schedule")
        if state == "SCHEDULED":
            return wo
        wo = self.wo_action(wo, "start")
        if state == "IN_PROCESS":
            return wo
        if state == "ON_HOLD":
            return self.wo_action(wo, "pause", {"reason": "waiting for caps"})
        for n in range(len(wo["line_items"])):
            wo = self.report(wo, n, quantity_completed=wo["quantity"], done=True)
        if state == "READY":
            return wo
        assert state == "COMPLETED", state
        return self.wo_action(wo, "complete", {})

    # production orders
    def production_order_body(self, work_orders: int = 1, **changes: Any) -> dict[str, Any]:
        item_id = changes.pop("item_id", None) or self.shared_item["id"]
        return {
            "owner_id": self.customer()["id"],
            "reference": f"PO-REF-{uuid.uuid4().hex[:8]}",
            "due_date": iso(WINDOW_BASE + timedelta(days=30)),
            "items": [{"item_id": item_id, "quantity": "1000"}],
            "work_orders": [
                self.work_order_body(item_id=item_id, quantity="500") for _ in range(work_orders)
            ],
            **changes,
        }

    def production_order(self, work_orders: int = 1, **changes: Any) -> Json:
        return self.ok(
            "POST", "/production-orders", self.production_order_body(work_orders, **changes)
        )

    # bills of material
    def bom_body(self) -> Json:
        """A BOM of a new item (in gal, as the shared resource's capacity) with a DRAFT
        version 1 that uses the shared item and runs on the shared resource."""
        made = self.item(unit="gal", precision=3)
        return {
            "code": f"BOM-{uuid.uuid4().hex[:8]}",
            "name": "Apple juice",
            "item_id": made["id"],
            "type": "FORMULA",
            "version": {
                "batch_quantity": "1000",
                "inputs": [{"item_id": self.shared_item["id"], "quantity": "180"}],
                "operations": [
                    {
                        "operation": "Pressing",
                        "resource_id": self.shared_resource["id"],
                        "setup_minutes": "30",
                    }
                ],
            },
        }

    def bom(self, active: bool = False, versions: int = 1) -> Json:
        """A BOM with `versions` DRAFT versions (copies of the first); the first ACTIVE."""
        bom = self.ok("POST", "/boms", self.bom_body())
        for _ in range(versions - 1):
            self.ok("POST", f"/boms/{bom['id']}/versions", {"copy_of": 1})
        if active:
            self.ok("POST", f"/boms/{bom['id']}/versions/1/activate")
        return self.get(f"/boms/{bom['id']}")


@pytest.fixture
def builder(client: TestClient, tenant: Tenant) -> Builder:
    return Builder(client, tenant)


@pytest.fixture
def other_builder(client: TestClient, other_tenant: Tenant) -> Builder:
    return Builder(client, other_tenant)


# --- what a request changed ----------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """A record to re-read after a request, with the headers of a user who may read it."""

    headers: Mapping[str, str]
    url: str


@dataclass(frozen=True)
class State:
    counts: dict[str, int]
    records: list[Json]


def observe(client: TestClient, app: FastAPI, watches: tuple[Watch, ...]) -> State:
    records = []
    for watch in watches:
        response = client.get(watch.url, headers=dict(watch.headers))
        assert response.status_code == 200, response.text
        records.append(response.json())
    return State(db_counts(app.state.engine), records)


# --- one valid request per operation -------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A request of the API, with its path parameters kept apart so that they can be swapped
    for another organisation's ids or for ids that do not exist."""

    method: str
    template: str  # as in the OpenAPI document: /api/v1/work-orders/{work_order_id}/start
    params: dict[str, str] = field(default_factory=dict)
    body: Json = None
    # the records the request would change, to check that a refused one changed nothing
    watches: tuple[Watch, ...] = ()
    # the status the owner gets when allowed
    success: int = 200
    # a query string, as sent: "?quantity=10"
    query: str = ""
    # a body that is not JSON (a CSV file), sent as is with its Content-Type
    content: bytes | None = None
    content_type: str = "text/csv"

    @property
    def operation(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def url(self) -> str:
        return self.template.format(**self.params) + self.query

    def with_params(self, **params: str) -> "Call":
        return replace(self, params={**self.params, **params})

    def send(self, client: TestClient, headers: Mapping[str, str] | None) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": dict(headers or {})}
        if self.body is not None:
            kwargs["json"] = self.body
        if self.content is not None:
            kwargs["content"] = self.content
            kwargs["headers"]["Content-Type"] = self.content_type
        response: httpx.Response = client.request(self.method, self.url, **kwargs)
        return response


@dataclass(frozen=True)
class Scenario:
    """How to build a target for an operation, and which permission the operation needs:
    read (every role), operate (operators, planners, admins), plan (planners and admins),
    administer (admins)."""

    needs: str
    build: Callable[[Builder], Call]

    @property
    def owner_role(self) -> str:
        """A role that may make the call: the planner, or the admin where only admins may."""
        return "admin" if self.needs == "administer" else "planner"


WO = f"{API}/work-orders"
PO = f"{API}/production-orders"


def _watch(b: Builder, path: str) -> tuple[Watch, ...]:
    return (Watch(b.headers("viewer"), f"{API}{path}"),)


def _simple(
    collection: str, param: str, make: str, needs: str, patch: Callable[[], Json] | None = None
) -> Scenario:
    def build(b: Builder) -> Call:
        record = getattr(b, make)()
        path = f"/{collection}/{record['id']}"
        method = "GET" if needs == "read" else "PATCH"
        return Call(
            method,
            f"{API}/{collection}/{{{param}}}",
            {param: record["id"]},
            patch() if patch else None,
            _watch(b, path),
        )

    return Scenario(needs, build)


def _rename(prefix: str) -> dict[str, str]:
    return {"name": f"{prefix} {uuid.uuid4().hex[:8]}"}


def _wo(state: str, needs: str, method: str, suffix: str = "", body: Json = None) -> Scenario:
    def build(b: Builder) -> Call:
        wo = b.wo_in(state)
        return Call(
            method,
            f"{WO}/{{work_order_id}}{suffix}",
            {"work_order_id": wo["id"]},
            body,
            _watch(b, f"/work-orders/{wo['id']}"),
        )

    return Scenario(needs, build)


def _line_item_action(action: str, needs: str, body: Json) -> Scenario:
    def build(b: Builder) -> Call:
        wo = b.wo_in("IN_PROCESS")
        return Call(
            "POST",
            f"{WO}/{{work_order_id}}/line-items/{{line_item_id}}/{action}",
            {"work_order_id": wo["id"], "line_item_id": wo["line_items"][0]["id"]},
            body,
            _watch(b, f"/work-orders/{wo['id']}"),
        )

    return Scenario(needs, build)


def _reverse_report(b: Builder) -> Call:
    """A report of the operator's own, to reverse: operators reverse their own reports,
    planners and admins anyone's."""
    wo = b.wo_in("IN_PROCESS")
    li = wo["line_items"][0]["id"]
    reported = b.request(
        "POST",
        f"/work-orders/{wo['id']}/line-items/{li}/report",
        {"quantity_completed": "40"},
        role="operator",
    )
    assert reported.status_code == 200, reported.text
    report = b.get(f"/work-orders/{wo['id']}/reports")[-1]
    return Call(
        "POST",
        f"{WO}/{{work_order_id}}/line-items/{{line_item_id}}/reverse_report",
        {"work_order_id": wo["id"], "line_item_id": li},
        {"report_id": report["id"], "reason": "counted twice"},
        _watch(b, f"/work-orders/{wo['id']}"),
    )


def _token_to_revoke(b: Builder) -> Call:
    """A token of a user of its own, made by the admin: the list watched shows it alone."""
    from taktline.auth import service as auth_service
    from taktline.orgs.models import Organisation

    email = f"script.{uuid.uuid4().hex[:8]}@tenant.test"
    with b.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        org = session.get_one(Organisation, b.tenant.org_id)
        auth_service.get_or_create_user(session, org, email, Role.OPERATOR)
    created = b.request("POST", "/tokens", {"email": email}, role="admin")
    assert created.status_code == 201, created.text
    return Call(
        "DELETE",
        f"{API}/tokens/{{token_id}}",
        {"token_id": created.json()["id"]},
        watches=(Watch(b.headers("admin"), f"{API}/tokens?email={email}"),),
    )


def _po(needs: str, method: str, suffix: str = "", body: Json = None) -> Scenario:
    def build(b: Builder) -> Call:
        po = b.production_order()
        return Call(
            method,
            f"{PO}/{{production_order_id}}{suffix}",
            {"production_order_id": po["id"]},
            body,
            _watch(b, f"/production-orders/{po['id']}"),
        )

    return Scenario(needs, build)


def _list(collection: str) -> Scenario:
    return Scenario("read", lambda b: Call("GET", f"{API}/{collection}"))


def _create(collection: str, body: Callable[[Builder], Json]) -> Scenario:
    return Scenario(
        "plan", lambda b: Call("POST", f"{API}/{collection}", body=body(b), success=201)
    )


REASON = {"reason": "the customer moved the date"}
SHIFTS = {"shifts": [{"weekday": "monday", "start": "06:00", "end": "14:00"}]}


def exception_body() -> Json:
    start = WINDOW_BASE + timedelta(days=1)
    return {
        "kind": "MAINTENANCE",
        "starts_at": iso(start),
        "ends_at": iso(start + timedelta(hours=4)),
        "reason": "filler service",
    }


def _calendar(
    collection: str, kind: str, needs: str, method: str, suffix: str = "", body: Json = None
) -> Scenario:
    """A calendar operation on a facility or resource; DELETE targets one that has
    something to delete (weekly hours, or an exception)."""
    param = f"{kind}_id"

    def build(b: Builder) -> Call:
        owner = getattr(b, kind)()
        base = f"/{collection}/{owner['id']}/calendar"
        params = {param: owner["id"]}
        template = f"{API}/{collection}/{{{param}}}/calendar{suffix}"
        success = 201 if method == "POST" else 200
        if method == "DELETE" and suffix == "":
            b.ok("PUT", base, SHIFTS)
        if method == "DELETE" and suffix:
            exception = b.ok("POST", f"{base}/exceptions", exception_body())
            params["exception_id"] = exception["id"]
            success = 204
        return Call(
            method,
            template,
            params,
            body,
            _watch(b, base) + _watch(b, f"{base}/exceptions"),
            success,
        )

    return Scenario(needs, build)


def _calendar_scenarios(collection: str, kind: str) -> dict[str, Scenario]:
    base = f"{API}/{collection}/{{{kind}_id}}/calendar"
    return {
        f"GET {base}": _calendar(collection, kind, "read", "GET"),
        f"PUT {base}": _calendar(collection, kind, "plan", "PUT", body=SHIFTS),
        f"DELETE {base}": _calendar(collection, kind, "plan", "DELETE"),
        f"POST {base}/exceptions": _calendar(
            collection, kind, "plan", "POST", "/exceptions", exception_body()
        ),
        f"GET {base}/exceptions": _calendar(collection, kind, "read", "GET", "/exceptions"),
        f"DELETE {base}/exceptions/{{exception_id}}": _calendar(
            collection, kind, "plan", "DELETE", "/exceptions/{exception_id}"
        ),
    }


def _schedule_apply(b: Builder) -> Call:
    wo = b.wo_in("DRAFT")
    return Call(
        "POST",
        f"{API}/schedule/apply",
        body={"work_order_ids": [wo["id"]], "time_limit_seconds": 1},
        watches=_watch(b, f"/work-orders/{wo['id']}"),
    )


SCENARIOS: dict[str, Scenario] = {
    # facilities, customers, items, resources
    f"GET {API}/facilities": _list("facilities"),
    f"POST {API}/facilities": _create("facilities", lambda b: bodies.facility()),
    f"GET {API}/facilities/{{facility_id}}": _simple(
        "facilities", "facility_id", "facility", "read"
    ),
    f"PATCH {API}/facilities/{{facility_id}}": _simple(
        "facilities", "facility_id", "facility", "plan", lambda: _rename("Plant")
    ),
    f"GET {API}/customers": _list("customers"),
    f"POST {API}/customers": _create("customers", lambda b: bodies.customer()),
    f"GET {API}/customers/{{customer_id}}": _simple("customers", "customer_id", "customer", "read"),
    f"PATCH {API}/customers/{{customer_id}}": _simple(
        "customers", "customer_id", "customer", "plan", lambda: _rename("Customer")
    ),
    f"GET {API}/items": _list("items"),
    f"POST {API}/items": _create("items", lambda b: bodies.item()),
    f"GET {API}/items/{{item_id}}": _simple("items", "item_id", "item", "read"),
    f"PATCH {API}/items/{{item_id}}": _simple(
        "items", "item_id", "item", "plan", lambda: {"name": "Renamed item"}
    ),
    f"GET {API}/resources": _list("resources"),
    f"POST {API}/resources": _create("resources", lambda b: bodies.resource(b.facility()["id"])),
    f"GET {API}/resources/{{resource_id}}": _simple("resources", "resource_id", "resource", "read"),
    f"PATCH {API}/resources/{{resource_id}}": _simple(
        "resources", "resource_id", "resource", "plan", lambda: {"name": "Renamed line"}
    ),
    # production orders
    f"GET {PO}": _list("production-orders"),
    f"POST {PO}": _create("production-orders", lambda b: b.production_order_body(2)),
    f"GET {PO}/{{production_order_id}}": _po("read", "GET"),
    f"PATCH {PO}/{{production_order_id}}": _po("plan", "PATCH", body={"priority": 80}),
    f"DELETE {PO}/{{production_order_id}}": _po("plan", "DELETE"),
    f"POST {PO}/{{production_order_id}}/schedule": _po("plan", "POST", "/schedule"),
    f"POST {PO}/{{production_order_id}}/cancel": _po("plan", "POST", "/cancel", REASON),
    f"GET {PO}/{{production_order_id}}/events": _po("read", "GET", "/events"),
    # work orders
    f"GET {WO}": _list("work-orders"),
    f"POST {WO}": _create("work-orders", lambda b: b.work_order_body(lines=2)),
    f"GET {WO}/{{work_order_id}}": _wo("DRAFT", "read", "GET"),
    f"PATCH {WO}/{{work_order_id}}": _wo("DRAFT", "plan", "PATCH", body={"priority": 80}),
    f"DELETE {WO}/{{work_order_id}}": _wo("DRAFT", "plan", "DELETE"),
    f"POST {WO}/{{work_order_id}}/schedule": _wo("DRAFT", "plan", "POST", "/schedule"),
    f"POST {WO}/{{work_order_id}}/unschedule": _wo("SCHEDULED", "plan", "POST", "/unschedule"),
    f"POST {WO}/{{work_order_id}}/start": _wo("SCHEDULED", "operate", "POST", "/start"),
    f"POST {WO}/{{work_order_id}}/pause": _wo("IN_PROCESS", "operate", "POST", "/pause", REASON),
    f"POST {WO}/{{work_order_id}}/resume": _wo("ON_HOLD", "operate", "POST", "/resume"),
    f"POST {WO}/{{work_order_id}}/complete": _wo("READY", "operate", "POST", "/complete", {}),
    f"POST {WO}/{{work_order_id}}/cancel": _wo("SCHEDULED", "plan", "POST", "/cancel", REASON),
    f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/report": _line_item_action(
        "report", "operate", {"quantity_completed": "40", "quantity_scrapped": "2"}
    ),
    f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/skip": _line_item_action(
        "skip", "plan", REASON
    ),
    f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/reverse_report": Scenario(
        "operate", _reverse_report
    ),
    f"GET {WO}/{{work_order_id}}/reports": _wo("IN_PROCESS", "read", "GET", "/reports"),
    f"GET {WO}/{{work_order_id}}/events": _wo("DRAFT", "read", "GET", "/events"),
    # the organisation's settings
    f"GET {API}/organisation": _list("organisation"),
    f"PATCH {API}/organisation": Scenario(
        "administer",
        lambda b: Call(
            "PATCH",
            f"{API}/organisation",
            body={"over_production_tolerance_percent": "2"},
            watches=_watch(b, "/organisation"),
        ),
    ),
    # calendars
    **_calendar_scenarios("facilities", "facility"),
    **_calendar_scenarios("resources", "resource"),
    # scheduling: a preview changes nothing, but a solve takes the CPU: planners only
    f"POST {API}/schedule/preview": Scenario(
        "plan",
        lambda b: Call("POST", f"{API}/schedule/preview", body={"time_limit_seconds": 1}),
    ),
    f"POST {API}/schedule/apply": Scenario("plan", _schedule_apply),
    f"GET {API}/bottlenecks": _list("bottlenecks"),
    # API tokens: admins only
    f"GET {API}/tokens": Scenario("administer", lambda b: Call("GET", f"{API}/tokens")),
    f"POST {API}/tokens": Scenario(
        "administer",
        lambda b: Call(
            "POST",
            f"{API}/tokens",
            body={"email": b.tenant.user("viewer").email, "expires_in_days": 30},
            success=201,
        ),
    ),
    f"DELETE {API}/tokens/{{token_id}}": Scenario("administer", _token_to_revoke),
}


def _bom(
    needs: str,
    method: str,
    suffix: str = "",
    body: Json = None,
    *,
    active: bool = False,
    versions: int = 1,
    query: str = "",
    success: int = 200,
) -> Scenario:
    def build(b: Builder) -> Call:
        bom = b.bom(active=active, versions=versions)
        numbered = "{number}" in suffix
        return Call(
            method,
            f"{API}/boms/{{bom_id}}{suffix}",
            {"bom_id": bom["id"], **({"number": "1"} if numbered else {})},
            body,
            _watch(b, f"/boms/{bom['id']}/versions/1"),
            success,
            query,
        )

    return Scenario(needs, build)


def _generate(b: Builder) -> Call:
    bom = b.bom(active=True)
    po = b.ok(
        "POST", "/production-orders", {"items": [{"item_id": bom["item_id"], "quantity": "10"}]}
    )
    return Call(
        "POST",
        f"{PO}/{{production_order_id}}/generate",
        {"production_order_id": po["id"]},
        watches=(Watch(b.headers("viewer"), f"{API}/work-orders?production_order_id={po['id']}"),),
    )


def import_file(b: Builder, code: str | None = None) -> bytes:
    """A CSV file of one new BOM (a new item's, of the shared item on the shared resource)."""
    made = b.item(unit="gal")
    bom = {
        "bom_code": code or f"CSV-{uuid.uuid4().hex[:8]}",
        "bom_name": "Apple juice",
        "bom_type": "FORMULA",
        "output_sku": made["sku"],
        "batch_quantity": "1000",
    }
    return csv_of(
        {**bom, "line": "input", "item_sku": b.shared_item["sku"], "quantity": "180"},
        {
            "bom_code": bom["bom_code"],
            "line": "operation",
            "operation": "Pressing",
            "resource_code": b.shared_resource["code"],
        },
    )


def _import(b: Builder) -> Call:
    return Call(
        "POST",
        f"{API}/boms/import",
        content=import_file(b),
        watches=_watch(b, "/boms?limit=500"),
        success=201,
    )


def _where_used(b: Builder) -> Call:
    b.bom(active=True)
    item = b.shared_item
    return Call(
        "GET",
        f"{API}/items/{{item_id}}/where-used",
        {"item_id": item["id"]},
        watches=_watch(b, f"/items/{item['id']}"),
    )


SCENARIOS.update(
    {
        f"GET {API}/boms": _list("boms"),
        f"POST {API}/boms": _create("boms", lambda b: b.bom_body()),
        f"GET {API}/boms/{{bom_id}}": _bom("read", "GET"),
        f"PATCH {API}/boms/{{bom_id}}": _bom("plan", "PATCH", body={"name": "Renamed"}),
        f"GET {API}/boms/{{bom_id}}/explode": _bom(
            "read", "GET", "/explode", active=True, query="?quantity=10"
        ),
        f"POST {API}/boms/{{bom_id}}/versions": _bom(
            "plan", "POST", "/versions", {"copy_of": 1}, success=201
        ),
        f"GET {API}/boms/{{bom_id}}/versions/{{number}}": _bom("read", "GET", "/versions/{number}"),
        f"PATCH {API}/boms/{{bom_id}}/versions/{{number}}": _bom(
            "plan", "PATCH", "/versions/{number}", {"notes": "less water"}
        ),
        f"POST {API}/boms/{{bom_id}}/versions/{{number}}/activate": _bom(
            "plan", "POST", "/versions/{number}/activate"
        ),
        f"POST {API}/boms/{{bom_id}}/versions/{{number}}/retire": _bom(
            "plan", "POST", "/versions/{number}/retire", active=True
        ),
        f"GET {API}/boms/{{bom_id}}/versions/{{number}}/diff": _bom(
            "read", "GET", "/versions/{number}/diff", versions=2, query="?against=2"
        ),
        f"POST {API}/boms/import": Scenario("plan", _import),
        f"GET {API}/boms/export": _list("boms/export"),
        f"GET {API}/boms/{{bom_id}}/export": _bom("read", "GET", "/export"),
        f"POST {PO}/{{production_order_id}}/generate": Scenario("plan", _generate),
        f"GET {API}/items/{{item_id}}/where-used": Scenario("read", _where_used),
        f"GET {WO}/{{work_order_id}}/materials": _wo("DRAFT", "read", "GET", "/materials"),
    }
)

# --- stock ---------------------------------------------------------------------------------


def _lot(b: Builder, quantity: str = "50", **body: Any) -> Json:
    """A lot of a material of its own, received by the planner."""
    material = b.item(type="RAW_MATERIAL")
    return b.ok(
        "POST",
        "/receipts",
        {"item_id": material["id"], "facility_id": b.facility()["id"], "quantity": quantity,
         **body},
    )  # fmt: skip


def _lot_scenario(
    needs: str, method: str, suffix: str = "", body: Json = None, *, held: bool = False
) -> Scenario:
    def build(b: Builder) -> Call:
        lot = _lot(b)
        if held:
            b.ok("POST", f"/lots/{lot['id']}/hold", {"reason": "QA sample"})
        return Call(
            method,
            f"{API}/lots/{{lot_id}}{suffix}",
            {"lot_id": lot["id"]},
            body,
            _watch(b, f"/lots/{lot['id']}"),
        )

    return Scenario(needs, build)


def _wo_needing_a_lot(b: Builder, state: str) -> tuple[Json, Json]:
    """A work order in `state` (DRAFT, SCHEDULED, IN_PROCESS) that needs 5 of a lot's item."""
    lot = _lot(b, lot_code=f"L-{uuid.uuid4().hex[:8]}")
    wo = b.wo_in("DRAFT")
    b.request("GET", f"/work-orders/{wo['id']}")
    patched = b.client.patch(
        f"{WO}/{wo['id']}",
        json={"materials": [{"item_id": lot["item_id"], "quantity": "5"}]},
        headers=b.headers(**{"If-Match": f'"{wo["version"]}"'}),
    )
    assert patched.status_code == 200, patched.text
    wo = patched.json()
    if state in ("SCHEDULED", "IN_PROCESS"):
        wo = b.wo_action(wo, "schedule")
    if state == "IN_PROCESS":
        wo = b.wo_action(wo, "start")
    return wo, lot


def _allocation_to_release(b: Builder) -> Call:
    wo, lot = _wo_needing_a_lot(b, "DRAFT")
    [material] = b.ok("POST", f"/work-orders/{wo['id']}/allocate", {"auto": True})
    return Call(
        "DELETE",
        f"{WO}/{{work_order_id}}/allocations/{{allocation_id}}",
        {"work_order_id": wo["id"], "allocation_id": material["allocations"][0]["id"]},
        watches=_watch(b, f"/lots/{lot['id']}"),
    )


def _pull(b: Builder) -> Call:
    wo, lot = _wo_needing_a_lot(b, "IN_PROCESS")
    return Call(
        "POST",
        f"{WO}/{{work_order_id}}/pulls",
        {"work_order_id": wo["id"]},
        {"lot_code": lot["code"], "quantity": "5"},
        _watch(b, f"/lots/{lot['id']}"),
        success=201,
    )


def _return(b: Builder) -> Call:
    wo, lot = _wo_needing_a_lot(b, "IN_PROCESS")
    pulled = b.request(
        "POST", f"/work-orders/{wo['id']}/pulls", {"lot_code": lot["code"], "quantity": "5"}
    )
    assert pulled.status_code == 201, pulled.text
    pull = pulled.json()[0]["pulls"][0]
    return Call(
        "POST",
        f"{WO}/{{work_order_id}}/pulls/{{pull_id}}/return",
        {"work_order_id": wo["id"], "pull_id": pull["id"]},
        {"reason": "left over"},
        _watch(b, f"/lots/{lot['id']}"),
    )


def _allocate(b: Builder) -> Call:
    wo, lot = _wo_needing_a_lot(b, "DRAFT")
    return Call(
        "POST",
        f"{WO}/{{work_order_id}}/allocate",
        {"work_order_id": wo["id"]},
        {"auto": True},
        _watch(b, f"/lots/{lot['id']}"),
    )


def _allocate_many(b: Builder) -> Call:
    wo, lot = _wo_needing_a_lot(b, "DRAFT")
    return Call(
        "POST",
        f"{API}/materials/allocate",
        body={"work_order_ids": [wo["id"]]},
        watches=_watch(b, f"/lots/{lot['id']}"),
    )


def _receive(b: Builder) -> Call:
    material = b.item(type="RAW_MATERIAL")
    return Call(
        "POST",
        f"{API}/receipts",
        body={"item_id": material["id"], "facility_id": b.facility()["id"], "quantity": "10"},
        success=201,
    )


SCENARIOS.update(
    {
        f"POST {API}/receipts": Scenario("operate", _receive),
        f"GET {API}/lots": _list("lots"),
        f"GET {API}/lots/{{lot_id}}": _lot_scenario("read", "GET"),
        f"GET {API}/lots/{{lot_id}}/entries": _lot_scenario("read", "GET", "/entries"),
        f"GET {API}/lots/{{lot_id}}/events": _lot_scenario("read", "GET", "/events"),
        f"POST {API}/lots/{{lot_id}}/release": _lot_scenario("plan", "POST", "/release", held=True),
        f"POST {API}/lots/{{lot_id}}/hold": _lot_scenario("plan", "POST", "/hold", REASON),
        f"POST {API}/lots/{{lot_id}}/reject": _lot_scenario("plan", "POST", "/reject", REASON),
        f"POST {API}/lots/{{lot_id}}/adjust": _lot_scenario(
            "plan", "POST", "/adjust", {"quantity": "-2", "reason": "counted 48"}
        ),
        f"POST {API}/lots/{{lot_id}}/scrap": _lot_scenario(
            "plan", "POST", "/scrap", {"quantity": "2", "reason": "crushed"}
        ),
        f"POST {WO}/{{work_order_id}}/allocate": Scenario("plan", _allocate),
        f"DELETE {WO}/{{work_order_id}}/allocations/{{allocation_id}}": Scenario(
            "plan", _allocation_to_release
        ),
        f"POST {WO}/{{work_order_id}}/pulls": Scenario("operate", _pull),
        f"POST {WO}/{{work_order_id}}/pulls/{{pull_id}}/return": Scenario("operate", _return),
        f"POST {API}/materials/allocate": Scenario("plan", _allocate_many),
        f"GET {API}/materials/shortages": _list("materials/shortages"),
        f"GET {API}/lots/{{lot_id}}/trace": _lot_scenario("read", "GET", "/trace"),
        f"GET {API}/lots/{{lot_id}}/recall": _lot_scenario("read", "GET", "/recall"),
        f"GET {API}/fsma204": Scenario(
            "read", lambda b: Call("GET", f"{API}/fsma204", query="?lot_code=NONE-SUCH")
        ),
    }
)

# Needs no token: it only says whether the server and its database are up.
PUBLIC_OPERATIONS = frozenset({f"GET {API}/health"})


def scenario_for(operation: str) -> Scenario:
    scenario = SCENARIOS.get(operation)
    if scenario is None:
        pytest.fail(
            f"{operation} has no scenario in tests/api/conftest.py SCENARIOS: add one, so that "
            "its tenancy and roles are tested",
            pytrace=False,
        )
    return scenario
