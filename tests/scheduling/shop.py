"""A plant for the scheduling tests, built through the API: a facility in Chicago with
weekly hours, resources, an item, work orders and production orders; and the scheduler's
answers, each checked with the core's checker against the problem it was built from.

Times are laid out from H0, Monday 7 January 2030 06:00 in Chicago (12:00 UTC, no daylight
saving then): `at(hours)` is H0 + hours.

    shop = Shop.open(client, tenant, hours=("06:00", "14:00"))   # Mon-Fri, one shift
    bl1 = shop.resource("BL1")
    wo = shop.work_order([shop.line(bl1, 60, "Bottling")], due=at(4))
    proposal = shop.preview()                      # over HTTP, as the planner
"""

import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from taktline.scheduling import propose
from taktline.scheduling.schemas import ScheduleRequest
from taktline.solver.checker import check_proposal
from taktline.solver.problem import Proposal
from taktline.solver.solve import solve
from tests.helpers import API, Tenant, bodies

Json = dict[str, Any]
H0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
_serial = itertools.count(1)
# The refusal of a solve while the organisation solves another (taktline.scheduling.solving).
BUSY = "Another schedule is being solved for your organisation; try again in a moment."
WAIT = 30  # seconds a test waits for another thread at most; never reached when it works


def at(hours: float) -> datetime:
    return H0 + timedelta(hours=hours)


def iso(hours: float) -> str:
    return at(hours).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, "
        f"got {response.status_code}: {response.text}"
    )
    return response.json() if response.content else None


def record(value: Any) -> Json:
    """A JSON object answer, typed as one."""
    assert isinstance(value, dict), value
    return value


def weekly(start: str, end: str, days: Sequence[str] = WEEKDAYS) -> Json:
    return {"shifts": [{"weekday": d, "start": start, "end": end} for d in days]}


@dataclass
class Shop:
    client: TestClient
    tenant: Tenant
    facility: Json
    item: Json

    @classmethod
    def open(
        cls,
        client: TestClient,
        tenant: Tenant,
        hours: tuple[str, str] | None = ("06:00", "14:00"),
    ) -> "Shop":
        """A facility (Mon-Fri `hours`, local; None: around the clock) and an item."""
        h = tenant.headers()
        facility = ok(client.post(f"{API}/facilities", json=bodies.facility(), headers=h), 201)
        item = ok(client.post(f"{API}/items", json=bodies.item(unit="gal"), headers=h), 201)
        shop = cls(client, tenant, facility, item)
        if hours is not None:
            shop.set_calendar("facilities", facility["id"], weekly(*hours))
        return shop

    # plumbing
    def request(self, method: str, path: str, body: Any = None, role: str = "planner") -> Any:
        kwargs: dict[str, Any] = {"headers": self.tenant.headers(role)}
        if body is not None:
            kwargs["json"] = body
        return self.client.request(method, f"{API}{path}", **kwargs)

    def set_calendar(self, collection: str, owner_id: str, body: Json) -> Json:
        return record(ok(self.request("PUT", f"/{collection}/{owner_id}/calendar", body)))

    def add_exception(
        self, collection: str, owner_id: str, kind: str, start: datetime, end: datetime
    ) -> Json:
        body = {"kind": kind, "starts_at": start.isoformat(), "ends_at": end.isoformat()}
        return record(
            ok(self.request("POST", f"/{collection}/{owner_id}/calendar/exceptions", body), 201)
        )

    # records
    def resource(self, code: str | None = None, **changes: Any) -> Json:
        body = bodies.resource(self.facility["id"], **changes)
        body["code"] = code or f"R{next(_serial):04d}"
        return record(ok(self.request("POST", "/resources", body), 201))

    def line(
        self,
        resource: Json | None,
        minutes: int,
        operation: str = "Bottling",
        *,
        interruptible: bool = False,
        alternatives: Sequence[tuple[Json, int]] = (),
        **changes: Any,
    ) -> Json:
        """A line item of `minutes` (all setup) on `resource`, with alternatives
        (resource, minutes)."""
        body: Json = {
            "operation": operation,
            "resource_id": resource["id"] if resource else None,
            "setup_minutes": str(minutes),
            "run_minutes_per_unit": "0",
            "interruptible": interruptible,
            "alternatives": [
                {"resource_id": r["id"], "setup_minutes": str(m)} for r, m in alternatives
            ],
            **changes,
        }
        return body

    def work_order_body(
        self, lines: Sequence[Json], *, due: datetime | None = None, **changes: Any
    ) -> Json:
        body: Json = {
            "item_id": self.item["id"],
            "quantity": "100",
            "line_items": list(lines),
            **changes,
        }
        if due is not None:
            body["due_date"] = due.isoformat()
        return body

    def work_order(
        self, lines: Sequence[Json], *, due: datetime | None = None, **changes: Any
    ) -> Json:
        body = self.work_order_body(lines, due=due, **changes)
        return record(ok(self.request("POST", "/work-orders", body), 201))

    def production_order(self, work_orders: Sequence[Json], **changes: Any) -> Json:
        body = {
            "items": [{"item_id": self.item["id"], "quantity": "100"}],
            "work_orders": list(work_orders),
            **changes,
        }
        return record(ok(self.request("POST", "/production-orders", body), 201))

    def get(self, wo: Mapping[str, Any]) -> Json:
        return record(ok(self.request("GET", f"/work-orders/{wo['id']}", role="viewer")))

    def act(self, wo: Mapping[str, Any], action: str, body: Json | None = None) -> Json:
        return record(ok(self.request("POST", f"/work-orders/{wo['id']}/{action}", body)))

    def events(self, wo: Mapping[str, Any]) -> list[Json]:
        return list(ok(self.request("GET", f"/work-orders/{wo['id']}/events", role="viewer")))

    # the scheduler over HTTP
    def preview(self, role: str = "planner", **body: Any) -> Json:
        body.setdefault("horizon_start", H0.isoformat())
        body.setdefault("time_limit_seconds", 1)
        return record(ok(self.request("POST", "/schedule/preview", body, role=role)))

    def apply(self, **body: Any) -> Json:
        if "proposal" not in body:
            body.setdefault("horizon_start", H0.isoformat())
            body.setdefault("time_limit_seconds", 1)
        return record(ok(self.request("POST", "/schedule/apply", body)))


def checked_preview(session: Session, tenant: Tenant, **body: Any) -> propose.Preview:
    """The service's preview, checked with the core's checker against the problem it was
    built from; the session's transaction is ended again, so that the API may be called."""
    body.setdefault("horizon_start", H0)
    body.setdefault("time_limit_seconds", 1)
    result = propose.preview(session, tenant.actor(), ScheduleRequest(**body))
    session.rollback()
    assert check_proposal(result.plan.problem, result.proposal) == []
    return result


def line_of(wo: Mapping[str, Any], sequence: int) -> Json:
    found: Json = next(li for li in wo["line_items"] if li["sequence"] == sequence)
    return found


def planned(proposal: Mapping[str, Any], wo: Mapping[str, Any]) -> Json:
    found: Json = next(w for w in proposal["work_orders"] if w["id"] == wo["id"])
    return found


class SolveGate:
    """Holds the first solve inside the solver call until `release` is set (the solves
    after it run at once): a solve under way for as long as a test needs, without waiting
    for a time limit."""

    def __init__(self) -> None:
        self.solving = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._first = True

    def solve(self, *args: Any, **kwargs: Any) -> Proposal:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.solving.set()
            assert self.release.wait(WAIT), "the gate was never opened"
        return solve(*args, **kwargs)


@contextmanager
def gated_solves(monkeypatch: pytest.MonkeyPatch) -> Iterator[SolveGate]:
    """The scheduler's solver call behind a `SolveGate`; opened at the end whatever happened,
    so that no thread is left waiting."""
    gate = SolveGate()
    monkeypatch.setattr(propose, "solve", gate.solve)
    try:
        yield gate
    finally:
        gate.release.set()
