"""Every main portal page at the size of a real plant, against hand-written SQL doing its work.

Seeds a fresh database (a SQLite file by default, or a scratch PostgreSQL database next to
--database-url, dropped afterwards) with one organisation of 100,000 work orders in bulk SQL
inserts through the models' tables: 21 resources booked around the clock (7 work orders of
3 line items start every half hour, each line item on its own resource), 85 % of them in
the past (COMPLETED, a few CANCELED, some overdue and still SCHEDULED), the rest ahead
(SCHEDULED, a few IN_PROCESS now, some DRAFT), a quarter of the open work late and a tenth
at risk; production orders of 50 work orders; the audit events of every step.

Then it signs a planner in through the sign-in form and times each main page through the
whole application in process (TestClient: routing, session and CSRF checks, queries,
templates), interleaved with the same page's work done by raw SQL on the same database (the
queries the page needs, hand-written, every row fetched): median and p95 of --runs loads of
each, their ratio, and the size of the page's HTML.

    .venv/bin/python bench/portal_scale.py                       # SQLite, 100,000 work orders
    .venv/bin/python bench/portal_scale.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/portal_scale.py --work-orders 20000 --runs 10
    .venv/bin/python bench/portal_scale.py --keep                # then --seeded URL --only board

The aim is 50 ms median a page; the exit code is 1 when a page is over it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    func,
    insert,
    make_url,
    select,
    text,
    update,
)

from taktline import migrate, serving
from taktline.app import create_app
from taktline.auth import service as auth
from taktline.config import Settings
from taktline.db import new_id
from taktline.events.models import Event
from taktline.items.models import Item, ItemType
from taktline.numbering import NumberSequence
from taktline.orders.lifecycle import AT_RISK_MARGIN, LineItemStatus, State, derive_state
from taktline.orders.models import LineItem, ProductionOrder, ProductionOrderItem, WorkOrder
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.permissions import Role
from taktline.portal.security import set_password
from taktline.resources.models import Resource, ResourceBooking, ResourceKind

AIM_MS = 50.0
# Open work orders, written as the partial index of open work is (orders.models).
OPEN = "state IN ('DRAFT', 'IN_PROCESS', 'SCHEDULED')"
PLANNER = "planner@scale.example"
ZONE = "America/Chicago"
SLOT = timedelta(minutes=30)
OPERATIONS = ("Filling", "Capping", "Labeling")
PO_SIZE = 50
CHUNK = 5000

# --- the plant -----------------------------------------------------------------------------


@contextmanager
def scratch_database(url: str | None, *, keep: bool = False) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in a temporary folder, or a PostgreSQL
    database `taktline_bench_<hex>` on the server of `url`, dropped at the end (unless
    `keep`)."""
    if url is None or url.startswith("sqlite"):
        if keep:
            yield f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
            return
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"taktline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


@dataclass
class Seeded:
    """What the timed pages point at, and what the seed made."""

    org_id: uuid.UUID
    now: datetime
    resource_ids: list[uuid.UUID]
    po_id: uuid.UUID  # an open production order with work in process
    wo_id: uuid.UUID  # a work order in process
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        conn.execute(insert(table), chunk)


def seed(engine: Engine, n_work_orders: int, open_share: float, rng: random.Random) -> Seeded:
    """The plant, in bulk inserts; returns what the pages are pointed at."""
    started = time.perf_counter()
    factory = _session_factory(engine)
    with factory() as session:
        org = auth.get_or_create_org(session, "Scale Co-Packing")
        auth.get_or_create_user(session, org, PLANNER, Role.PLANNER)
        org_id = org.id
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    n_resources = 21
    per_slot = n_resources // len(OPERATIONS)
    slots = -(-n_work_orders // per_slot)
    now_slot = int(slots * (1 - open_share))
    base = now.replace(minute=0) - now_slot * SLOT

    facility_id = new_id()
    resource_ids = [new_id() for _ in range(n_resources)]
    item_ids = [new_id() for _ in range(50)]
    customer_ids = [new_id() for _ in range(20)]
    work_orders: list[dict[str, Any]] = []
    line_items: list[dict[str, Any]] = []
    bookings: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    order_items: list[dict[str, Any]] = []
    in_process: uuid.UUID | None = None

    def event(entity: str, eid: uuid.UUID, action: str, at: datetime, **more: Any) -> None:
        events.append(
            {
                "id": new_id(),
                "org_id": org_id,
                "entity_type": entity,
                "entity_id": eid,
                "parent_id": more.get("parent_id"),
                "action": action,
                "from_state": more.get("from_state"),
                "to_state": more.get("to_state"),
                "actor_id": None,
                "actor_email": "planner@scale.example",
                "at": at,
                "reason": more.get("reason"),
                "changes": {},
            }
        )

    n_orders = -(-n_work_orders // PO_SIZE)
    po_ids = [new_id() for _ in range(n_orders)]
    for p, po_id in enumerate(po_ids):
        event("production_order", po_id, "create", base + (p * PO_SIZE // per_slot) * SLOT)
    for k in range(n_work_orders):
        slot, m = divmod(k, per_slot)
        po = k // PO_SIZE
        wo_id = new_id()
        quantity = Decimal(100 + k % 900)
        windows = []
        for j in range(len(OPERATIONS)):
            begin = base + (slot + j) * SLOT + timedelta(minutes=(k + j) % 4)
            windows.append((begin, begin + timedelta(minutes=20 + (k * 7 + j * 3) % 8)))
        start, end = windows[0][0], windows[-1][1]
        draft = start > now and k % 20 == 7
        if end <= now:
            overdue = now - end < timedelta(days=2) and k % 10 == 3
            state = (
                State.SCHEDULED if overdue else State.CANCELED if k % 97 == 5 else State.COMPLETED
            )
        elif start <= now:
            state = State.IN_PROCESS
        else:
            state = State.DRAFT if draft else State.SCHEDULED
        r = rng.random()
        if state in (State.COMPLETED, State.CANCELED):
            due = end + timedelta(minutes=rng.randint(-24 * 60, 10 * 24 * 60))
        elif state is State.SCHEDULED and end <= now:
            due = end + timedelta(minutes=rng.randint(0, 60))  # overdue: never started
        elif r < 0.25:
            due = end - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        elif r < 0.35:
            due = end + timedelta(minutes=rng.randint(0, int(AT_RISK_MARGIN.total_seconds() // 60)))
        else:
            due = end + timedelta(minutes=rng.randint(5 * 60, 20 * 24 * 60))
        booked = state in (State.SCHEDULED, State.IN_PROCESS)
        has_windows = state is not State.DRAFT
        done = state is State.COMPLETED
        work_orders.append(
            {
                "id": wo_id,
                "org_id": org_id,
                "number": f"WO-{k + 1:06d}",
                "state": state,
                "production_order_id": po_ids[po],
                "item_id": item_ids[po % len(item_ids)],
                "quantity": quantity,
                "unit": "ea",
                "instructions": None,
                "due_date": due,
                "priority": 1 + k % 100,
                "planned_start": start if has_windows else None,
                "planned_end": end if has_windows else None,
                "actual_start": start if state in (State.IN_PROCESS, State.COMPLETED) else None,
                "actual_end": end if done else None,
                "quantity_produced": quantity if done else Decimal(0),
                "quantity_scrapped": Decimal(0),
                "on_hold": False,
                "hold_reason": None,
                "release_at": None,
                "pinned": False,
            }
        )
        if state is State.IN_PROCESS and in_process is None:
            in_process = wo_id
        for j, (op, (begin, finish)) in enumerate(zip(OPERATIONS, windows, strict=True)):
            li_id = new_id()
            if done:
                status = LineItemStatus.DONE
            elif state is State.IN_PROCESS:
                status = (
                    LineItemStatus.DONE
                    if finish <= now
                    else LineItemStatus.IN_PROCESS
                    if begin <= now
                    else LineItemStatus.PENDING
                )
            else:
                status = LineItemStatus.PENDING
            finished = status is LineItemStatus.DONE
            line_items.append(
                {
                    "id": li_id,
                    "org_id": org_id,
                    "work_order_id": wo_id,
                    "sequence": j + 1,
                    "operation": op,
                    "resource_id": resource_ids[m * len(OPERATIONS) + j],
                    "setup_minutes": Decimal(10),
                    "run_minutes_per_unit": Decimal("0.01"),
                    "planned_start": begin if has_windows else None,
                    "planned_end": finish if has_windows else None,
                    "actual_start": begin
                    if finished or status is LineItemStatus.IN_PROCESS
                    else None,
                    "actual_end": finish if finished else None,
                    "quantity_completed": quantity if finished else Decimal(0),
                    "quantity_scrapped": Decimal(0),
                    "status": status,
                    "interruptible": False,
                }
            )
            if booked:
                bookings.append(
                    {
                        "id": new_id(),
                        "org_id": org_id,
                        "resource_id": resource_ids[m * len(OPERATIONS) + j],
                        "work_order_id": wo_id,
                        "line_item_id": li_id,
                        "starts_at": begin,
                        "ends_at": finish,
                        "exclusive": True,
                        "created_at": start - timedelta(days=7),
                    }
                )
        created = start - timedelta(days=10)
        event("work_order", wo_id, "create", created, parent_id=po_ids[po], to_state="DRAFT")
        if has_windows:
            event(
                "work_order",
                wo_id,
                "schedule",
                created + timedelta(hours=1),
                parent_id=po_ids[po],
                from_state="DRAFT",
                to_state="SCHEDULED",
            )
        if state in (State.IN_PROCESS, State.COMPLETED):
            event(
                "work_order",
                wo_id,
                "start",
                start,
                parent_id=po_ids[po],
                from_state="SCHEDULED",
                to_state="IN_PROCESS",
            )
        if done:
            event(
                "work_order",
                wo_id,
                "complete",
                end,
                parent_id=po_ids[po],
                from_state="IN_PROCESS",
                to_state="COMPLETED",
            )
        if state is State.CANCELED:
            event(
                "work_order",
                wo_id,
                "cancel",
                end,
                parent_id=po_ids[po],
                from_state="SCHEDULED",
                to_state="CANCELED",
                reason="customer changed the order",
            )
    open_order: uuid.UUID | None = None
    for p, po_id in enumerate(po_ids):
        members = work_orders[p * PO_SIZE : (p + 1) * PO_SIZE]
        state = derive_state(State.DRAFT, [w["state"] for w in members])
        if (
            state is State.IN_PROCESS
            and open_order is None
            and any(w["state"] is State.IN_PROCESS for w in members)
        ):
            open_order = po_id
        orders.append(
            {
                "id": po_id,
                "org_id": org_id,
                "number": f"PO-{p + 1:06d}",
                "state": state,
                "owner_id": customer_ids[p % len(customer_ids)],
                "reference": f"CUST-{p + 1:05d}",
                "due_date": max(w["due_date"] for w in members),
                "priority": 50,
                "notes": None,
            }
        )
        order_items.append(
            {
                "id": new_id(),
                "org_id": org_id,
                "production_order_id": po_id,
                "position": 1,
                "item_id": item_ids[p % len(item_ids)],
                "quantity": sum((w["quantity"] for w in members), Decimal(0)),
                "unit": "ea",
            }
        )
    assert in_process is not None, "no work in process: seed more work orders"
    assert open_order is not None, "no production order in process: seed more work orders"

    with engine.begin() as conn:
        conn.execute(
            insert(Facility),
            [{"id": facility_id, "org_id": org_id, "name": "Riverside", "timezone": ZONE}],
        )
        _insert(
            conn,
            Resource,
            [
                {
                    "id": rid,
                    "org_id": org_id,
                    "code": f"L{i + 1:02d}",
                    "name": f"{OPERATIONS[i % 3]} line {i // 3 + 1}",
                    "kind": ResourceKind.LINE,
                    "facility_id": facility_id,
                    "capacity_min": None,
                    "capacity_max": None,
                    "capacity_unit": None,
                    "parallel_capacity": 1,
                    "active": True,
                }
                for i, rid in enumerate(resource_ids)
            ],
        )
        _insert(
            conn,
            Item,
            [
                {
                    "id": iid,
                    "org_id": org_id,
                    "sku": f"SKU-{i:04d}",
                    "name": f"Sparkling water {i}",
                    "unit": "ea",
                    "type": ItemType.FINISHED_GOOD,
                }
                for i, iid in enumerate(item_ids)
            ],
        )
        _insert(
            conn,
            Customer,
            [
                {"id": cid, "org_id": org_id, "name": f"Brand {i}", "code": f"B{i:02d}"}
                for i, cid in enumerate(customer_ids)
            ],
        )
        _insert(conn, ProductionOrder, orders)
        _insert(conn, ProductionOrderItem, order_items)
        _insert(conn, WorkOrder, work_orders)
        _insert(conn, LineItem, line_items)
        _insert(conn, ResourceBooking, bookings)
        _insert(conn, Event, events)
        for kind, last in (("work_order", n_work_orders), ("production_order", n_orders)):
            found = conn.execute(
                update(NumberSequence)
                .where(NumberSequence.org_id == org_id, NumberSequence.kind == kind)
                .values(last_value=last)
            )
            if not found.rowcount:
                conn.execute(
                    insert(NumberSequence).values(org_id=org_id, kind=kind, last_value=last)
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    states: dict[str, int] = {}
    for w in work_orders:
        states[str(w["state"])] = states.get(str(w["state"]), 0) + 1
    return Seeded(
        org_id=org_id,
        now=now,
        resource_ids=resource_ids,
        po_id=open_order,
        wo_id=in_process,
        counts={
            "work orders": len(work_orders),
            "line items": len(line_items),
            "bookings": len(bookings),
            "production orders": len(orders),
            "events": len(events),
            **states,
        },
        seconds=time.perf_counter() - started,
    )


def discover(engine: Engine) -> Seeded:
    """What a database seeded before (`--keep`) points the pages at, found again: its
    organisation, resources, first production order in process with work in process, and
    its first work order in process."""
    with engine.connect() as conn:
        org_id = conn.execute(
            select(Organisation.id).where(Organisation.name == "Scale Co-Packing")
        ).scalar_one()
        rids = list(
            conn.scalars(
                select(Resource.id).where(Resource.org_id == org_id).order_by(Resource.code)
            )
        )
        running = (
            select(WorkOrder.production_order_id, WorkOrder.id)
            .where(WorkOrder.org_id == org_id, WorkOrder.state == State.IN_PROCESS)
            .order_by(WorkOrder.number)
        )
        first = conn.execute(running.limit(1)).one()
        po_id = conn.execute(
            select(ProductionOrder.id)
            .where(
                ProductionOrder.org_id == org_id,
                ProductionOrder.state == State.IN_PROCESS,
                ProductionOrder.id.in_(select(running.subquery().c.production_order_id)),
            )
            .order_by(ProductionOrder.number)
            .limit(1)
        ).scalar_one()
        n = conn.execute(select(func.count()).select_from(WorkOrder)).scalar_one()
    return Seeded(org_id, datetime.now(UTC), rids, po_id, first.id, {"work orders": n})


def _session_factory(engine: Engine) -> Any:
    from taktline.db import create_session_factory

    return create_session_factory(engine)


# --- timing --------------------------------------------------------------------------------


def sign_in(client: TestClient, email: str, password: str) -> None:
    form = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match, "no CSRF field on the sign-in page"
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@dataclass(frozen=True)
class Timed:
    name: str
    path: str
    page_ms: list[float]
    raw_ms: list[float]
    html_bytes: int

    @staticmethod
    def p95(values: Sequence[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_pages(
    client: TestClient,
    engine: Engine,
    pages: Sequence[tuple[str, str, Callable[[Connection], Any] | None]],
    runs: int,
    only: str | None = None,
) -> list[Timed]:
    """Each page `runs` times through the app, each time followed by its raw SQL (only the
    pages whose name has `only`, when given)."""
    found = []
    with engine.connect() as conn:
        for name, path, raw in pages:
            if only is not None and only not in name:
                continue
            first = client.get(path, follow_redirects=False)  # warm-up
            assert first.status_code == 200, (path, first.status_code, first.text[:500])
            size = len(first.content)
            if raw is not None:
                raw(conn)
                conn.rollback()
            page_ms, raw_ms = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                status = client.get(path, follow_redirects=False).status_code
                page_ms.append((time.perf_counter() - t0) * 1000)
                assert status == 200, (path, status)
                if raw is not None:
                    t0 = time.perf_counter()
                    raw(conn)
                    conn.rollback()
                    raw_ms.append((time.perf_counter() - t0) * 1000)
            found.append(Timed(name, path, page_ms, raw_ms, size))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    parser.add_argument("--work-orders", type=int, default=100_000)
    parser.add_argument("--open-share", type=float, default=0.15, help="of the work ahead")
    parser.add_argument("--runs", type=int, default=20, help="timed loads per page")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    parser.add_argument("--only", default=None, help="only the pages whose name has this")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument(
        "--seeded", default=None, help="measure a database kept with --keep (its URL)"
    )
    args = parser.parse_args()

    with (
        nullcontext(args.seeded)
        if args.seeded
        else scratch_database(args.database_url, keep=args.keep)
    ) as url:
        if not args.seeded:
            migrate.upgrade(url)
        app = create_app(Settings(database_url=url))
        engine: Engine = app.state.engine
        dialect = engine.dialect.name
        if args.seeded:
            # Its plant was laid out around the time it was seeded: a little older now.
            seeded = discover(engine)
        else:
            seeded = seed(engine, args.work_orders, args.open_share, random.Random(args.seed))
            print(
                f"{engine.dialect.name}: seeded in {seeded.seconds:.1f} s: "
                + ", ".join(f"{v:,} {k}" for k, v in seeded.counts.items()),
                flush=True,
            )
            if args.keep:
                print(f"kept: --seeded {url}", flush=True)
        password = secrets.token_urlsafe(12)
        with app.state.session_factory() as session:
            set_password(session, PLANNER, password)
        with TestClient(app) as client:
            serving.tune_collector()  # as a server process does
            sign_in(client, PLANNER, password)
            results = time_pages(client, engine, pages_of(seeded), args.runs, args.only)
        app.state.engine.dispose()
    print(
        f"\n{'page':<26} {'median':>8} {'p95':>8} {'raw SQL':>8} {'p95':>8} {'ratio':>6}"
        f" {'HTML':>9}   (ms; {args.runs} loads each, interleaved)"
    )
    over = []
    for t in results:
        med = statistics.median(t.page_ms)
        raw_med = statistics.median(t.raw_ms) if t.raw_ms else float("nan")
        raw_p95 = Timed.p95(t.raw_ms) if t.raw_ms else float("nan")
        print(
            f"{t.name:<26} {med:>8.1f} {Timed.p95(t.page_ms):>8.1f} {raw_med:>8.1f}"
            f" {raw_p95:>8.1f} {med / raw_med:>6.1f} {t.html_bytes / 1024:>7.0f} KB"
        )
        if med > AIM_MS:
            over.append(t.name)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "database": dialect,
                    "counts": seeded.counts,
                    "pages": [
                        {
                            "page": t.name,
                            "path": t.path,
                            "median_ms": statistics.median(t.page_ms),
                            "p95_ms": Timed.p95(t.page_ms),
                            "raw_median_ms": statistics.median(t.raw_ms) if t.raw_ms else None,
                            "raw_p95_ms": Timed.p95(t.raw_ms) if t.raw_ms else None,
                            "html_bytes": t.html_bytes,
                        }
                        for t in results
                    ],
                },
                indent=2,
            )
        )
    if over:
        print(f"over {AIM_MS:.0f} ms: {', '.join(over)}")
        return 1
    print(f"every page under {AIM_MS:.0f} ms")
    return 0


# --- the same work in hand-written SQL -------------------------------------------------------


class Raw:
    """Each page's queries written by hand for this database, every row fetched: what the
    page needs from the database, without the application around it. Times are bound as
    the database stores them (SQLite: UTC text, ids as 32 hex digits)."""

    def __init__(self, conn: Connection, s: Seeded) -> None:
        self.conn, self.s = conn, s
        self.sqlite = conn.dialect.name == "sqlite"
        self.org = self.p(s.org_id)
        self.rids = [self.p(r) for r in s.resource_ids]
        self.zone = ZoneInfo(ZONE)

    def p(self, value: Any) -> Any:
        if not self.sqlite:
            return value
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, uuid.UUID):
            return value.hex
        return value

    def q(self, sql: str, *args: Any) -> list[Any]:
        """`?` marks the parameters; a list argument is spread into `?, ?, ...`."""
        flat: list[Any] = []
        parts = sql.split("?")
        out = [parts[0]]
        for arg, part in zip(args, parts[1:], strict=True):
            if isinstance(arg, list | tuple):
                out.append(", ".join(["?"] * len(arg)) + part)
                flat.extend(self.p(a) for a in arg)
            else:
                out.append("?" + part)
                flat.append(self.p(arg))
        text_sql = "".join(out)
        if not self.sqlite:
            text_sql = text_sql.replace("%", "%%").replace("?", "%s")
        return list(self.conn.exec_driver_sql(text_sql, tuple(flat)).fetchall())

    def lit(self, at: datetime) -> str:
        """A time as a literal of the query (the bench's own value)."""
        utc = at.astimezone(UTC)
        if self.sqlite:
            return f"'{utc:%Y-%m-%d %H:%M:%S.%f}'"
        return f"TIMESTAMPTZ '{utc.isoformat()}'"

    # time arithmetic, as each database does it
    def minute(self, col: str, up: bool = False) -> str:
        if self.sqlite:
            down = f"CAST(round((julianday(substr({col}, 1, 16)) - 2440587.5) * 1440) AS INTEGER)"
            rest = f"CAST(substr({col}, 18, 2) AS INTEGER) + CAST(substr({col}, 21, 6) AS INTEGER)"
            return f"({down} + ({rest} > 0))" if up else down
        return f"CAST({'CEIL' if up else 'FLOOR'}(EXTRACT(EPOCH FROM {col}) / 60) AS BIGINT)"

    def us(self, col: str) -> str:
        if self.sqlite:
            return (
                f"(CAST(round((julianday(substr({col}, 1, 19)) - 2440587.5) * 86400) AS INTEGER)"
                f" * 1000000 + CAST(substr({col}, 21, 6) AS INTEGER))"
            )
        return f"CAST(EXTRACT(EPOCH FROM {col}) * 1000000 AS BIGINT)"

    def hours(self, end: str, start: str) -> str:
        if self.sqlite:
            return f"((julianday({end}) - julianday({start})) * 24.0)"
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"

    def minus_margin(self, col: str) -> str:
        seconds = int(AT_RISK_MARGIN.total_seconds())
        if self.sqlite:
            return f"(datetime(substr({col}, 1, 19), '-{seconds} seconds') || substr({col}, 20))"
        return f"({col} - INTERVAL '{seconds} seconds')"

    def hi_lo(self) -> tuple[str, str]:
        return ("max", "min") if self.sqlite else ("GREATEST", "LEAST")

    # the parts pages share
    def week(self, days: int = 7, first: date | None = None) -> tuple[datetime, datetime]:
        today = first or datetime.now(UTC).astimezone(self.zone).date()
        if first is None and days == 7:
            today -= timedelta(days=today.weekday())
        begin = datetime.combine(today, datetime.min.time(), self.zone)
        return begin.astimezone(UTC), (begin + timedelta(days=days)).astimezone(UTC)

    def resources(self) -> list[Any]:
        return self.q(
            "SELECT r.id, r.*, f.name, f.timezone FROM resources r JOIN facilities f ON f.id ="
            " r.facility_id WHERE r.org_id = ? ORDER BY f.name, r.code",
            self.org,
        )

    def loads(self, start: datetime, end: datetime) -> list[Any]:
        gt, lt = self.hi_lo()
        origin = int(start.timestamp()) // 60
        horizon = int((end - start).total_seconds()) // 60
        lo = f"{gt}({self.minute('starts_at')} - {origin}, 0)"
        hi = f"{lt}({self.minute('ends_at', up=True)} - {origin}, {horizon})"
        return self.q(
            f"SELECT resource_id, sum({gt}({hi} - {lo}, 0)) FROM resource_bookings"
            " WHERE resource_id IN (?) AND starts_at < ? AND ends_at > ? GROUP BY resource_id",
            self.rids,
            end,
            start,
        )

    def booked_hours(self, windows: Sequence[tuple[datetime, datetime]], rids: list[Any]) -> None:
        clipped = self.hours(
            "CASE WHEN ends_at < ? THEN ends_at ELSE ? END",
            "CASE WHEN starts_at > ? THEN starts_at ELSE ? END",
        )
        sums = ", ".join(
            f"sum(CASE WHEN starts_at < ? AND ends_at > ? THEN {clipped} ELSE 0 END)"
            for _ in windows
        )
        args: list[Any] = []
        for lo, hi in windows:
            args += [hi, lo, hi, hi, lo, lo]
        self.q(
            f"SELECT resource_id, {sums} FROM resource_bookings WHERE resource_id IN (?)"
            " AND starts_at < ? AND ends_at > ? GROUP BY resource_id",
            *args,
            rids,
            max(w[1] for w in windows),
            min(w[0] for w in windows),
        )

    def late_ranked(self, start: datetime, end: datetime, limit: int, on: Any = None) -> list[Any]:
        now = datetime.now(UTC)
        by_plan = "(planned_end IS NOT NULL AND planned_end > due_date)"
        now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        lateness = (
            f"CASE WHEN {by_plan} THEN {self.minute('planned_end', up=True)}"
            f" - {self.minute('due_date')} ELSE -((({self.us('due_date')} - {now_us}) -"
            f" (((({self.us('due_date')} - {now_us}) % 60000000) + 60000000) % 60000000))"
            " / 60000000) END"
        )
        where = (
            "org_id = ? AND state IN ('SCHEDULED', 'IN_PROCESS') AND planned_end > ?"
            f" AND planned_start < ? AND due_date IS NOT NULL AND {OPEN}"
            f" AND ({by_plan} OR due_date < ?)"
        )
        args: list[Any] = [self.org, start, end, now]
        if on is not None:
            where += f" AND {by_plan} AND id IN (SELECT work_order_id FROM resource_bookings"
            where += " WHERE resource_id = ?)"
            args.append(on)
        return self.q(
            f"SELECT * FROM (SELECT id, number, state, due_date, planned_end, {by_plan} AS plan,"
            f" {lateness} AS lateness, CASE WHEN priority > 1 THEN priority ELSE 1 END AS w,"
            f" count(*) OVER () AS n FROM work_orders WHERE {where}) t"
            f" ORDER BY t.lateness * t.w DESC, t.number LIMIT {limit}",
            *args,
        )

    def explain(self, wo_ids: list[Any], start: datetime, end: datetime) -> list[Any]:
        if not wo_ids:
            return []
        self.q(
            "SELECT id, number, version, state, pinned, production_order_id, quantity, unit,"
            " due_date, priority, release_at, planned_start, planned_end FROM work_orders"
            " WHERE id IN (?)",
            wo_ids,
        )
        lines = self.q(
            "SELECT work_order_id, id, sequence, operation, resource_id, planned_start,"
            " planned_end, interruptible FROM work_order_line_items WHERE work_order_id IN (?)"
            " ORDER BY work_order_id, sequence",
            wo_ids,
        )
        self.q(
            "SELECT d.work_order_id, p.number, p.planned_end FROM work_order_dependencies d"
            " JOIN work_orders p ON p.id = d.depends_on_id WHERE d.work_order_id IN (?)"
            " AND p.state IN ('SCHEDULED', 'IN_PROCESS') AND p.planned_end > ?"
            " AND p.planned_start < ?",
            wo_ids,
            start,
            end,
        )
        return lines

    def held_up(self, lines: list[Any], start: datetime, end: datetime, limit: int) -> None:
        """The line items in the way of each work order's first line item, from the window's
        start (the wait the analysis finds in this plant): the bookings, counted, then the
        names of those listed."""
        firsts = {}
        for wo_id, _li, sequence, _op, rid, begin, _end, _i in lines:
            if sequence == 1:
                firsts[wo_id] = (rid, begin)
        if not firsts:
            return
        parts, args = [], []
        for k, (wo_id, (rid, begin)) in enumerate(firsts.items()):
            parts.append(
                f"SELECT * FROM (SELECT {k}, id, work_order_id, line_item_id, starts_at,"
                " count(*) OVER () FROM resource_bookings WHERE resource_id = ?"
                " AND starts_at < ? AND ends_at > ? AND work_order_id <> ?"
                f" ORDER BY starts_at, id LIMIT {limit}) AS h{k}"
            )
            args += [rid, begin, start, wo_id]
        found = self.q(" UNION ALL ".join(parts), *args)
        self.q(
            "SELECT li.id, w.id, w.number, li.sequence, li.operation FROM"
            " work_order_line_items li JOIN work_orders w ON w.id = li.work_order_id"
            " WHERE li.id IN (?)",
            list({row[3] for row in found}),
        )

    def calendars(self) -> None:
        self.q("SELECT id, timezone FROM facilities WHERE org_id = ?", self.org)
        self.q("SELECT * FROM working_calendars WHERE org_id = ?", self.org)
        self.q("SELECT * FROM calendar_exceptions WHERE org_id = ?", self.org)

    def analysis(self, start: datetime, end: datetime, late: int, on: Any = None) -> None:
        self.q("SELECT * FROM resources WHERE org_id = ? ORDER BY code", self.org)
        ranked = self.late_ranked(start, end, late, on) if late else []
        self.calendars()
        self.loads(start, end)
        late_ids = [r[0] for r in ranked if r[5]]
        lines = self.explain(late_ids, start, end)
        self.held_up(lines, start, end, 5)

    # the pages
    def dashboard(self) -> None:
        now = datetime.now(UTC)
        states = ("DRAFT", "SCHEDULED", "IN_PROCESS", "COMPLETED", "CANCELED")
        self.q(
            "SELECT "
            + ", ".join(
                f"(SELECT count(*) FROM work_orders WHERE org_id = ? AND state = '{st}')"
                for st in states
            ),
            *[self.org] * len(states),
        )
        at, soon = self.lit(now), self.lit(now + AT_RISK_MARGIN)
        late = (
            f"(due_date IS NOT NULL AND (planned_end IS NOT NULL AND planned_end > due_date"
            f" OR due_date < {at}))"
        )
        margin = int(AT_RISK_MARGIN.total_seconds())
        if self.sqlite:
            # what is clearly earlier is ruled out before the due date is moved
            leeway = (margin + 0.002) / 86400
            near = (
                f"julianday(due_date) - julianday(planned_end) <= {leeway}"
                f" AND planned_end >= {self.minus_margin('due_date')}"
            )
        else:
            near = f"planned_end >= {self.minus_margin('due_date')}"
        either = (
            f"(planned_end IS NOT NULL AND planned_end > due_date OR due_date <= {soon}"
            f" OR planned_end IS NOT NULL AND {near})"
        )
        n_late, _ = self.q(
            f"SELECT coalesce(sum(CASE WHEN {late} THEN 1 ELSE 0 END), 0), count(*)"
            f" FROM work_orders WHERE org_id = ? AND {OPEN} AND {either}",
            self.org,
        )[0]
        ends = f"CASE WHEN planned_end > {at} THEN planned_end ELSE {at} END"
        slack = (
            f"({self.us('due_date')} - {self.us(ends)})"
            if self.sqlite
            else f"CAST(EXTRACT(EPOCH FROM (due_date - {ends})) * 1000000 AS BIGINT)"
        )
        # late work has negative slack, work at risk none: with 20 late, only the late
        which = late if n_late >= 20 else either
        self.q(
            "SELECT w.id, w.number, w.state, w.on_hold, i.sku, i.name, w.quantity, w.unit,"
            " w.due_date, w.planned_end, x.late, x.slack FROM (SELECT id, number,"
            f" {late} AS late, {slack} AS slack FROM work_orders WHERE org_id = ? AND {OPEN}"
            f" AND {which} ORDER BY slack, number LIMIT 20) x JOIN work_orders w"
            " ON w.id = x.id JOIN items i ON i.id = w.item_id ORDER BY x.slack, x.number",
            self.org,
        )
        rows = self.resources()
        week = self.week()
        self.analysis(*week, late=10)
        self.booked_hours([self.week(1), week], [r[0] for r in rows])
        open_states = "('DRAFT', 'SCHEDULED', 'IN_PROCESS')"
        self.q(
            f"SELECT count(*) FROM production_orders WHERE org_id = ? AND state IN {open_states}",
            self.org,
        )
        orders = self.q(
            f"SELECT * FROM production_orders WHERE org_id = ? AND state IN {open_states}"
            " ORDER BY due_date IS NULL, due_date, id LIMIT 50",
            self.org,
        )
        self.order_summaries([o.id for o in orders])
        self.q("SELECT id, name FROM customers WHERE id IN (?)", list({o.owner_id for o in orders}))

    def order_summaries(self, ids: list[Any]) -> None:
        self.q(
            "SELECT production_order_id, item_id, id, quantity, unit FROM"
            " production_order_items WHERE production_order_id IN (?)"
            " ORDER BY production_order_id, position",
            ids,
        )
        # (as the page groups them: on SQLite `+column` keeps the planner on the orders'
        # index rather than walking the organisation's by item to group)
        plus = "+" if self.sqlite else ""
        self.q(
            f"SELECT production_order_id, {plus}state, {plus}item_id, count(*),"
            " sum(quantity_produced) FROM work_orders WHERE org_id = ?"
            f" AND production_order_id IN (?) AND {plus}state <> 'DELETED'"
            f" GROUP BY production_order_id, {plus}state, {plus}item_id",
            self.org,
            ids,
        )

    def resource_list(self) -> None:
        rows = self.resources()
        week = self.week()
        self.analysis(*week, late=0)
        self.booked_hours([self.week(1), week], [r[0] for r in rows])

    def resource(self) -> None:
        now = datetime.now(UTC)
        r0 = self.rids[0]
        self.q(
            "SELECT * FROM resources r JOIN facilities f ON f.id = r.facility_id WHERE r.id = ?", r0
        )
        self.bookings(now, None, [r0], 101)
        days = [
            self.week(1, (now.astimezone(self.zone) + timedelta(days=i)).date()) for i in range(14)
        ]
        self.booked_hours(days, [r0])
        self.analysis(now.replace(second=0, microsecond=0), now + timedelta(days=7), 10, r0)

    def bookings(
        self, start: datetime, end: datetime | None, rids: list[Any], limit: int
    ) -> list[Any]:
        """The bookings in time order, each with its work order, line item and item."""
        until = " AND starts_at < ?" if end is not None else ""
        return self.named_windows(
            "SELECT resource_id, work_order_id, line_item_id, starts_at, ends_at FROM"
            f" resource_bookings WHERE resource_id IN (?) AND ends_at > ?{until}"
            f" ORDER BY starts_at, id LIMIT {limit}",
            rids,
            start,
            *([end] if end is not None else []),
        )

    def floor_index(self) -> None:
        self.resources()
        self.floor_counts(self.rids)

    def floor_counts(self, rids: list[Any]) -> None:
        self.q(
            "SELECT resource_id, count(*) FROM resource_bookings WHERE resource_id IN (?)"
            " GROUP BY resource_id",
            rids,
        )
        self.q(
            "SELECT resource_id, count(*) FROM work_order_line_items WHERE work_order_id IN"
            " (SELECT id FROM work_orders WHERE org_id = ? AND state = 'IN_PROCESS')"
            " AND status IN ('DONE', 'SKIPPED') GROUP BY resource_id",
            self.org,
        )

    def queue_page(self) -> list[Any]:
        r0 = self.rids[0]
        self.floor_counts([r0])
        rows = (
            "SELECT w.id, li.id, w.version FROM resource_bookings b JOIN work_orders w ON"
            " w.id = b.work_order_id JOIN work_order_line_items li ON li.id = b.line_item_id"
            " WHERE b.resource_id = ? AND w.org_id = ? AND w.state = ?"
            " ORDER BY b.starts_at, w.number, li.sequence"
        )
        running = self.q(rows, r0, self.org, "IN_PROCESS")
        return running[:20] + self.q(
            rows + f" LIMIT {20 - min(20, len(running))}", r0, self.org, "SCHEDULED"
        )

    def floor(self) -> None:
        self.q(
            "SELECT * FROM resources r JOIN facilities f ON f.id = r.facility_id WHERE r.id = ?",
            self.rids[0],
        )
        page = self.queue_page()
        ids = list({r[0] for r in page})
        self.work_orders_shown(ids)

    def work_orders_shown(self, ids: list[Any]) -> None:
        """A page of work orders as the API presents them: line items with their resources,
        alternatives, production orders' states, dependencies, items."""
        if not ids:
            return
        wos = self.q("SELECT * FROM work_orders WHERE id IN (?)", ids)
        lines = self.q(
            "SELECT li.*, r.code, r.name FROM work_order_line_items li LEFT JOIN resources r"
            " ON r.id = li.resource_id WHERE li.work_order_id IN (?) ORDER BY"
            " li.work_order_id, li.sequence",
            ids,
        )
        self.q(
            "SELECT * FROM work_order_line_item_alternatives WHERE line_item_id IN (?)",
            [li.id for li in lines],
        )
        self.q(
            "SELECT id, state FROM production_orders WHERE id IN (?)",
            list({w.production_order_id for w in wos}),
        )
        self.q("SELECT * FROM work_order_dependencies WHERE work_order_id IN (?)", ids)
        self.q("SELECT id, sku, name FROM items WHERE id IN (?)", list({w.item_id for w in wos}))

    def stamp(self) -> None:
        self.q("SELECT id FROM resources WHERE id = ? AND org_id = ?", self.rids[0], self.org)
        self.queue_page()

    def board(self, days: int) -> None:
        today = datetime.now(UTC).astimezone(self.zone).date()
        if days == 7:
            self.week_board(today - timedelta(days=today.weekday()))
            return
        start, end = self.week(days, today)
        self.resources()
        self.bookings(start, end, self.rids, 2001)
        plus = "+" if self.sqlite else ""  # (the window's index from its end, as the page)
        done = self.q(
            "SELECT id FROM work_orders WHERE org_id = ? AND planned_end > ?"
            f" AND {plus}state = 'COMPLETED' AND {plus}planned_start < ?"
            " ORDER BY planned_start, id LIMIT 2001",
            self.org,
            start,
            end,
        )
        if done:
            self.named_windows(
                "SELECT resource_id, work_order_id, id AS line_item_id, planned_start AS"
                " starts_at, planned_end AS ends_at FROM work_order_line_items WHERE"
                " work_order_id IN (?) AND resource_id IS NOT NULL AND planned_start < ?"
                " AND planned_end > ? ORDER BY planned_start, id LIMIT 2001",
                [w[0] for w in done],
                end,
                start,
            )

    def named_windows(self, windows: str, *args: Any) -> list[Any]:
        """Line items' windows (resource, work order, line item, start, end), each joined
        by key to its work order, line item and item, in time order: one query, as the
        board and the resource page read them."""
        return self.q(
            "SELECT x.resource_id, x.work_order_id, w.number, w.state, w.on_hold,"
            " x.line_item_id, li.sequence, li.operation, li.status, i.sku, i.name,"
            f" w.quantity, w.unit, x.starts_at, x.ends_at FROM ({windows}) x"
            " JOIN work_orders w ON w.id = x.work_order_id JOIN work_order_line_items li"
            " ON li.id = x.line_item_id JOIN items i ON i.id = w.item_id"
            " ORDER BY x.starts_at, x.ends_at, x.line_item_id",
            *args,
        )

    def week_board(self, monday: date) -> None:
        """The week's busy blocks: the line items of each resource grouped by the day they
        start on and their work order's state, then the names of blocks of one."""
        days = [self.week(1, monday + timedelta(days=i)) for i in range(7)]
        start, end = days[0][0], days[-1][1]
        self.resources()
        day = (
            "CASE "
            + " ".join(
                f"WHEN starts_at < {self.lit(hi)} THEN {k}" for k, (_, hi) in enumerate(days[:-1])
            )
            + " ELSE 6 END"
        )
        text = "TEXT" if not self.sqlite else "VARCHAR"
        plus = "+" if self.sqlite else ""  # (the window's index from its end, as the page)
        done = [
            r[0]
            for r in self.q(
                "SELECT id FROM work_orders WHERE org_id = ? AND planned_end > ?"
                f" AND {plus}state = 'COMPLETED' AND {plus}planned_start < ?"
                " ORDER BY planned_start, id",
                self.org,
                start,
                end,
            )
        ]
        blocks = self.q(
            f"SELECT resource_id, {day}, state, on_hold, min(starts_at), max(ends_at), count(*),"
            f" sum(booked), sum({self.hours('ends_at', 'starts_at')}), min(number),"
            f" max(number), min(CAST(li AS {text})) FROM (SELECT b.resource_id,"
            " b.line_item_id AS li, b.starts_at, b.ends_at, w.number, w.state, w.on_hold,"
            " 1 AS booked FROM resource_bookings b JOIN work_orders w ON"
            " w.id = b.work_order_id WHERE b.resource_id IN (?) AND b.starts_at < ?"
            " AND b.ends_at > ? AND w.org_id = ? AND w.planned_end > ? AND w.planned_start < ?"
            " UNION ALL SELECT li.resource_id, li.id, li.planned_start, li.planned_end,"
            " w.number, w.state, w.on_hold, 0 FROM work_order_line_items li JOIN work_orders w"
            " ON w.id = li.work_order_id WHERE li.work_order_id IN (?)"
            " AND li.resource_id IS NOT NULL AND li.planned_start < ? AND li.planned_end > ?)"
            f" l GROUP BY resource_id, {day}, state, on_hold"
            f" ORDER BY resource_id, {day}, min(starts_at)",
            self.rids,
            end,
            start,
            self.org,
            start,
            end,
            done or [None],
            end,
            start,
        )
        singles = [r[11] for r in blocks if r[6] == 1]
        if singles:
            self.named_windows(
                "SELECT li.resource_id, li.work_order_id, li.id AS line_item_id,"
                " coalesce(b.starts_at, li.planned_start) AS starts_at,"
                " coalesce(b.ends_at, li.planned_end) AS ends_at FROM work_order_line_items li"
                " LEFT JOIN resource_bookings b ON b.line_item_id = li.id WHERE li.id IN (?)",
                [uuid.UUID(li) for li in singles],
            )

    def order_list(self) -> None:
        self.q("SELECT id, name FROM customers WHERE org_id = ? ORDER BY name", self.org)
        orders = self.q(
            "SELECT * FROM production_orders WHERE org_id = ? AND state <> 'DELETED'"
            " ORDER BY id LIMIT 51",
            self.org,
        )
        ids = [o.id for o in orders]
        self.order_summaries(ids)
        self.q(
            "SELECT production_order_id, max(planned_end), sum(CASE WHEN on_hold THEN 1 ELSE"
            " 0 END) FROM work_orders WHERE org_id = ? AND production_order_id IN (?) AND"
            " state IN ('DRAFT', 'SCHEDULED', 'IN_PROCESS') GROUP BY production_order_id",
            self.org,
            ids,
        )

    def order(self) -> None:
        po = self.p(self.s.po_id)
        order = self.q("SELECT * FROM production_orders WHERE id = ? AND org_id = ?", po, self.org)
        self.order_summaries([po])
        self.q(
            "SELECT * FROM work_orders WHERE org_id = ? AND production_order_id = ?"
            " AND state <> 'DELETED' ORDER BY id",
            self.org,
            po,
        )
        self.q(
            "SELECT * FROM events WHERE org_id = ? AND entity_id = ? UNION ALL SELECT * FROM"
            " events WHERE org_id = ? AND parent_id = ? AND entity_id <> ? ORDER BY id",
            self.org,
            po,
            self.org,
            po,
            po,
        )
        self.q("SELECT * FROM customers WHERE id = ?", order[0].owner_id)
        self.q("SELECT * FROM items WHERE org_id = ?", self.org)

    def work_order_list(self) -> None:
        self.q(
            "SELECT id, code, name, active FROM resources WHERE org_id = ? ORDER BY code", self.org
        )
        ids = [
            r[0]
            for r in self.q(
                "SELECT id FROM work_orders WHERE org_id = ? AND state <> 'DELETED'"
                " ORDER BY id LIMIT 51",
                self.org,
            )
        ]
        self.work_orders_shown(ids[:50])
        self.q("SELECT id, number FROM production_orders WHERE id IN (SELECT production_order_id"
               " FROM work_orders WHERE id IN (?))", ids)  # fmt: skip

    def work_order(self) -> None:
        wo = self.p(self.s.wo_id)
        self.work_orders_shown([wo])
        self.q("SELECT * FROM events WHERE org_id = ? AND entity_id = ? ORDER BY id", self.org, wo)
        self.q(
            "SELECT id, number, state FROM production_orders WHERE id IN (SELECT"
            " production_order_id FROM work_orders WHERE id = ?)",
            wo,
        )


def pages_of(s: Seeded) -> list[tuple[str, str, Callable[[Connection], Any] | None]]:
    r0 = s.resource_ids[0]

    def raw(method: str, *args: Any) -> Callable[[Connection], Any]:
        return lambda conn: getattr(Raw(conn, s), method)(*args)

    return [
        ("dashboard", "/", raw("dashboard")),
        ("resources", "/resources", raw("resource_list")),
        ("resource", f"/resources/{r0}", raw("resource")),
        ("shop floor", "/floor", raw("floor_index")),
        ("shop floor of a resource", f"/floor/{r0}", raw("floor")),
        ("its refresh stamp", f"/floor/{r0}/stamp", raw("stamp")),
        ("board, day", "/board", raw("board", 1)),
        ("board, week", "/board?zoom=week", raw("board", 7)),
        ("production orders", "/production-orders", raw("order_list")),
        ("production order", f"/production-orders/{s.po_id}", raw("order")),
        ("work orders", "/work-orders", raw("work_order_list")),
        ("work order", f"/work-orders/{s.wo_id}", raw("work_order")),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
