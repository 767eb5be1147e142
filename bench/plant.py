"""A plant at the size of years of work, seeded straight into the tables (not through the API).

One organisation of N work orders and a second one of N/10 (whose rows every list of the
first must step over), four years of history up to now: ten work orders to a production
order, three line items each on 40 resources, one in ten line items with an alternative
resource, a third of the work orders waiting for the one before, 500 items, 50 customers.
Ids are UUIDv7 of the creation time, as the application makes them, so id order is creation
order; due dates and planned windows follow creation by two to four weeks and one week.

States follow the planned window: work planned before the last two days is COMPLETED (94 %),
CANCELED, DELETED or, a little, still open (late); the last two days are IN_PROCESS,
COMPLETED or SCHEDULED; the week ahead is SCHEDULED or DRAFT (no window yet).

PostgreSQL is written with COPY (foreign key triggers off while it runs, then VACUUM
ANALYZE, as autovacuum would have done on a table of that age); SQLite with executemany
through the columns' own bind processing. 1,000,000 work orders take about two minutes
on PostgreSQL; 200,000 on SQLite about a minute.
"""

import argparse
import json
import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy import Engine, Table, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from taktline import migrate
from taktline.app import create_app
from taktline.auth import service as auth
from taktline.auth.models import User
from taktline.config import Settings
from taktline.db import create_db_engine, create_session_factory, transaction
from taktline.items.models import Item, ItemType
from taktline.numbering import NumberSequence
from taktline.orders.lifecycle import LineItemStatus, State, derive_state
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    ProductionOrder,
    ProductionOrderItem,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.orgs.models import Customer, Facility
from taktline.permissions import Role
from taktline.resources.models import Resource, ResourceKind

HISTORY = timedelta(days=4 * 365)
PER_ORDER = 10
ITEMS = 500
RESOURCES = 40
CUSTOMERS = 50
FLAVOURS = (
    "Apple", "Orange", "Mango", "Cherry", "Lemon", "Ginger", "Peach", "Grape", "Berry", "Lime",
    "Guava", "Melon", "Kiwi", "Plum", "Pear", "Cola", "Mint", "Yuzu", "Hibiscus", "Tea",
)  # fmt: skip
KINDS = ("Juice", "Kombucha", "Soda", "Water", "Smoothie")
SIZES = ("12oz", "16oz", "1L", "2L", "6-pack")


def uuid7(at: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 of `at`, laid out as taktline.db.new_id makes them."""
    millis = int(at.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    return uuid.UUID(int=value)


@dataclass
class Org:
    """What a benchmark needs to know of a seeded organisation."""

    id: uuid.UUID
    name: str
    work_orders: int
    token: str = ""
    items: list[uuid.UUID] = field(default_factory=list)
    item_names: list[str] = field(default_factory=list)
    resources: list[uuid.UUID] = field(default_factory=list)
    customers: list[uuid.UUID] = field(default_factory=list)
    facility_id: uuid.UUID | None = None


@dataclass
class Plant:
    url: str
    now: datetime
    main: Org
    other: Org
    # A work order about a year old, and its production order: what lists look for.
    sample_number: str = ""
    sample_order: uuid.UUID | None = None
    sample_order_number: str = ""
    sample_reference: str = ""


def _with_samples(plant: Plant) -> Plant:
    engine = create_db_engine(plant.url)
    try:
        with engine.connect() as conn:
            number = f"WO-{max(1, plant.main.work_orders * 3 // 4):06d}"
            row = conn.execute(
                select(WorkOrder.number, ProductionOrder.id, ProductionOrder.number,
                       ProductionOrder.reference)
                .join(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
                .where(WorkOrder.org_id == plant.main.id, WorkOrder.number == number)
            ).one()  # fmt: skip
    finally:
        engine.dispose()
    plant.sample_number, plant.sample_order = row[0], row[1]
    plant.sample_order_number, plant.sample_reference = row[2], row[3] or ""
    return plant


@contextmanager
def scratch_database(url: str | None, *, keep: bool = False) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in a temporary folder, or a PostgreSQL
    database `taktline_bench_<hex>` on the server of `url`, dropped at the end unless `keep`."""
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
            _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE "{name}"'))


# --- the rows ------------------------------------------------------------------------------

# Rows by table: the columns' Python values, as the models take them.
Rows = dict[Table, list[dict[str, Any]]]

WORK_ORDERS = cast(Table, WorkOrder.__table__)
LINE_ITEMS = cast(Table, LineItem.__table__)
ALTERNATIVES = cast(Table, LineItemAlternative.__table__)
DEPENDENCIES = cast(Table, WorkOrderDependency.__table__)
PRODUCTION_ORDERS = cast(Table, ProductionOrder.__table__)
ORDER_ITEMS = cast(Table, ProductionOrderItem.__table__)


def _work_order_state(planned_start: datetime, now: datetime, u: float) -> State:
    if planned_start < now - timedelta(days=2):
        for state, share in (
            (State.COMPLETED, 0.94),
            (State.CANCELED, 0.975),
            (State.DELETED, 0.985),
            (State.IN_PROCESS, 0.9925),
        ):
            if u < share:
                return state
        return State.SCHEDULED  # late: planned long ago and never started
    if planned_start < now:
        return State.IN_PROCESS if u < 0.4 else State.COMPLETED if u < 0.8 else State.SCHEDULED
    return State.SCHEDULED if u < 0.55 else State.DRAFT if u < 0.95 else State.CANCELED


def _order_state(states: Sequence[State]) -> State:
    if all(s is State.DELETED for s in states):
        return State.DELETED
    if all(s in (State.CANCELED, State.DELETED) for s in states):
        return State.CANCELED
    return derive_state(State.DRAFT, states)


def generate(org: Org, n: int, now: datetime, seed: int, chunk: int = 10_000) -> Iterator[Rows]:
    """The rows of `n` work orders of `org` (with their production orders), `chunk` work
    orders at a time, in creation order."""
    rng = random.Random(seed)
    start = now - HISTORY
    step = HISTORY / n
    quantity_step = Decimal("0.05")
    for first in range(0, n, chunk):
        rows: Rows = {
            t: []
            for t in (
                PRODUCTION_ORDERS,
                ORDER_ITEMS,
                WORK_ORDERS,
                LINE_ITEMS,
                ALTERNATIVES,
                DEPENDENCIES,
            )
        }
        for po_first in range(first, min(first + chunk, n), PER_ORDER):
            wos: list[dict[str, Any]] = []
            created = start + step * po_first
            po_id = uuid7(created - timedelta(milliseconds=1), rng)
            po_no = po_first // PER_ORDER
            for i in range(po_first, min(po_first + PER_ORDER, n)):
                at = start + step * i
                quantity = Decimal(100 + rng.randrange(900))
                planned_start = at + timedelta(days=7, minutes=rng.randrange(48 * 60))
                state = _work_order_state(planned_start, now, rng.random())
                windowed = state not in (State.DRAFT, State.DELETED)
                wo_id = uuid7(at, rng)
                item = rng.randrange(ITEMS)
                resources = rng.sample(org.resources, 3)
                begin = planned_start
                done_lines = {
                    State.COMPLETED: 3,
                    State.IN_PROCESS: 1,
                }.get(state, 0)
                for seq, op in enumerate(("Mixing", "Filling", "Casing"), start=1):
                    end = begin + timedelta(minutes=60 + rng.randrange(120))
                    status = (
                        LineItemStatus.DONE
                        if seq <= done_lines
                        else LineItemStatus.IN_PROCESS
                        if state is State.IN_PROCESS and seq == 2
                        else LineItemStatus.PENDING
                    )
                    li_id = uuid7(at + timedelta(milliseconds=seq), rng)
                    rows[LINE_ITEMS].append(
                        {
                            "id": li_id,
                            "org_id": org.id,
                            "work_order_id": wo_id,
                            "sequence": seq,
                            "operation": op,
                            "resource_id": resources[seq - 1],
                            "setup_minutes": Decimal(15),
                            "run_minutes_per_unit": quantity_step,
                            "planned_start": begin if windowed else None,
                            "planned_end": end if windowed else None,
                            "actual_start": begin if status is not LineItemStatus.PENDING else None,
                            "actual_end": end if status is LineItemStatus.DONE else None,
                            "quantity_completed": quantity if status is LineItemStatus.DONE else 0,
                            "quantity_scrapped": Decimal(0),
                            "status": status.value,
                            "interruptible": seq == 3,
                        }
                    )
                    if rng.random() < 0.1:
                        other = org.resources[
                            (org.resources.index(resources[seq - 1]) + 1) % len(org.resources)
                        ]
                        rows[ALTERNATIVES].append(
                            {
                                "id": uuid7(at + timedelta(milliseconds=4), rng),
                                "org_id": org.id,
                                "line_item_id": li_id,
                                "resource_id": other,
                                "setup_minutes": Decimal(20),
                                "run_minutes_per_unit": Decimal("0.06"),
                            }
                        )
                    begin = end
                wos.append(
                    {
                        "id": wo_id,
                        "org_id": org.id,
                        "version": 1 + done_lines,
                        "created_at": at,
                        "updated_at": at,
                        "number": f"WO-{i + 1:06d}",
                        "state": state.value,
                        "production_order_id": po_id,
                        "item_id": org.items[item],
                        "quantity": quantity,
                        "unit": "ea",
                        "instructions": None,
                        "due_date": at + timedelta(days=14, minutes=rng.randrange(14 * 24 * 60)),
                        "priority": rng.randrange(101),
                        "planned_start": planned_start if windowed else None,
                        "planned_end": begin if windowed else None,
                        "actual_start": planned_start if done_lines else None,
                        "actual_end": begin if state is State.COMPLETED else None,
                        "quantity_produced": quantity if state is State.COMPLETED else 0,
                        "quantity_scrapped": Decimal(0),
                        "on_hold": False,
                        "hold_reason": None,
                        "release_at": None,
                        "pinned": False,
                    }
                )
                if len(wos) > 1 and rng.random() < 0.3:
                    rows[DEPENDENCIES].append(
                        {"work_order_id": wo_id, "depends_on_id": wos[-2]["id"], "org_id": org.id}
                    )
            first_item = wos[0]["item_id"]
            rows[PRODUCTION_ORDERS].append(
                {
                    "id": po_id,
                    "org_id": org.id,
                    "version": 1,
                    "created_at": created,
                    "updated_at": created,
                    "number": f"PO-{po_no + 1:06d}",
                    "state": _order_state([State(w["state"]) for w in wos]).value,
                    "owner_id": None if po_no % 9 == 0 else org.customers[po_no % CUSTOMERS],
                    "reference": f"CPO-{po_no:07d}",
                    "due_date": created + timedelta(days=30),
                    "priority": po_no % 101,
                    "notes": None,
                }
            )
            rows[ORDER_ITEMS].append(
                {
                    "id": uuid7(created, rng),
                    "org_id": org.id,
                    "production_order_id": po_id,
                    "position": 1,
                    "item_id": first_item,
                    "quantity": sum((w["quantity"] for w in wos), Decimal(0)),
                    "unit": "ea",
                }
            )
            rows[WORK_ORDERS].extend(wos)
        yield rows


# --- writing them ---------------------------------------------------------------------------


def reference_data(engine: Engine, name: str, n: int, planner: bool) -> Org:
    """The organisation, its facility, resources, items, customers (and a planner's token)."""
    factory = create_session_factory(engine)
    with factory() as session:
        organisation = auth.get_or_create_org(session, name)
        org = Org(id=organisation.id, name=name, work_orders=n)
        if planner:
            user = auth.get_or_create_user(
                session, organisation, f"planner@{name.split()[0].lower()}.example", Role.PLANNER
            )
            org.token = auth.create_token(session, user)
        with transaction(session):
            facility = Facility(org_id=org.id, name="Plant", timezone="America/Chicago")
            session.add(facility)
            session.flush()
            org.facility_id = facility.id
            resources = [
                Resource(
                    org_id=org.id,
                    code=f"LINE-{i:02d}",
                    name=f"Line {i}",
                    kind=ResourceKind.LINE,
                    facility_id=facility.id,
                    parallel_capacity=1000,
                )
                for i in range(RESOURCES)
            ]
            items = [
                Item(
                    org_id=org.id,
                    sku=f"SKU-{i:05d}",
                    name=f"{FLAVOURS[i % 20]} {KINDS[i // 20 % 5]} {SIZES[i // 100]} #{i}",
                    unit="ea",
                    type=ItemType.FINISHED_GOOD,
                )
                for i in range(ITEMS)
            ]
            customers = [
                Customer(org_id=org.id, name=f"Brand {i}", code=f"C{i:03d}")
                for i in range(CUSTOMERS)
            ]
            session.add_all([*resources, *items, *customers])
            session.flush()
            org.resources = [r.id for r in resources]
            org.items = [i.id for i in items]
            org.item_names = [i.name for i in items]
            org.customers = [c.id for c in customers]
            for kind, count in (("work_order", n), ("production_order", -(-n // PER_ORDER))):
                session.add(NumberSequence(org_id=org.id, kind=kind, last_value=count))
    return org


def _write_postgres(engine: Engine, batches: Iterator[Rows]) -> None:
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with driver.cursor() as cur:
            # Foreign keys are right by construction; checking each row would triple the time.
            cur.execute("SET session_replication_role = replica")
            for rows in batches:
                for table, values in rows.items():
                    if not values:
                        continue
                    columns = list(values[0])
                    names = ", ".join(f'"{c}"' for c in columns)
                    with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row([row[c] for c in columns])
            cur.execute("SET session_replication_role = DEFAULT")
        driver.commit()
    finally:
        raw.close()


def _write_sqlite(engine: Engine, batches: Iterator[Rows]) -> None:
    dialect = engine.dialect
    processors: dict[tuple[str, str], Callable[[Any], Any] | None] = {}
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        driver.execute("BEGIN")
        for rows in batches:
            for table, values in rows.items():
                if not values:
                    continue
                columns = list(values[0])
                procs = []
                for c in columns:
                    key = (table.name, c)
                    if key not in processors:
                        processors[key] = table.c[c].type._cached_bind_processor(dialect)
                    procs.append(processors[key])
                marks = ", ".join("?" for _ in columns)
                names = ", ".join(f'"{c}"' for c in columns)
                driver.executemany(
                    f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
                    [
                        tuple(
                            p(row[c]) if p is not None else row[c]
                            for p, c in zip(procs, columns, strict=True)
                        )
                        for row in values
                    ],
                )
        driver.execute("COMMIT")
    finally:
        raw.close()


def seed(
    url: str, work_orders: int, *, other: int | None = None, now: datetime | None = None
) -> Plant:
    """Migrates the (empty) database at `url` and seeds the plant into it."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    migrate.upgrade(url)
    engine = create_db_engine(url)
    try:
        main = reference_data(engine, "Bench Co-Packing", work_orders, planner=True)
        second = reference_data(engine, "Other Bottling", other or work_orders // 10, planner=True)
        write = _write_postgres if engine.dialect.name == "postgresql" else _write_sqlite
        for org, seed_ in ((main, 1), (second, 2)):
            t0 = time.perf_counter()
            write(engine, generate(org, org.work_orders, now, seed_))
            print(f"seeded {org.work_orders:,} work orders of {org.name} in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
        t0 = time.perf_counter()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            print(f"VACUUM ANALYZE in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        engine.dispose()
    return _with_samples(Plant(url=url, now=now, main=main, other=second))


def planner_of(factory: Callable[[], Session], org: Org) -> tuple[uuid.UUID, str]:
    """The id and email of the planner whose token `org` carries."""
    with factory() as session:
        user = session.execute(
            select(User.id, User.email).where(User.org_id == org.id, User.email.like("planner@%"))
        ).one()
    return user[0], user[1]


def discover(url: str) -> Plant:
    """The plant `seed` left in the database at `url` (seeded before, kept with --keep),
    with new tokens."""
    engine = create_db_engine(url)
    try:
        factory = create_session_factory(engine)
        orgs = []
        with factory() as session:
            for name in ("Bench Co-Packing", "Other Bottling"):
                organisation = auth.get_or_create_org(session, name)
                user = auth.get_or_create_user(
                    session,
                    organisation,
                    f"planner@{name.split()[0].lower()}.example",
                    Role.PLANNER,
                )
                org = Org(id=organisation.id, name=name, work_orders=0)
                org.token = auth.create_token(session, user)
                mine = (Item.org_id == org.id,)
                items = session.execute(select(Item.id, Item.name).where(*mine).order_by(Item.sku))
                for item_id, item_name in items:
                    org.items.append(item_id)
                    org.item_names.append(item_name)
                org.resources = list(
                    session.scalars(
                        select(Resource.id).where(Resource.org_id == org.id).order_by(Resource.code)
                    )
                )
                org.customers = list(
                    session.scalars(
                        select(Customer.id).where(Customer.org_id == org.id).order_by(Customer.code)
                    )
                )
                org.work_orders = (
                    session.scalar(
                        select(func.count())
                        .select_from(WorkOrder)
                        .where(WorkOrder.org_id == org.id)
                    )
                    or 0
                )
                orgs.append(org)
            newest = session.scalar(
                select(func.max(WorkOrder.created_at)).where(WorkOrder.org_id == orgs[0].id)
            )
    finally:
        engine.dispose()
    now = (newest or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    return _with_samples(Plant(url=url, now=now, main=orgs[0], other=orgs[1]))


def p95(runs: Sequence[float]) -> float:
    """The 95th percentile of some timings (nearest rank)."""
    ordered = sorted(runs)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def run_on_empty_plant(
    description: str, measure: Callable[[TestClient, Any, Org, int], dict[str, Any]]
) -> None:
    """The command line of a bench that measures one request on an empty plant: a scratch
    database (`--database-url`, default SQLite) migrated, an organisation with its reference
    data and a planner, the application in process (TestClient); `measure(client, app, org,
    repeat)` gives the result, printed with the load average before and after, and written
    to `--json`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with scratch_database(args.database_url) as url:
        migrate.upgrade(url)
        engine = create_db_engine(url)
        try:
            org = reference_data(engine, "Bench Co-Packing", 0, planner=True)
        finally:
            engine.dispose()
        app = create_app(Settings(database_url=url))
        with TestClient(app) as client:
            result = measure(client, app, org, args.repeat)
        app.state.engine.dispose()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)


# --- for benches that seed tables of their own -------------------------------------------------


def write_rows(engine: Engine, batches: Iterator[Rows]) -> None:
    """Writes batches of rows straight into their tables, as `seed` does: COPY on PostgreSQL
    (foreign key triggers off while it runs: the rows are right by construction),
    executemany through the columns' own bind processing on SQLite. A table's rows must come
    after those they refer to (SQLite checks each row)."""
    write = _write_postgres if engine.dialect.name == "postgresql" else _write_sqlite
    write(engine, batches)


def vacuum_analyze(engine: Engine) -> float:
    """VACUUM ANALYZE on PostgreSQL (as autovacuum would have done on tables of that age);
    nothing on SQLite (the application never runs ANALYZE there). Returns the seconds."""
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


def planner_actor(factory: Callable[[], Session], org: Org) -> Any:
    """The planner of `org` (whose token it carries) as the use cases take an actor."""
    from taktline.permissions import Actor

    user_id, email = planner_of(factory, org)
    return Actor(user_id=user_id, org_id=org.id, email=email, role=Role.PLANNER)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
