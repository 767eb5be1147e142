"""Traceability: a lot's genealogy backward (what went into it, down to the received lots
and their suppliers) or forward (everything it went into, up to the finished lots), the
recall that follows from the forward one, and the FSMA 204 export of the key data elements
of receiving and transformation events.

A trace is one recursive query (`WITH RECURSIVE`, the same statement on SQLite and
PostgreSQL) over the ledger, whatever the depth, and then two statements for the details of
the lots and work orders it found (one more per 5,000 nodes beyond). The walk's rows are
(via, lot, next): a lot, the work order the walk came to it from, and one that it leads to
(backward: that produced it; forward: that pulled it). They are joined with UNION, not
UNION ALL, so a row the walk has made once is never walked again: there are only so many
such rows, and a cycle in the data (a lot that says it is its own ancestor) ends the walk
like everything else. Depths come afterwards, from the flows (`genealogy.walk`)."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    func,
    null,
    or_,
    select,
    union,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from taktline.db import Id
from taktline.errors import FieldError, NotFound, ValidationProblem
from taktline.inventory import genealogy
from taktline.inventory.genealogy import (
    CsvFile,
    Direction,
    EntrySum,
    Genealogy,
    LotFacts,
    Receipt,
    Transformation,
    Used,
    WorkOrderFacts,
)
from taktline.inventory.kinds import EntryKind
from taktline.inventory.models import InventoryEntry, Lot
from taktline.inventory.schemas import TraceOut
from taktline.items.models import Item
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.orders.reading import unindexed
from taktline.orgs.models import Customer, Facility
from taktline.permissions import Actor, authorize

ENTRIES = cast(Table, InventoryEntry.__table__)
LOTS = cast(Table, Lot.__table__)
ITEMS = cast(Table, Item.__table__)
FACILITIES = cast(Table, Facility.__table__)
WORK_ORDERS = cast(Table, WorkOrder.__table__)

# Ids per statement of node details: well inside SQLite's 32,766 bound parameters.
CHUNK = 5000


def _walk_statement(direction: Direction) -> Select[Any]:
    """The trace's one recursive query: for every (lot, work order) pair the walk from lot
    `:root` (of organisation `:org`) meets, the sum of their PULL and RETURN entries (what
    was pulled, negative) and of their PRODUCE entries.

    Backward, a lot leads to the work orders of its PRODUCE entries, and a work order to the
    lots of its PULL entries; forward, the other way round. Each step goes down an index:
    (lot_id, kind, work_order_id) from a lot, (work_order_id, kind, lot_id) from a work order.
    """
    out_kind, in_kind = (
        (EntryKind.PRODUCE, EntryKind.PULL)
        if direction == "backward"
        else (EntryKind.PULL, EntryKind.PRODUCE)
    )
    first = ENTRIES.alias("first_step")
    anchor = (
        select(
            sql_cast(null(), Id()).label("via_wo"),
            LOTS.c.id.label("lot_id"),
            first.c.work_order_id.label("next_wo"),
        )
        .select_from(
            LOTS.outerjoin(first, and_(first.c.lot_id == LOTS.c.id, first.c.kind == out_kind))
        )
        .where(LOTS.c.id == bindparam("root"), LOTS.c.org_id == bindparam("org"))
    )
    walk = anchor.cte("walk", recursive=True)
    seen = walk.alias("seen")
    into = ENTRIES.alias("into_lot")  # from a work order to a lot
    onward = ENTRIES.alias("onward")  # from that lot to the work orders beyond it
    step = select(seen.c.next_wo, into.c.lot_id, onward.c.work_order_id).select_from(
        seen.join(
            into, and_(into.c.work_order_id == seen.c.next_wo, into.c.kind == in_kind)
        ).outerjoin(onward, and_(onward.c.lot_id == into.c.lot_id, onward.c.kind == out_kind))
    )
    walk = walk.union(step)
    pairs = union(
        select(walk.c.lot_id, walk.c.via_wo.label("work_order_id")).where(
            walk.c.via_wo.is_not(None)
        ),
        select(walk.c.lot_id, walk.c.next_wo.label("work_order_id")).where(
            walk.c.next_wo.is_not(None)
        ),
    ).cte("pairs")

    # Each pair's sums, looked up from the pair (down the (lot_id, kind, work_order_id)
    # index): a join would let a planner that cannot tell how few pairs there are scan the
    # whole ledger instead.
    def total(kinds: Sequence[EntryKind]) -> Any:
        e = ENTRIES.alias()
        return (
            select(func.sum(e.c.on_hand_change))
            .where(
                e.c.lot_id == pairs.c.lot_id,
                e.c.kind.in_(kinds),
                e.c.work_order_id == pairs.c.work_order_id,
            )
            .correlate(pairs)
            .scalar_subquery()
        )

    return select(
        pairs.c.lot_id,
        pairs.c.work_order_id,
        total([EntryKind.PULL, EntryKind.RETURN]).label("pulled"),
        total([EntryKind.PRODUCE]).label("produced"),
    )


# Built once: the same two statements for every trace.
WALKS: dict[Direction, Select[Any]] = {d: _walk_statement(d) for d in ("backward", "forward")}

_RECEIPT_REFERENCE = (
    select(func.max(ENTRIES.c.reference))
    .where(ENTRIES.c.lot_id == Lot.id, ENTRIES.c.kind == EntryKind.RECEIVE)
    .correlate(Lot)
    .scalar_subquery()
)
_LOT_FACTS = (
    select(
        Lot.id, Lot.code, Lot.item_id, Item.sku, Item.name, Item.gtin, Lot.unit, Lot.status,
        Lot.origin, Lot.owner_id, Customer.name, Facility.name, Lot.supplier,
        Lot.supplier_lot_code, Lot.made_at, Lot.expires_at, Lot.quantity_on_hand,
        _RECEIPT_REFERENCE,
    )
    .join(Item, Item.id == Lot.item_id)
    .join(Facility, Facility.id == Lot.facility_id)
    .outerjoin(Customer, Customer.id == Lot.owner_id)
    # (the organisation as a check, not a way in: SQLite would walk all its lots by it)
    .where(unindexed(Lot.org_id) == bindparam("org"), Lot.id.in_(bindparam("ids", expanding=True)))
)  # fmt: skip
_WORK_ORDER_FACTS = (
    select(
        WorkOrder.id, WorkOrder.number, WorkOrder.state, WorkOrder.item_id, Item.sku, Item.name,
        WorkOrder.unit, WorkOrder.production_order_id, ProductionOrder.number,
        ProductionOrder.owner_id, Customer.name,
    )
    .join(Item, Item.id == WorkOrder.item_id)
    .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
    .outerjoin(Customer, Customer.id == ProductionOrder.owner_id)
    .where(
        unindexed(WorkOrder.org_id) == bindparam("org"),
        WorkOrder.id.in_(bindparam("ids", expanding=True)),
    )
)  # fmt: skip


@dataclass(frozen=True)
class Traced:
    """A genealogy with the facts of its lots and work orders."""

    genealogy: Genealogy
    lots: dict[uuid.UUID, LotFacts]
    work_orders: dict[uuid.UUID, WorkOrderFacts]

    def label(self) -> dict[uuid.UUID, str]:
        return {
            **{i: lot.label for i, lot in self.lots.items()},
            **{i: wo.number for i, wo in self.work_orders.items()},
        }


def _chunks(ids: Sequence[uuid.UUID]) -> list[list[uuid.UUID]]:
    ordered = sorted(ids)
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)] or [[]]


def traced(session: Session, actor: Actor, lot_id: uuid.UUID, direction: Direction) -> Traced:
    """The lot's genealogy one way, at every depth: the walk, then the facts of what it met.
    Another organisation's lot is not found, as an unknown one."""
    authorize(actor, "lot.read")
    sql = session.connection()  # (Core statements: none of the ORM's work per execution)
    rows = sql.execute(WALKS[direction], {"root": lot_id, "org": actor.org_id}).all()
    sums = [
        EntrySum(r.lot_id, r.work_order_id, kind, total)
        for r in rows
        for kind, total in ((genealogy.PULL, r.pulled), (genealogy.PRODUCE, r.produced))
        if total is not None
    ]
    g = genealogy.walk(lot_id, direction, sums)
    lots: dict[uuid.UUID, LotFacts] = {}
    for chunk in _chunks(g.lots()):
        lot_rows: Any = sql.execute(_LOT_FACTS, {"org": actor.org_id, "ids": chunk})
        lots.update((row[0], LotFacts(*row)) for row in lot_rows)
    if lot_id not in lots:
        raise NotFound("lot", lot_id)
    work_orders: dict[uuid.UUID, WorkOrderFacts] = {}
    if g.work_orders():
        for chunk in _chunks(g.work_orders()):
            wo_rows: Any = sql.execute(_WORK_ORDER_FACTS, {"org": actor.org_id, "ids": chunk})
            work_orders.update((row[0], WorkOrderFacts(*row)) for row in wo_rows)
    return Traced(g, lots, work_orders)


def trace(session: Session, actor: Actor, lot_id: uuid.UUID, direction: Direction) -> TraceOut:
    """The lot's genealogy as nodes (nearest first) and flows (the way material moved).

    The answer is validated once, whole, from plain dicts: one call into pydantic's core
    rather than one (or a `model_construct`, slower still) per node."""
    t = traced(session, actor, lot_id, direction)
    g, label = t.genealogy, t.label()
    nodes: list[dict[str, Any]] = []
    for node_id in genealogy.ordered_nodes(g, label):
        if node_id in t.lots:
            lot = t.lots[node_id]
            nodes.append(
                {
                    "kind": "lot", "id": lot.id, "label": lot.label, "depth": g.depth[node_id],
                    "item_id": lot.item_id, "item_sku": lot.item_sku, "item_name": lot.item_name,
                    "unit": lot.unit, "status": lot.status, "owner_id": lot.owner_id,
                    "owner_name": lot.owner_name, "supplier": lot.supplier,
                    "supplier_lot_code": lot.supplier_lot_code, "made_at": lot.made_at,
                    "expires_at": lot.expires_at, "receipt_reference": lot.receipt_reference,
                }
            )  # fmt: skip
        else:
            wo = t.work_orders[node_id]
            nodes.append(
                {
                    "kind": "work_order", "id": wo.id, "label": wo.number,
                    "depth": g.depth[node_id], "item_id": wo.item_id, "item_sku": wo.item_sku,
                    "item_name": wo.item_name, "unit": wo.unit, "status": wo.state,
                    "owner_id": wo.owner_id, "owner_name": wo.owner_name,
                    "production_order_id": wo.production_order_id,
                    "production_order_number": wo.production_order_number,
                }
            )  # fmt: skip
    edges = [
        {"source": f.source, "target": f.target, "quantity": f.quantity,
         "unit": t.lots[f.lot_id].unit}
        for f in genealogy.ordered_flows(g, label)
    ]  # fmt: skip
    return TraceOut.model_validate(
        {"lot_id": lot_id, "direction": direction, "nodes": nodes, "edges": edges}
    )


def recall(session: Session, actor: Actor, lot_id: uuid.UUID) -> CsvFile:
    """Every produced lot the lot reached, at any depth, as CSV (`genealogy.RECALL_COLUMNS`)."""
    t = traced(session, actor, lot_id, "forward")
    rows = genealogy.recall_rows(t.genealogy, t.lots, t.work_orders)
    root = t.lots[lot_id]
    return CsvFile(
        genealogy.write_csv(genealogy.RECALL_COLUMNS, rows),
        len(rows),
        genealogy.filename("recall", root.label),
    )


def find_lot(session: Session, actor: Actor, code: str, item_sku: str | None = None) -> uuid.UUID:
    """The organisation's lot of this code (of the item of this SKU, where two items have a
    lot of the code)."""
    authorize(actor, "lot.read")
    stmt = (
        select(Lot.id, Item.sku)
        .join(Item, Item.id == Lot.item_id)
        .where(Lot.org_id == actor.org_id, Lot.code == code)
    )
    if item_sku is not None:
        stmt = stmt.where(Item.sku == item_sku)
    found = session.execute(stmt.order_by(Item.sku).limit(20)).all()
    if not found:
        where = f" of item {item_sku}" if item_sku is not None else ""
        raise ValidationProblem([FieldError(["lot_code"], f"no lot{where} has the code {code}")])
    if len(found) > 1:
        skus = ", ".join(r.sku for r in found)
        raise ValidationProblem(
            [
                FieldError(
                    ["item_sku"],
                    f"lots of several items have the code {code} ({skus}): give the item's SKU",
                )
            ]
        )
    return found[0].id  # type: ignore[no-any-return]


# --- FSMA 204 -------------------------------------------------------------------------------


def fsma204(
    session: Session,
    actor: Actor,
    start: datetime | None = None,
    end: datetime | None = None,
    lot_code: str | None = None,
) -> CsvFile:
    """The key data elements of the receiving and transformation events Taktline records,
    as CSV (`genealogy.FSMA_COLUMNS`): those of a time range (`start` inclusive, `end` not),
    or those of one traceability lot code (its receipt, the transformation that made it and
    those that used it). Three statements, however many events."""
    authorize(actor, "lot.read")
    _check_scope(start, end, lot_code)
    receipts = _receipts(session, actor, start, end, lot_code)
    transformations = _transformations(session, actor, start, end, lot_code)
    rows = genealogy.fsma_rows(receipts, transformations)
    if lot_code is not None:
        name = genealogy.filename("fsma204", lot_code)
    else:
        assert start is not None
        assert end is not None
        name = genealogy.filename("fsma204", start.date().isoformat(), end.date().isoformat())
    return CsvFile(genealogy.write_csv(genealogy.FSMA_COLUMNS, rows), len(rows), name)


def _check_scope(start: datetime | None, end: datetime | None, lot_code: str | None) -> None:
    if lot_code is not None:
        given = [name for name, v in (("from", start), ("to", end)) if v is not None]
        if given:
            raise ValidationProblem(
                [
                    FieldError(
                        ["query", name],
                        "give either lot_code or a range (from and to), not both",
                    )
                    for name in given
                ]
            )
        return
    if start is None and end is None:
        raise ValidationProblem(
            [
                FieldError(
                    ["query", "from"],
                    "give a range (from and to) or a traceability lot code (lot_code)",
                )
            ]
        )
    if start is None or end is None:
        missing = "from" if start is None else "to"
        raise ValidationProblem(
            [FieldError(["query", missing], "is required with a range: give both from and to")]
        )
    if end <= start:
        raise ValidationProblem([FieldError(["query", "to"], "must be later than from")])


def _receipts(
    session: Session,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    lot_code: str | None,
) -> list[Receipt]:
    """RECEIVE entries of lots with a code (a balance of an item that is not lot-tracked is
    no traceability lot), dated by when the receipt says the lot was received."""
    stmt = (
        select(
            Lot.made_at, Lot.code, Item.sku, Item.name, Item.gtin, ENTRIES.c.on_hand_change,
            Lot.unit, Facility.name, Facility.timezone, Lot.supplier, Lot.supplier_lot_code,
            ENTRIES.c.reference,
        )
        .select_from(ENTRIES)
        .join(Lot, Lot.id == ENTRIES.c.lot_id)
        .join(Item, Item.id == Lot.item_id)
        .join(Facility, Facility.id == Lot.facility_id)
        .where(
            ENTRIES.c.org_id == actor.org_id,
            ENTRIES.c.kind == EntryKind.RECEIVE,
            Lot.org_id == actor.org_id,
            Lot.code.is_not(None),
        )
    )  # fmt: skip
    if lot_code is not None:
        stmt = stmt.where(Lot.code == lot_code)
    else:
        stmt = stmt.where(Lot.made_at >= start, Lot.made_at < end)
    return [Receipt(*r) for r in session.execute(stmt)]


def _transformations(
    session: Session,
    actor: Actor,
    start: datetime | None,
    end: datetime | None,
    lot_code: str | None,
) -> list[Transformation]:
    """Per (work order, lot it made) with something made (net of reversed reports): the
    output, dated by its last report, and every lot-tracked lot the work order used, in one
    statement."""
    made = ENTRIES.alias("made")
    outputs = (
        select(
            made.c.work_order_id,
            made.c.lot_id,
            func.sum(made.c.on_hand_change).label("quantity"),
            func.max(made.c.at).label("completed_at"),
        )
        .where(made.c.org_id == actor.org_id, made.c.kind == EntryKind.PRODUCE)
        .group_by(made.c.work_order_id, made.c.lot_id)
        .having(func.sum(made.c.on_hand_change) > 0)
    )
    if lot_code is not None:
        coded = select(LOTS.c.id).where(LOTS.c.org_id == actor.org_id, LOTS.c.code == lot_code)
        users = select(ENTRIES.c.work_order_id).where(
            ENTRIES.c.lot_id.in_(coded), ENTRIES.c.kind == EntryKind.PULL
        )
        outputs = outputs.where(or_(made.c.lot_id.in_(coded), made.c.work_order_id.in_(users)))
    else:
        # (a transformation completed before `end` made all of its reports before it)
        outputs = outputs.where(made.c.at < end).having(func.max(made.c.at) >= start)
    out = outputs.cte("outputs")
    used = ENTRIES.alias("used")
    in_lot, in_item = LOTS.alias("in_lot"), ITEMS.alias("in_item")
    inputs = (
        select(
            used.c.work_order_id,
            used.c.lot_id,
            in_lot.c.code,
            in_lot.c.unit,
            in_item.c.sku,
            in_item.c.name,
            func.sum(used.c.on_hand_change).label("taken"),
        )
        .select_from(used)
        .join(in_lot, in_lot.c.id == used.c.lot_id)
        .join(in_item, in_item.c.id == in_lot.c.item_id)
        .where(
            used.c.kind.in_([EntryKind.PULL, EntryKind.RETURN]),
            used.c.work_order_id.in_(select(out.c.work_order_id)),
            in_lot.c.code.is_not(None),
        )
        .group_by(
            used.c.work_order_id, used.c.lot_id, in_lot.c.code, in_lot.c.unit, in_item.c.sku,
            in_item.c.name,
        )
        .having(func.sum(used.c.on_hand_change) < 0)
    ).cte("inputs")  # fmt: skip
    out_lot, out_item = LOTS.alias("out_lot"), ITEMS.alias("out_item")
    wo = WORK_ORDERS.alias("wo")
    stmt = (
        select(
            out.c.work_order_id, out.c.lot_id, out.c.completed_at, wo.c.number,
            out_lot.c.code, out_item.c.sku, out_item.c.name, out_item.c.gtin, out.c.quantity,
            out_lot.c.unit, FACILITIES.c.name.label("facility"), FACILITIES.c.timezone,
            inputs.c.code.label("input_code"), inputs.c.sku.label("input_sku"),
            inputs.c.name.label("input_name"), inputs.c.taken, inputs.c.unit.label("input_unit"),
        )
        .select_from(
            out.join(out_lot, out_lot.c.id == out.c.lot_id)
            .join(out_item, out_item.c.id == out_lot.c.item_id)
            .join(FACILITIES, FACILITIES.c.id == out_lot.c.facility_id)
            .join(wo, wo.c.id == out.c.work_order_id)
            .outerjoin(inputs, inputs.c.work_order_id == out.c.work_order_id)
        )
        .where(out_lot.c.code.is_not(None))
    )  # fmt: skip
    heads: dict[tuple[uuid.UUID, uuid.UUID], Any] = {}
    used_by: dict[tuple[uuid.UUID, uuid.UUID], list[Used]] = defaultdict(list)
    for r in session.execute(stmt):
        key = (r.work_order_id, r.lot_id)
        heads.setdefault(key, r)
        if r.input_code is not None:
            used_by[key].append(
                Used(r.input_code, r.input_sku, r.input_name, -Decimal(r.taken), r.input_unit)
            )
    return [
        Transformation(
            h.completed_at, h.number, h.code, h.sku, h.name, h.gtin, h.quantity, h.unit,
            h.facility, h.timezone, tuple(used_by[key]),
        )
        for key, h in heads.items()
    ]  # fmt: skip
