"""Inventory at the size of years of a co-packer's stock: a lot traced through its genealogy,
and a week's schedule allocated in one call (issue 10, "Measured").

**trace.** `--lots` lots (default 100,000) and about ten ledger entries a lot (`--entries`,
default 1,000,000), five levels deep: received lots (40 %) and four levels of produced
ones (15 % each: blends, juice, bottles, cases), each produced lot made by a COMPLETED work
order of its own. A work order of the first level pulls three received lots of
ingredients; one of a level above pulls two lots of the level below (of its own customer's
order, or the manufacturer's own) and two received lots of packaging; so a lot goes into
about two work orders of the level above, a received one into three or four. Every pull is
what the product writes: an ALLOCATE, one or two PULLs consuming it (half the pairs are
pulled in two goes), a RETURN of what was left over for one pair in ten, an ALLOCATE and
RELEASE before it (rescheduled) for as many pairs as make up `--entries`; each work order
reports its output in four PRODUCE entries; a tenth of the received lots with stock left
are ADJUSTed by a count. Balances are the sums of the entries, never negative, never
allocated beyond on hand at any moment (checked after seeding, untimed); what is used up is
DEPLETED, a little unused stock waits in QUARANTINE or on HOLD; customer-supplied lots (5 %)
go only into that customer's orders; nothing expires before it is used. Events are not
seeded (a trace reads none).

Ours is `taktline.inventory.tracing.trace(session, actor, lot_id, direction)` (the walk's
one recursive query, then the facts of the lots and work orders it met, the depths and the
answer), in a session of its own as a request has. Raw is the same recursive query written
out by hand and the two statements for the lots' and work orders' facts, through the
driver, on the same database (and the recursive query alone, for reference). Backward from
50 finished lots and forward from 50 received lots of ingredients (a recall), the two taking
turns on each lot: p50 and p95 of each, and the ratio of the p95s (aim: p95 under 50 ms and
within 2x raw).

**allocate.** `--work-orders` SCHEDULED work orders (default 1,000, a fortnight of work,
one in three for the manufacturer itself, the others for five customers), each needing an
ingredient (FEFO) and three packaging materials (FIFO) of items of their own; 400
AVAILABLE lots of each item (a tenth customer-supplied, some expiring before the later work
ends, 5 % short overall), and some in QUARANTINE or on HOLD. Ours is
`allocating.allocate_many(session, actor, ids)`: one call, one transaction. Raw is the same
picks by hand through the driver: the work orders locked, their materials and what is
allocated to them read, the candidate lots read in strategy order, the picked lots locked,
the ALLOCATE entries and allocations inserted, the lots' allocated and versions updated,
the work orders' versions stepped and an event per work order, one transaction. Each side
allocates a fresh set of its own (`--repeat` times, taking turns), after one small warm-up
set; the results are checked to be the same picks (aim: under 2 s on PostgreSQL).

    .venv/bin/python bench/inventory.py --lots 2000                     # a SQLite file
    .venv/bin/python bench/inventory.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/inventory.py --bench allocate --work-orders 1000
"""

import argparse
import bisect
import json
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import Any, cast

from sqlalchemy import Engine, Table, select, text

import plant
from taktline import migrate
from taktline.db import create_db_engine, create_session_factory, new_id, transaction
from taktline.inventory import allocating, tracing
from taktline.inventory.genealogy import Direction
from taktline.inventory.models import Allocation, InventoryEntry, Lot
from taktline.items.kinds import AllocationStrategy
from taktline.items.models import Item, ItemType
from taktline.orders.models import (
    LineItem,
    ProductionOrder,
    ProductionOrderItem,
    WorkOrder,
    WorkOrderMaterial,
)
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.resources.models import Resource

LOTS = cast(Table, Lot.__table__)
ENTRIES = cast(Table, InventoryEntry.__table__)
ALLOCATIONS = cast(Table, Allocation.__table__)
WORK_ORDERS = cast(Table, WorkOrder.__table__)
LINE_ITEMS = cast(Table, LineItem.__table__)
MATERIALS = cast(Table, WorkOrderMaterial.__table__)
PRODUCTION_ORDERS = cast(Table, ProductionOrder.__table__)
ORDER_ITEMS = cast(Table, ProductionOrderItem.__table__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HISTORY = timedelta(days=4 * 365)
LEVELS = 4  # produced levels above the received lots: five levels of lots
PRODUCED_SHARE = Decimal("0.15")  # of the lots, per produced level
REPORTS = 4  # reports of a work order's last line item: its PRODUCE entries
LAG = timedelta(hours=12)  # a level's work order after the one of the level below
RAW_WINDOW = timedelta(days=20)  # received lots a work order takes from: the last 20 days
# The owners of the work: a production order's customer (the manufacturer's own for None),
# by the work order's index modulo their number; a third the manufacturer's own.
OWN_SHARE, CUSTOMERS = 7, 14
CUSTOMER_SUPPLIED = 0.05
THREE = Decimal("0.001")


def q3(value: Decimal) -> Decimal:
    return value.quantize(THREE, rounding=ROUND_DOWN)


# --- the genealogy ---------------------------------------------------------------------------


@dataclass(slots=True)
class SeedLot:
    id: uuid.UUID
    item: int
    level: int  # 0: received; 1..4: produced
    made_at: datetime
    owner: uuid.UUID | None
    code: str
    producer: int | None = None  # the work order that made it
    uses: list[int] = field(default_factory=list)  # its pairs, in time order
    leftover: Decimal = Decimal(0)
    adjust: Decimal = Decimal(0)


@dataclass(slots=True)
class SeedWorkOrder:
    id: uuid.UUID
    number: str
    level: int
    at: datetime  # its run: pulls from `at`, reports in the four hours after
    item: int
    owner: uuid.UUID | None
    order: int
    line_item: uuid.UUID
    resource: uuid.UUID
    lot: int = -1
    pairs: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Pair:
    """A lot pulled by a work order: allocated, pulled (in one or two goes), perhaps a
    little returned, perhaps allocated and released once before (rescheduled)."""

    lot: int
    work_order: int
    quantity: Decimal
    split: bool
    returned: Decimal
    churn: bool = False


@dataclass(frozen=True, slots=True)
class SeedItem:
    id: uuid.UUID
    sku: str
    unit: str
    level: int
    pool: int  # received items: which work takes them (0 ingredients, 1..3 packaging)


@dataclass
class Seed:
    items: list[SeedItem]
    lots: list[SeedLot]
    work_orders: list[SeedWorkOrder]
    pairs: list[Pair]
    orders: list[tuple[uuid.UUID, int, uuid.UUID | None, datetime, int]]  # id, level, owner
    counts: dict[str, int] = field(default_factory=dict)


def seed_items(engine: Engine, org: plant.Org) -> list[SeedItem]:
    """The genealogy's items: 18 received (6 ingredients, 4 packaging items for each level
    above the first) and 8 made at each of the four levels."""
    specs: list[tuple[str, str, str, ItemType, int, int, int, AllocationStrategy]] = []
    for n in range(6):
        specs.append((f"ING-{n}", f"Ingredient {n}", "gal", ItemType.RAW_MATERIAL, 0, 0, 365,
                      AllocationStrategy.FEFO))  # fmt: skip
    for pool in range(1, LEVELS):
        for n in range(4):
            specs.append((f"PKG-{pool}-{n}", f"Packaging {pool}.{n}", "ea", ItemType.RAW_MATERIAL,
                          0, pool, 730, AllocationStrategy.FIFO))  # fmt: skip
    for level in range(1, LEVELS + 1):
        type_ = ItemType.FINISHED_GOOD if level == LEVELS else ItemType.WORK_IN_PROGRESS
        for n in range(8):
            specs.append((f"L{level}-{n}", f"Level {level} product {n}", "ea", type_, level, -1,
                          730, AllocationStrategy.FEFO))  # fmt: skip
    factory = create_session_factory(engine)
    with factory() as session, transaction(session):
        rows = [
            Item(
                org_id=org.id, sku=sku, name=name, unit=unit, type=type_, precision=3,
                shelf_life_days=shelf, allocation_strategy=strategy,
            )
            for sku, name, unit, type_, _, _, shelf, strategy in specs
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [
            SeedItem(row.id, spec[0], spec[2], spec[4], spec[5])
            for row, spec in zip(rows, specs, strict=True)
        ]


def build(
    items: list[SeedItem], org: plant.Org, n_lots: int, n_entries: int, now: datetime, seed: int
) -> Seed:
    """The genealogy: lots, work orders and the pairs between them, with every quantity."""
    rng = random.Random(seed)
    per_level = int(n_lots * PRODUCED_SHARE)
    received = n_lots - LEVELS * per_level
    end = now - DAY
    start = end - HISTORY
    step = (HISTORY - (LEVELS + 1) * LAG) / max(per_level, 1)
    owners: list[uuid.UUID | None] = [None] * OWN_SHARE + list(org.customers[:CUSTOMERS])
    groups = len(owners)
    by_pool: dict[int, list[SeedItem]] = defaultdict(list)
    by_level: dict[int, list[SeedItem]] = defaultdict(list)
    for it in items:
        if it.level == 0:
            by_pool[it.pool].append(it)
        else:
            by_level[it.level].append(it)
    index = {it.id: k for k, it in enumerate(items)}

    # Received lots: each work of a pool takes from it (3 ingredients for a level 1 run, 2
    # packaging lots for each run above), so the pools are sized by what they feed.
    lots: list[SeedLot] = []
    pool_share = {0: 3, **dict.fromkeys(range(1, LEVELS), 2)}
    total_share = sum(pool_share.values())
    pools: dict[int, list[int]] = {}
    pool_times: dict[int, list[datetime]] = {}
    made = 0
    for pool, share in pool_share.items():
        size = received * share // total_share if pool < LEVELS - 1 else received - made
        made += size
        times = sorted(
            start - timedelta(days=30) + (HISTORY + timedelta(days=29)) * rng.random()
            for _ in range(size)
        )
        ids = []
        for at in times:
            it = rng.choice(by_pool[pool])
            owner = rng.choice(owners[OWN_SHARE:]) if rng.random() < CUSTOMER_SUPPLIED else None
            lots.append(
                SeedLot(
                    plant.uuid7(at, rng), index[it.id], 0, at, owner, f"{it.sku}-R{len(lots):07d}"
                )
            )
            ids.append(len(lots) - 1)
        pools[pool], pool_times[pool] = ids, times

    work_orders: list[SeedWorkOrder] = []
    pairs: list[Pair] = []
    orders: list[tuple[uuid.UUID, int, uuid.UUID | None, datetime, int]] = []
    order_of: dict[tuple[int, int, int], int] = {}
    level_lots: dict[int, list[int]] = {}

    def take_received(wo: SeedWorkOrder, pool: int, n: int) -> None:
        ids, times = pools[pool], pool_times[pool]
        hi = bisect.bisect_right(times, wo.at - 6 * HOUR)
        lo = bisect.bisect_left(times, wo.at - RAW_WINDOW)
        taken: set[int] = set()
        for _ in range(n * 10):
            if len(taken) == n or hi <= lo:
                break
            lot = ids[rng.randrange(lo, hi)]
            if lot in taken or lots[lot].owner not in (None, wo.owner):
                continue
            taken.add(lot)
        for lot in sorted(taken):
            unit = items[lots[lot].item].unit
            amount = (
                Decimal(rng.randrange(20_000, 200_000)) / 1000
                if unit == "gal"
                else Decimal(rng.randrange(500, 5000))
            )
            add_pair(wo, lot, amount)

    def add_pair(wo: SeedWorkOrder, lot: int, amount: Decimal) -> None:
        split = rng.random() < 0.5
        returned = q3(amount * Decimal("0.05")) if rng.random() < 0.1 else Decimal(0)
        pairs.append(Pair(lot, len(work_orders) - 1, amount, split, returned))
        wo.pairs.append(len(pairs) - 1)
        lots[lot].uses.append(len(pairs) - 1)

    for level in range(1, LEVELS + 1):
        level_lots[level] = []
        for i in range(per_level):
            at = start + step * i + LAG * level
            group = i % groups
            owner = owners[group]
            key = (level, i // (groups * 10), group)
            if key not in order_of:
                order_of[key] = len(orders)
                orders.append((plant.uuid7(at - 2 * DAY, rng), level, owner, at, 0))
            it = by_level[level][(i // groups) % len(by_level[level])]
            wo = SeedWorkOrder(
                plant.uuid7(at - 2 * DAY, rng), f"WO-{len(work_orders) + 1:07d}", level, at,
                index[it.id], owner, order_of[key], plant.uuid7(at - 2 * DAY, rng),
                org.resources[(level * 7 + i) % len(org.resources)],
            )  # fmt: skip
            work_orders.append(wo)
            if level == 1:
                take_received(wo, 0, 3)
            else:
                # two lots of the level below, of this owner's work (every `groups`-th)
                below = level_lots[level - 1]
                for back in rng.sample(range(4), 2):
                    j = i - back * groups
                    if j >= 0:
                        add_pair(wo, below[j], Decimal(rng.randrange(50_000, 500_000)) / 1000)
                take_received(wo, level - 1, 2)
            lot = SeedLot(
                plant.uuid7(at + HOUR, rng), index[it.id], level, at + HOUR, owner,
                f"{it.sku}-P{len(lots):07d}", producer=len(work_orders) - 1,
            )  # fmt: skip
            lots.append(lot)
            wo.lot = len(lots) - 1
            level_lots[level].append(len(lots) - 1)

    for lot in lots:
        lot.uses.sort(key=lambda p: work_orders[pairs[p].work_order].at)
        unused = not lot.uses
        if unused:
            lot.leftover = Decimal(rng.randrange(100, 1000))
        elif rng.random() < (0.3 if lot.level == 0 else 0.2):
            lot.leftover = Decimal(rng.randrange(10, 300))
        if lot.level == 0 and lot.leftover > 0 and rng.random() < 0.1:
            lot.adjust = min(lot.leftover, Decimal(rng.randrange(1, 10)))

    counts = {
        "RECEIVE": received,
        "PRODUCE": REPORTS * LEVELS * per_level,
        "ALLOCATE": len(pairs),
        "PULL": sum(2 if p.split else 1 for p in pairs),
        "RETURN": sum(1 for p in pairs if p.returned),
        "ADJUST": sum(1 for lot in lots if lot.adjust),
    }
    churn = min(len(pairs), max(0, (n_entries - sum(counts.values())) // 2))
    for k in rng.sample(range(len(pairs)), churn):
        pairs[k].churn = True
    counts["ALLOCATE"] += churn
    counts["RELEASE"] = churn
    return Seed(items, lots, work_orders, pairs, orders, counts)


def _initial(seed: Seed, lot: SeedLot) -> Decimal:
    return sum((seed.pairs[p].quantity for p in lot.uses), Decimal(0)) + lot.leftover


def _final(seed: Seed, lot: SeedLot) -> Decimal:
    return lot.leftover + sum((seed.pairs[p].returned for p in lot.uses), Decimal(0)) - lot.adjust


def rows(
    seed: Seed, org: plant.Org, actor: Any, now: datetime, chunk: int = 5000
) -> Iterator[plant.Rows]:
    """The seed as table rows, in the order they refer to each other."""
    rng = random.Random(7)
    wos = seed.work_orders
    quantity = {w: _initial(seed, seed.lots[wo.lot]) for w, wo in enumerate(wos)}
    first_at: dict[int, datetime] = {}
    total: dict[int, Decimal] = defaultdict(Decimal)
    for w, wo in enumerate(wos):
        first_at.setdefault(wo.order, wo.at)
        total[wo.order] += quantity[w]
    order_rows = []
    order_items = []
    for k, (po_id, _, owner, at, _) in enumerate(seed.orders):
        created = at - 2 * DAY
        order_rows.append(
            {
                "id": po_id, "org_id": org.id, "version": 3, "created_at": created,
                "updated_at": at + 5 * HOUR, "number": f"PO-{k + 1:07d}", "state": "COMPLETED",
                "owner_id": owner, "reference": f"CPO-{k:07d}", "due_date": created + 14 * DAY,
                "priority": 50, "notes": None,
            }
        )  # fmt: skip
    item_of_order = {wo.order: wo.item for wo in wos}
    for k, (po_id, _, _, at, _) in enumerate(seed.orders):
        order_items.append(
            {
                "id": plant.uuid7(at - 2 * DAY, rng), "org_id": org.id,
                "production_order_id": po_id, "position": 1,
                "item_id": seed.items[item_of_order[k]].id, "quantity": total[k],
                "unit": seed.items[item_of_order[k]].unit,
            }
        )  # fmt: skip
    yield {PRODUCTION_ORDERS: order_rows, ORDER_ITEMS: order_items}

    for first in range(0, len(wos), chunk):
        batch: plant.Rows = {WORK_ORDERS: [], LINE_ITEMS: [], MATERIALS: []}
        for w in range(first, min(first + chunk, len(wos))):
            wo = wos[w]
            done = wo.at + REPORTS * HOUR
            batch[WORK_ORDERS].append(
                {
                    "id": wo.id, "org_id": org.id, "version": 9, "created_at": wo.at - 2 * DAY,
                    "updated_at": done, "number": wo.number, "state": "COMPLETED",
                    "production_order_id": seed.orders[wo.order][0],
                    "item_id": seed.items[wo.item].id, "quantity": quantity[w],
                    "unit": seed.items[wo.item].unit, "instructions": None,
                    "due_date": wo.at + 7 * DAY, "priority": 50, "planned_start": wo.at,
                    "planned_end": done, "actual_start": wo.at, "actual_end": done,
                    "quantity_produced": quantity[w], "quantity_scrapped": Decimal(0),
                    "on_hold": False, "hold_reason": None, "release_at": None, "pinned": False,
                    "bom_version_id": None,
                }
            )  # fmt: skip
            batch[LINE_ITEMS].append(
                {
                    "id": wo.line_item, "org_id": org.id, "work_order_id": wo.id, "sequence": 1,
                    "operation": "Run", "resource_id": wo.resource,
                    "setup_minutes": Decimal(15), "run_minutes_per_unit": Decimal("0.01"),
                    "planned_start": wo.at, "planned_end": done, "actual_start": wo.at,
                    "actual_end": done, "quantity_completed": quantity[w],
                    "quantity_scrapped": Decimal(0), "status": "DONE", "interruptible": False,
                }
            )  # fmt: skip
            needed: dict[int, Decimal] = defaultdict(Decimal)
            for p in wo.pairs:
                needed[seed.lots[seed.pairs[p].lot].item] += seed.pairs[p].quantity
            for position, (item, amount) in enumerate(sorted(needed.items()), start=1):
                batch[MATERIALS].append(
                    {
                        "id": plant.uuid7(wo.at - 2 * DAY, rng), "org_id": org.id,
                        "work_order_id": wo.id, "position": position,
                        "item_id": seed.items[item].id, "quantity": amount,
                        "unit": seed.items[item].unit, "bom_input_id": None,
                    }
                )  # fmt: skip
        yield batch

    recent = now - 3 * DAY
    for first in range(0, len(seed.lots), chunk):
        lots_batch: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for lot in seed.lots[first : first + chunk]:
            lot_entries = _entries(seed, lot, org, actor)
            entries.extend(lot_entries)
            final = _final(seed, lot)
            status, reason = "AVAILABLE", None
            if final == 0:
                status = "DEPLETED"
            elif lot.level == 0 and not lot.uses and lot.made_at > recent:
                status = "QUARANTINE"
            elif lot.level == 0 and not lot.uses and rng.random() < 0.05:
                status, reason = "HOLD", "supplier's certificate of analysis missing"
            it = seed.items[lot.item]
            producer = wos[lot.producer] if lot.producer is not None else None
            lots_batch.append(
                {
                    "id": lot.id, "org_id": org.id, "version": 1 + len(lot_entries),
                    "created_at": lot.made_at, "updated_at": lot_entries[-1]["at"],
                    "item_id": it.id, "code": lot.code, "owner_id": lot.owner,
                    "facility_id": org.facility_id, "status": status, "status_reason": reason,
                    "origin": "RECEIVED" if producer is None else "PRODUCED",
                    "made_at": lot.made_at,
                    "expires_at": lot.made_at + (365 if it.unit == "gal" else 730) * DAY,
                    "supplier": f"Supplier {it.sku}" if producer is None else None,
                    "supplier_lot_code": f"S{first:07d}-{len(lots_batch)}"
                    if producer is None else None,
                    "unit": it.unit, "quantity_on_hand": final,
                    "quantity_allocated": Decimal(0),
                    "work_order_id": producer.id if producer else None,
                }
            )  # fmt: skip
        yield {LOTS: lots_batch}
        yield {ENTRIES: entries}


def _entries(seed: Seed, lot: SeedLot, org: plant.Org, actor: Any) -> list[dict[str, Any]]:
    """A lot's ledger, in time order: received or produced, then each work order that
    pulled it (rescheduled perhaps, allocated, pulled, perhaps some returned), then an
    adjustment by a count."""
    rng = random.Random(lot.id.int)
    out: list[dict[str, Any]] = []

    def entry(kind: str, at: datetime, on_hand: Decimal, allocated: Decimal = Decimal(0),
              wo: SeedWorkOrder | None = None, **more: Any) -> uuid.UUID:  # fmt: skip
        entry_id = plant.uuid7(at, rng)
        out.append(
            {
                "id": entry_id, "org_id": org.id, "lot_id": lot.id, "kind": kind,
                "on_hand_change": on_hand, "allocated_change": allocated,
                "work_order_id": wo.id if wo else None, "line_item_id": more.get("line_item"),
                "substitution": False, "reverses_id": more.get("reverses"),
                "reference": more.get("reference"), "reason": more.get("reason"),
                "actor_id": actor.user_id, "actor_email": actor.email, "at": at,
            }
        )  # fmt: skip
        return entry_id

    initial = _initial(seed, lot)
    if lot.producer is None:
        entry("RECEIVE", lot.made_at, initial, reference=f"BOL-{lot.code}")
    else:
        wo = seed.work_orders[lot.producer]
        part = q3(initial / REPORTS)
        for r in range(REPORTS):
            amount = part if r < REPORTS - 1 else initial - part * (REPORTS - 1)
            entry("PRODUCE", wo.at + (r + 1) * HOUR, amount, wo=wo, line_item=wo.line_item)
    last = out[-1]["at"]
    for p in lot.uses:
        pair = seed.pairs[p]
        wo = seed.work_orders[pair.work_order]
        q = pair.quantity
        if pair.churn:
            entry("ALLOCATE", wo.at - 5 * HOUR, Decimal(0), q, wo=wo)
            entry("RELEASE", wo.at - 4 * HOUR, Decimal(0), -q, wo=wo, reason="unscheduled")
        entry("ALLOCATE", wo.at - 3 * HOUR, Decimal(0), q, wo=wo)
        if pair.split:
            first = q3(q * Decimal("0.6"))
            entry("PULL", wo.at + timedelta(minutes=10), -first, -first, wo=wo)
            pulled = entry("PULL", wo.at + timedelta(minutes=40), first - q, first - q, wo=wo)
        else:
            pulled = entry("PULL", wo.at + timedelta(minutes=10), -q, -q, wo=wo)
        if pair.returned:
            entry("RETURN", wo.at + 5 * HOUR, pair.returned, wo=wo, reverses=pulled,
                  reason="left over")  # fmt: skip
        last = max(last, out[-1]["at"])
    if lot.adjust:
        entry("ADJUST", last + HOUR, -lot.adjust, reason="cycle count")
    out.sort(key=lambda e: e["at"])
    return out


def verify_ledger(engine: Engine) -> dict[str, int]:
    """Every lot's balances are the sums of its entries, and no running balance goes below
    zero or below what is allocated: the counts of lots that break each (all 0)."""
    checks = {
        "balance_differs": """
            SELECT COUNT(*) FROM lots l JOIN (
                SELECT lot_id, SUM(on_hand_change) AS h, SUM(allocated_change) AS a
                FROM inventory_entries GROUP BY lot_id) s ON s.lot_id = l.id
            WHERE s.h <> l.quantity_on_hand OR s.a <> l.quantity_allocated""",
        "running_below": """
            SELECT COUNT(*) FROM (
                SELECT SUM(on_hand_change) OVER w AS h, SUM(allocated_change) OVER w AS a
                FROM inventory_entries
                WINDOW w AS (PARTITION BY lot_id ORDER BY at, id)) r
            WHERE r.h < 0 OR r.a < 0 OR r.a > r.h""",
        "lots_without_entries": """
            SELECT COUNT(*) FROM lots l WHERE NOT EXISTS (
                SELECT 1 FROM inventory_entries e WHERE e.lot_id = l.id)""",
    }
    with engine.connect() as conn:
        return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in checks.items()}


# --- the trace by hand --------------------------------------------------------------------------

# The product's walk written out (tracing._walk_statement), its kinds bound as the
# product binds them: rows (via, lot, next) from the root, each step from a work order to
# the lots of its `into` entries and on to the work orders of their `out` entries, UNION (a
# row once made is not walked again); then, for every (lot, work order) pair met, the sum of
# its PULL and RETURN entries and that of its PRODUCE entries, each looked up from the pair.
WALK_SQL = """
WITH RECURSIVE walk(via_wo, lot_id, next_wo) AS (
    SELECT CAST(NULL AS {uuid}), l.id, f.work_order_id
    FROM lots l LEFT JOIN inventory_entries f ON f.lot_id = l.id AND f.kind = {p}
    WHERE l.id = {p} AND l.org_id = {p}
  UNION
    SELECT s.next_wo, i.lot_id, o.work_order_id
    FROM walk s
    JOIN inventory_entries i ON i.work_order_id = s.next_wo AND i.kind = {p}
    LEFT JOIN inventory_entries o ON o.lot_id = i.lot_id AND o.kind = {p}
),
pairs(lot_id, work_order_id) AS (
    SELECT lot_id, via_wo FROM walk WHERE via_wo IS NOT NULL
  UNION
    SELECT lot_id, next_wo FROM walk WHERE next_wo IS NOT NULL
)
SELECT pairs.lot_id, pairs.work_order_id,
    (SELECT SUM(e.on_hand_change) FROM inventory_entries e
     WHERE e.lot_id = pairs.lot_id AND e.kind IN ({p}, {p})
       AND e.work_order_id = pairs.work_order_id),
    (SELECT SUM(e.on_hand_change) FROM inventory_entries e
     WHERE e.lot_id = pairs.lot_id AND e.kind IN ({p})
       AND e.work_order_id = pairs.work_order_id)
FROM pairs
"""
LOT_FACTS_SQL = """
SELECT l.id, l.code, l.item_id, i.sku, i.name, i.gtin, l.unit, l.status, l.origin,
       l.owner_id, c.name, f.name, l.supplier, l.supplier_lot_code, l.made_at, l.expires_at,
       l.quantity_on_hand,
       (SELECT MAX(r.reference) FROM inventory_entries r
        WHERE r.lot_id = l.id AND r.kind = 'RECEIVE')
FROM lots l JOIN items i ON i.id = l.item_id JOIN facilities f ON f.id = l.facility_id
LEFT JOIN customers c ON c.id = l.owner_id
WHERE {plus}l.org_id = {p} AND l.id IN ({ids})
"""
WORK_ORDER_FACTS_SQL = """
SELECT w.id, w.number, w.state, w.item_id, i.sku, i.name, w.unit, w.production_order_id,
       po.number, po.owner_id, c.name
FROM work_orders w JOIN items i ON i.id = w.item_id
LEFT JOIN production_orders po ON po.id = w.production_order_id
LEFT JOIN customers c ON c.id = po.owner_id
WHERE {plus}w.org_id = {p} AND w.id IN ({ids})
"""


class RawTrace:
    """The trace's statements through the driver, on one connection held open."""

    def __init__(self, engine: Engine, org_id: uuid.UUID) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.db: Any = self.raw.driver_connection
        self.p = "?" if self.sqlite else "%s"
        self.org = self.id(org_id)
        self.walk = WALK_SQL.format(uuid="CHAR(32)" if self.sqlite else "uuid", p=self.p)

    def args(self, lot_id: uuid.UUID, direction: str) -> tuple[Any, ...]:
        out, into = ("PRODUCE", "PULL") if direction == "backward" else ("PULL", "PRODUCE")
        return (out, self.id(lot_id), self.org, into, out, "PULL", "RETURN", "PRODUCE")

    def id(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def walk_rows(self, lot_id: uuid.UUID, direction: str) -> list[Any]:
        cur = self.db.cursor()
        cur.execute(self.walk, self.args(lot_id, direction))
        found = cur.fetchall()
        cur.close()
        if not self.sqlite:
            self.db.rollback()  # (a request's transaction ends; no snapshot kept open)
        return cast(list[Any], found)

    def trace(self, lot_id: uuid.UUID, direction: str) -> tuple[set[Any], set[Any]]:
        """The walk, then the facts of every lot and work order it met (of a flow of more
        than nothing: pulled less returned, produced): their ids."""
        cur = self.db.cursor()
        cur.execute(self.walk, self.args(lot_id, direction))
        lots, wos = {self.id(lot_id)}, set()
        for lot, wo, pulled, produced in cur.fetchall():
            if (pulled or 0) < 0 or (produced or 0) > 0:
                lots.add(lot)
                wos.add(wo)
        facts = []
        for sql, ids in ((LOT_FACTS_SQL, lots), (WORK_ORDER_FACTS_SQL, wos)):
            if ids:
                marks = ", ".join(self.p for _ in ids)
                # (on SQLite `+org_id`: the lots by id, not the organisation's walked through)
                plus = "+" if self.sqlite else ""
                cur.execute(sql.format(p=self.p, ids=marks, plus=plus), (self.org, *ids))
                facts.append(cur.fetchall())
        cur.close()
        if not self.sqlite:
            self.db.rollback()
        return {r[0] for r in facts[0]}, {r[0] for r in facts[1]} if len(facts) > 1 else set()

    def close(self) -> None:
        self.raw.close()


DIRECTIONS: tuple[Direction, Direction] = ("backward", "forward")


def traceable(engine: Engine, org_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The lots to trace, in id order: the finished ones (backward), and the received lots of
    ingredients that went into something (forward: a recall)."""
    with engine.connect() as conn:
        org = org_id.hex if engine.dialect.name == "sqlite" else org_id
        found: list[list[uuid.UUID]] = []
        for sql in (
            "SELECT l.id FROM lots l JOIN items i ON i.id = l.item_id "
            "WHERE l.org_id = :org AND i.sku LIKE :sku ORDER BY l.id",
            "SELECT l.id FROM lots l JOIN items i ON i.id = l.item_id "
            "WHERE l.org_id = :org AND i.sku LIKE :sku AND EXISTS (SELECT 1 FROM "
            "inventory_entries e WHERE e.lot_id = l.id AND e.kind = 'PULL') ORDER BY l.id",
        ):
            sku = f"L{LEVELS}-%" if not found else "ING-%"
            ids = conn.execute(text(sql), {"org": org, "sku": sku}).scalars()
            found.append([i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in ids])
    return found[0], found[1]


def bench_trace(
    engine: Engine, org: plant.Org, actor: Any, traced: int, rng: random.Random
) -> dict[str, Any]:
    factory = create_session_factory(engine)
    finished, used = traceable(engine, org.id)
    raw = RawTrace(engine, org.id)
    result: dict[str, Any] = {}
    try:
        for direction, pool in zip(DIRECTIONS, (finished, used), strict=True):
            sample = rng.sample(pool, min(traced, len(pool)))
            ours_ms: list[float] = []
            raw_ms: list[float] = []
            walk_ms: list[float] = []
            sizes: list[int] = []

            def ours(lot_id: uuid.UUID, direction: Direction = direction) -> Any:
                with factory() as session:
                    return tracing.trace(session, actor, lot_id, direction)

            for lot_id in sample[:5]:  # warm-up: statements compiled, pages cached
                ours(lot_id)
                raw.trace(lot_id, direction)
            for k, lot_id in enumerate(sample):
                turns: list[tuple[str, Callable[[], Any]]] = [
                    ("ours", partial(ours, lot_id)),
                    ("raw", partial(raw.trace, lot_id, direction)),
                ]
                if k % 2:
                    turns.reverse()
                answers: dict[str, Any] = {}
                for name, run in turns:
                    t0 = time.perf_counter()
                    answers[name] = run()
                    (ours_ms if name == "ours" else raw_ms).append(
                        (time.perf_counter() - t0) * 1000
                    )
                t0 = time.perf_counter()
                raw.walk_rows(lot_id, direction)
                walk_ms.append((time.perf_counter() - t0) * 1000)
                out = answers["ours"]
                lot_ids, wo_ids = answers["raw"]
                ours_lots = {raw.id(n.id) for n in out.nodes if n.kind == "lot"}
                ours_wos = {raw.id(n.id) for n in out.nodes if n.kind == "work_order"}
                assert (ours_lots, ours_wos) == (lot_ids, wo_ids), (lot_id, direction)
                sizes.append(len(out.nodes))
            r = {
                "lots_traced": len(sample),
                "nodes_p50": statistics.median(sizes),
                "nodes_max": max(sizes),
                "ours_p50_ms": round(statistics.median(ours_ms), 1),
                "ours_p95_ms": round(plant.p95(ours_ms), 1),
                "raw_p50_ms": round(statistics.median(raw_ms), 1),
                "raw_p95_ms": round(plant.p95(raw_ms), 1),
                "raw_walk_p50_ms": round(statistics.median(walk_ms), 1),
                "raw_walk_p95_ms": round(plant.p95(walk_ms), 1),
            }
            r["ratio_p95"] = round(plant.p95(ours_ms) / plant.p95(raw_ms), 2)
            r["ratio_p50"] = round(statistics.median(ours_ms) / statistics.median(raw_ms), 2)
            r["aim_met"] = r["ours_p95_ms"] < 50 and r["ratio_p95"] <= 2
            what = "finished lots" if direction == "backward" else "received ingredient lots"
            print(
                f"trace {direction} of {len(sample)} {what} ({r['nodes_p50']:.0f} nodes p50, "
                f"{r['nodes_max']} at most): ours p50 {r['ours_p50_ms']:.1f} ms p95 "
                f"{r['ours_p95_ms']:.1f} ms, raw (walk + facts) p50 {r['raw_p50_ms']:.1f} ms "
                f"p95 {r['raw_p95_ms']:.1f} ms, ratio p95 {r['ratio_p95']:.2f} (p50 "
                f"{r['ratio_p50']:.2f}); the raw walk alone p50 {r['raw_walk_p50_ms']:.1f} ms "
                f"p95 {r['raw_walk_p95_ms']:.1f} ms",
                flush=True,
            )
            result[direction] = r
    finally:
        raw.close()
    return result


# --- allocation -------------------------------------------------------------------------------

ALLOCATION_ITEMS = (
    ("ING", "gal", AllocationStrategy.FEFO),
    ("BTL", "ea", AllocationStrategy.FIFO),
    ("CAP", "ea", AllocationStrategy.FIFO),
    ("LBL", "ea", AllocationStrategy.FIFO),
)
LOTS_PER_ITEM = 400
ALLOCATION_CUSTOMERS = 5


@dataclass
class WorkSet:
    name: str
    work_orders: list[uuid.UUID]
    items: list[uuid.UUID]


def seed_allocation(
    engine: Engine, org: plant.Org, actor: Any, sets: int, n: int, now: datetime, rng: random.Random
) -> list[WorkSet]:
    """`sets` sets of `n` SCHEDULED work orders, each set with four items of its own and
    their lots (so that every set starts from the same picture)."""
    factory = create_session_factory(engine)
    out: list[WorkSet] = []
    batches: list[plant.Rows] = []
    customers = org.customers[:ALLOCATION_CUSTOMERS]
    tag = uuid.uuid4().hex[:4].upper()  # (sets of another run in a database kept and reused)
    for s in range(sets):
        name = f"A{tag}{s:02d}"
        with factory() as session, transaction(session):
            made = [
                Item(
                    org_id=org.id, sku=f"{name}-{sku}", name=f"{sku} of set {name}", unit=unit,
                    type=ItemType.RAW_MATERIAL, precision=3, shelf_life_days=365,
                    allocation_strategy=strategy,
                )
                for sku, unit, strategy in ALLOCATION_ITEMS
            ]  # fmt: skip
            session.add_all(made)
            session.flush()
            item_ids = [i.id for i in made]
        sr = random.Random(1)  # the same picture in every set
        rows: plant.Rows = {
            PRODUCTION_ORDERS: [], WORK_ORDERS: [], LINE_ITEMS: [], MATERIALS: [], LOTS: [],
            ENTRIES: [],
        }  # fmt: skip
        wo_ids = []
        need = [Decimal(0)] * len(item_ids)
        first = now + DAY
        for i in range(n):
            start = first + timedelta(minutes=20 * i)
            end = start + 2 * HOUR
            if i % 10 == 0:
                owner = None if (i // 10) % 3 == 0 else customers[(i // 10) % len(customers)]
                po_id = new_id()
                rows[PRODUCTION_ORDERS].append(
                    {
                        "id": po_id, "org_id": org.id, "version": 2, "created_at": now,
                        "updated_at": now, "number": f"PO-{name}-{i // 10:04d}",
                        "state": "SCHEDULED", "owner_id": owner, "reference": None,
                        "due_date": end + DAY, "priority": 50, "notes": None,
                    }
                )  # fmt: skip
            wo_id = new_id()
            wo_ids.append(wo_id)
            rows[WORK_ORDERS].append(
                {
                    "id": wo_id, "org_id": org.id, "version": 2, "created_at": now,
                    "updated_at": now, "number": f"WO-{name}-{i:05d}", "state": "SCHEDULED",
                    "production_order_id": po_id, "item_id": org.items[i % len(org.items)],
                    "quantity": Decimal(1000), "unit": "ea", "instructions": None,
                    "due_date": end + DAY, "priority": 50, "planned_start": start,
                    "planned_end": end, "actual_start": None, "actual_end": None,
                    "quantity_produced": Decimal(0), "quantity_scrapped": Decimal(0),
                    "on_hold": False, "hold_reason": None, "release_at": None, "pinned": False,
                    "bom_version_id": None,
                }
            )  # fmt: skip
            rows[LINE_ITEMS].append(
                {
                    "id": new_id(), "org_id": org.id, "work_order_id": wo_id, "sequence": 1,
                    "operation": "Bottling", "resource_id": org.resources[i % len(org.resources)],
                    "setup_minutes": Decimal(15), "run_minutes_per_unit": Decimal("0.1"),
                    "planned_start": start, "planned_end": end, "actual_start": None,
                    "actual_end": None, "quantity_completed": Decimal(0),
                    "quantity_scrapped": Decimal(0), "status": "PENDING", "interruptible": False,
                }
            )  # fmt: skip
            for position, (item_id, (_, unit, _)) in enumerate(
                zip(item_ids, ALLOCATION_ITEMS, strict=True), start=1
            ):
                amount = (
                    Decimal(sr.randrange(50_000, 300_000)) / 1000
                    if unit == "gal"
                    else Decimal(sr.randrange(500, 2000))
                )
                need[position - 1] += amount
                rows[MATERIALS].append(
                    {
                        "id": new_id(), "org_id": org.id, "work_order_id": wo_id,
                        "position": position, "item_id": item_id, "quantity": amount,
                        "unit": unit, "bom_input_id": None,
                    }
                )  # fmt: skip
        horizon = timedelta(minutes=20 * n) + 2 * HOUR
        for k, item_id in enumerate(item_ids):
            unit = ALLOCATION_ITEMS[k][1]
            # 95 % of what the work needs is AVAILABLE; a few lots more wait for QA or are held
            each = q3(need[k] * Decimal("0.95") / LOTS_PER_ITEM)
            for j in range(LOTS_PER_ITEM + LOTS_PER_ITEM // 20):
                received = now - timedelta(days=sr.randrange(1, 200), minutes=sr.randrange(1440))
                # a lot in ten expires while the fortnight's work is on: later work skips it
                expires = (
                    first + horizon * sr.random() if sr.random() < 0.1 else received + 365 * DAY
                )
                status = "AVAILABLE" if j < LOTS_PER_ITEM else sr.choice(("QUARANTINE", "HOLD"))
                lot_id = new_id()
                owner = sr.choice(customers) if sr.random() < 0.1 else None
                amount = each if unit == "gal" else each.quantize(Decimal(1)) + 1
                rows[LOTS].append(
                    {
                        "id": lot_id, "org_id": org.id, "version": 2, "created_at": received,
                        "updated_at": received, "item_id": item_id,
                        "code": f"{name}-{k}-{j:04d}", "owner_id": owner,
                        "facility_id": org.facility_id, "status": status,
                        "status_reason": "QA pending" if status == "HOLD" else None,
                        "origin": "RECEIVED", "made_at": received, "expires_at": expires,
                        "supplier": "Bench Supplier", "supplier_lot_code": None, "unit": unit,
                        "quantity_on_hand": amount, "quantity_allocated": Decimal(0),
                        "work_order_id": None,
                    }
                )  # fmt: skip
                rows[ENTRIES].append(
                    {
                        "id": new_id(), "org_id": org.id, "lot_id": lot_id, "kind": "RECEIVE",
                        "on_hand_change": amount, "allocated_change": Decimal(0),
                        "work_order_id": None, "line_item_id": None, "substitution": False,
                        "reverses_id": None, "reference": None, "reason": None,
                        "actor_id": actor.user_id, "actor_email": actor.email, "at": received,
                    }
                )  # fmt: skip
        batches.append(rows)
        out.append(WorkSet(name, wo_ids, item_ids))
    plant.write_rows(engine, iter(batches))
    return out


class RawAllocate:
    """Automatic allocation by hand, through the driver, in one transaction."""

    def __init__(self, engine: Engine, org_id: uuid.UUID, actor: Any) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.p = "?" if self.sqlite else "%s"
        self.org = org_id.hex if self.sqlite else org_id
        self.actor = actor

    def id(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def q(self, value: Decimal) -> Any:
        return int(value * 1_000_000) if self.sqlite else value

    def dec(self, value: Any) -> Decimal:
        return Decimal(int(value)) / 1_000_000 if self.sqlite else Decimal(value)

    def at(self, value: Any) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def ts(self, value: datetime) -> Any:
        if self.sqlite:  # as SQLAlchemy writes a DateTime there
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def run(self, wo_ids: Sequence[uuid.UUID]) -> int:
        p = self.p
        raw = self.engine.raw_connection()
        try:
            db: Any = raw.driver_connection
            cur = db.cursor()
            if self.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            ids = sorted(self.id(w) for w in wo_ids)
            if self.sqlite:
                marks = ", ".join(p for _ in ids)
                in_ids, args = f"IN ({marks})", list(ids)
            else:
                in_ids, args = "= ANY(%s)", [ids]
            lock = "" if self.sqlite else " FOR UPDATE OF w"
            cur.execute(
                "SELECT w.id, w.number, w.state, w.planned_start, w.planned_end, w.due_date, "
                "po.owner_id FROM work_orders w LEFT JOIN production_orders po "
                f"ON po.id = w.production_order_id WHERE w.org_id = {p} AND w.id {in_ids} "
                f"ORDER BY w.id{lock}",
                [self.org, *args],
            )
            work = cur.fetchall()
            assert len(work) == len(ids)
            assert all(w[2] in ("DRAFT", "SCHEDULED") for w in work)
            cur.execute(
                "SELECT m.id, m.work_order_id, m.item_id, m.quantity, i.allocation_strategy "
                f"FROM work_order_materials m JOIN items i ON i.id = m.item_id "
                f"WHERE m.work_order_id {in_ids} ORDER BY m.work_order_id, m.position",
                args,
            )
            materials = cur.fetchall()
            cur.execute(
                "SELECT material_id, SUM(quantity) FROM allocations "
                f"WHERE work_order_id {in_ids} GROUP BY material_id",
                args,
            )
            held = {m: self.dec(s) for m, s in cur.fetchall()}
            items = sorted({m[2] for m in materials})
            owners = sorted({w[6] for w in work if w[6] is not None})
            if self.sqlite:
                in_items = f"IN ({', '.join(p for _ in items)})"
                in_owners = f"IN ({', '.join(p for _ in owners)})" if owners else "IN (NULL)"
                more = [*items, *owners]
            else:
                in_items, in_owners, more = "= ANY(%s)", "= ANY(%s)", [items, owners]
            cur.execute(
                "SELECT id, item_id, code, owner_id, expires_at, made_at, "
                "quantity_on_hand - quantity_allocated FROM lots "
                f"WHERE org_id = {p} AND item_id {in_items} AND status = 'AVAILABLE' "
                "AND quantity_on_hand > quantity_allocated "
                f"AND (owner_id IS NULL OR owner_id {in_owners})",
                [self.org, *more],
            )
            # (id, code, owner, expires, made), each read once, in the strategy's order
            by_item: dict[Any, list[tuple[Any, str, Any, datetime | None, datetime]]]
            by_item = defaultdict(list)
            left: dict[Any, Decimal] = {}
            for lot in cur.fetchall():
                made = cast(datetime, self.at(lot[5]))
                by_item[lot[1]].append((lot[0], lot[2] or "", lot[3], self.at(lot[4]), made))
                left[lot[0]] = self.dec(lot[6])
            strategy = {m[2]: m[4] for m in materials}
            for item, lots in by_item.items():
                if strategy[item] == "FEFO":
                    lots.sort(key=lambda c: (c[3] is None, c[3] or c[4], c[4], c[1], c[0]))
                else:
                    lots.sort(key=lambda c: (c[4], c[3] is None, c[3] or c[4], c[1], c[0]))
            needs: dict[Any, list[Any]] = defaultdict(list)
            for m in materials:
                needs[m[1]].append(m)
            taken: list[tuple[Any, Any, Any, Decimal]] = []  # material, work order, lot, q
            first = dict.fromkeys(by_item, 0)  # each item's first lot with anything left
            far = datetime.max.replace(tzinfo=UTC)
            order = sorted(work, key=lambda w: (self.at(w[3]) or self.at(w[5]) or far, w[1]))
            for w in order:
                until, owner = self.at(w[4]) or self.at(w[5]), w[6]
                for m in needs[w[0]]:
                    wanted = self.dec(m[3]) - held.get(m[0], Decimal(0))
                    lots = by_item[m[2]]
                    k = first.get(m[2], 0)
                    while k < len(lots) and left[lots[k][0]] <= 0:
                        k += 1
                    first[m[2]] = k
                    for lot_id, _, lot_owner, expires, _ in lots[k:]:
                        if wanted <= 0:
                            break
                        if left[lot_id] <= 0 or (lot_owner is not None and lot_owner != owner):
                            continue
                        if expires is not None and until is not None and expires < until:
                            continue
                        quantity = min(left[lot_id], wanted)
                        left[lot_id] -= quantity
                        wanted -= quantity
                        taken.append((m[0], w[0], lot_id, quantity))
            picked = sorted({t[2] for t in taken})
            if self.sqlite:
                in_lots, lot_args = f"IN ({', '.join(p for _ in picked)})", list(picked)
            else:
                in_lots, lot_args = "= ANY(%s)", [picked]
            lock = "" if self.sqlite else " FOR UPDATE"
            cur.execute(
                "SELECT id, quantity_on_hand - quantity_allocated FROM lots "
                f"WHERE org_id = {p} AND id {in_lots} ORDER BY id{lock}",
                [self.org, *lot_args],
            )
            now_left = {r[0]: self.dec(r[1]) for r in cur.fetchall()}
            per_lot: dict[Any, Decimal] = defaultdict(Decimal)
            for t in taken:
                per_lot[t[2]] += t[3]
            assert all(per_lot[lot] <= now_left[lot] for lot in per_lot)  # nobody else here
            now = datetime.now(UTC)
            stamp = self.ts(now)
            actor = (self.id(self.actor.user_id), self.actor.email)
            cur.executemany(
                "INSERT INTO inventory_entries (id, org_id, lot_id, kind, on_hand_change, "
                "allocated_change, work_order_id, line_item_id, substitution, reverses_id, "
                "reference, reason, actor_id, actor_email, at) VALUES "
                f"({p}, {p}, {p}, 'ALLOCATE', {p}, {p}, {p}, NULL, {p}, NULL, NULL, NULL, {p}, "
                f"{p}, {p})",
                [
                    (self.id(new_id()), self.org, lot, self.q(Decimal(0)), self.q(quantity), wo,
                     False, *actor, stamp)
                    for _, wo, lot, quantity in taken
                ],
            )  # fmt: skip
            cur.executemany(
                "INSERT INTO allocations (id, org_id, work_order_id, material_id, lot_id, "
                f"quantity, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                [
                    (self.id(new_id()), self.org, wo, material, lot, self.q(quantity), stamp)
                    for material, wo, lot, quantity in taken
                ],
            )
            cur.executemany(
                f"UPDATE lots SET quantity_allocated = quantity_allocated + {p}, "
                f"version = version + 1, updated_at = {p} WHERE id = {p}",
                [(self.q(quantity), stamp, lot) for lot, quantity in sorted(per_lot.items())],
            )
            touched = sorted({t[1] for t in taken})
            if self.sqlite:
                in_touched, touched_args = f"IN ({', '.join(p for _ in touched)})", touched
            else:
                in_touched, touched_args = "= ANY(%s)", [touched]
            cur.execute(
                f"UPDATE work_orders SET version = version + 1, updated_at = {p} "
                f"WHERE id {in_touched}",
                [stamp, *touched_args],
            )
            lots_of: dict[Any, list[dict[str, str]]] = defaultdict(list)
            for _, wo, lot, quantity in taken:
                lots_of[wo].append({"lot_id": str(lot), "quantity": str(quantity)})
            cur.executemany(
                "INSERT INTO events (id, org_id, entity_type, entity_id, parent_id, action, "
                "from_state, to_state, actor_id, actor_email, at, reason, changes) VALUES "
                f"({p}, {p}, 'work_order', {p}, NULL, 'allocate', NULL, NULL, {p}, {p}, {p}, "
                f"NULL, {p})",
                [
                    (self.id(new_id()), self.org, wo, *actor, stamp,
                     self.json({"allocated": lots_of[wo]}))
                    for wo in touched
                ],
            )  # fmt: skip
            if self.sqlite:
                cur.execute("COMMIT")
            else:
                db.commit()
            return len(taken)
        finally:
            raw.close()


def allocated_by_position(engine: Engine, ws: WorkSet) -> tuple[int, list[Decimal]]:
    """How many allocations a set got, and how much of each of its items."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        count = 0
        totals = []
        for item_id in ws.items:
            n, total = conn.execute(
                text(
                    "SELECT COUNT(*), COALESCE(SUM(a.quantity), 0) FROM allocations a "
                    "JOIN lots l ON l.id = a.lot_id WHERE l.item_id = :item"
                ),
                {"item": item_id.hex if sqlite else item_id},
            ).one()
            count += n
            totals.append(Decimal(int(total)) / 1_000_000 if sqlite else Decimal(total))
    return count, totals


def bench_allocate(
    engine: Engine, org: plant.Org, actor: Any, n: int, repeat: int, now: datetime
) -> dict[str, Any]:
    rng = random.Random(3)
    t0 = time.perf_counter()
    sets = seed_allocation(engine, org, actor, 2 * repeat + 2, n, now, rng)
    print(
        f"seeded {len(sets)} sets of {n:,} scheduled work orders ({4 * n:,} materials, "
        f"{len(ALLOCATION_ITEMS) * (LOTS_PER_ITEM * 21 // 20):,} lots a set) in "
        f"{time.perf_counter() - t0:.0f} s; VACUUM ANALYZE in "
        f"{plant.vacuum_analyze(engine):.0f} s",
        flush=True,
    )
    factory = create_session_factory(engine)
    raw = RawAllocate(engine, org.id, actor)

    def ours(ws: WorkSet) -> int:
        with factory() as session:
            return allocating.allocate_many(session, actor, ws.work_orders)

    def by_hand(ws: WorkSet) -> int:
        return raw.run(ws.work_orders)

    # warm-up: the first set of each, untimed
    ours(sets[0])
    by_hand(sets[1])
    ours_ms: list[float] = []
    raw_ms: list[float] = []
    made: dict[str, int] = {}
    for r in range(repeat):
        mine, theirs = sets[2 + 2 * r], sets[3 + 2 * r]
        turns: list[tuple[str, Callable[[], int]]] = [
            ("ours", partial(ours, mine)),
            ("raw", partial(by_hand, theirs)),
        ]
        if r % 2:
            turns.reverse()
        for name, run in turns:
            t0 = time.perf_counter()
            made[name] = run()
            (ours_ms if name == "ours" else raw_ms).append((time.perf_counter() - t0) * 1000)
        ours_got = allocated_by_position(engine, mine)
        raw_got = allocated_by_position(engine, theirs)
        assert ours_got == raw_got, (ours_got, raw_got)
    needed = ours_got
    result: dict[str, Any] = {
        "work_orders": n,
        "allocations": needed[0],
        "allocated_by_item": [str(x) for x in needed[1]],
        "ours_p50_ms": round(statistics.median(ours_ms), 1),
        "ours_max_ms": round(max(ours_ms), 1),
        "raw_p50_ms": round(statistics.median(raw_ms), 1),
        "raw_max_ms": round(max(raw_ms), 1),
        "runs": repeat,
    }
    result["ratio"] = round(statistics.median(ours_ms) / statistics.median(raw_ms), 2)
    result["aim_met"] = result["ours_max_ms"] < 2000
    print(
        f"allocate {n:,} scheduled work orders in one call ({needed[0]:,} allocations, "
        f"{repeat} runs each): ours p50 {result['ours_p50_ms']:.0f} ms max "
        f"{result['ours_max_ms']:.0f} ms, raw p50 {result['raw_p50_ms']:.0f} ms max "
        f"{result['raw_max_ms']:.0f} ms, ratio {result['ratio']:.2f}",
        flush=True,
    )
    return result


# --- the command ------------------------------------------------------------------------------


def seeded_org(engine: Engine) -> plant.Org:
    """The organisation a run before seeded (and kept), as `reference_data` made it."""
    factory = create_session_factory(engine)
    with factory() as session:
        org_id = session.scalars(
            select(Organisation.id).where(Organisation.name == "Bench Co-Packing")
        ).one()
        org = plant.Org(id=org_id, name="Bench Co-Packing", work_orders=0)
        org.facility_id = session.scalars(
            select(Facility.id).where(Facility.org_id == org_id).order_by(Facility.id)
        ).first()
        org.items = list(
            session.scalars(
                select(Item.id)
                .where(Item.org_id == org_id, Item.sku.like("SKU-%"))
                .order_by(Item.sku)
            )
        )
        org.resources = list(
            session.scalars(
                select(Resource.id).where(Resource.org_id == org_id).order_by(Resource.code)
            )
        )
        org.customers = list(
            session.scalars(
                select(Customer.id).where(Customer.org_id == org_id).order_by(Customer.code)
            )
        )
    return org


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file")
    parser.add_argument("--bench", default="trace,allocate", help="trace, allocate or both")
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=None, help="default: 10 a lot")
    parser.add_argument("--traced", type=int, default=50, help="lots traced each way")
    parser.add_argument("--work-orders", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="allocation runs of each")
    parser.add_argument("--json", default=None, help="write the numbers here too")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on --database-url as it is, a database seeded before and kept (--keep)",
    )
    args = parser.parse_args()
    benches = set(args.bench.split(","))
    entries = args.entries if args.entries is not None else 10 * args.lots
    summary: dict[str, Any] = {"load_before": plant.load_average()}
    print(f"load average before: {summary['load_before']}", flush=True)
    database = (
        nullcontext(args.database_url)
        if args.reuse
        else plant.scratch_database(args.database_url, keep=args.keep)
    )
    with database as url:
        if args.keep:
            print(f"the scratch database, kept: {url}", flush=True)
        migrate.upgrade(url)
        engine = create_db_engine(url)
        try:
            summary["database"] = engine.dialect.name
            if args.reuse:
                org = seeded_org(engine)
            else:
                org = plant.reference_data(engine, "Bench Co-Packing", 0, planner=True)
            actor = plant.planner_actor(create_session_factory(engine), org)
            now = datetime.now(UTC).replace(microsecond=0)
            if "trace" in benches and not args.reuse:
                t0 = time.perf_counter()
                items = seed_items(engine, org)
                seed = build(items, org, args.lots, entries, now, seed=1)
                plant.write_rows(engine, rows(seed, org, actor, now))
                seeded = time.perf_counter() - t0
                analyzed = plant.vacuum_analyze(engine)
                t0 = time.perf_counter()
                problems = verify_ledger(engine)
                summary["seed"] = {
                    "lots": len(seed.lots),
                    "work_orders": len(seed.work_orders),
                    "pairs": len(seed.pairs),
                    "entries": seed.counts,
                    "entries_total": sum(seed.counts.values()),
                    "seconds": round(seeded),
                    "ledger_problems": problems,
                }
                print(
                    f"seeded {len(seed.lots):,} lots, {sum(seed.counts.values()):,} ledger "
                    f"entries {seed.counts}, {len(seed.work_orders):,} work orders in "
                    f"{seeded:.0f} s (VACUUM ANALYZE {analyzed:.0f} s); ledger checked in "
                    f"{time.perf_counter() - t0:.0f} s: {problems}",
                    flush=True,
                )
                assert not any(problems.values()), problems
            if "trace" in benches:
                summary["trace"] = bench_trace(engine, org, actor, args.traced, random.Random(5))
            if "allocate" in benches:
                summary["allocate"] = bench_allocate(
                    engine, org, actor, args.work_orders, args.repeat, now
                )
        finally:
            engine.dispose()
    summary["load_after"] = plant.load_average()
    print(f"load average after: {summary['load_after']}", flush=True)
    print(json.dumps(summary, indent=2, default=str), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summary, out, indent=2, default=str)


if __name__ == "__main__":
    main()
