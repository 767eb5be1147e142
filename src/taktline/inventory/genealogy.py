"""A lot's genealogy as plain data (pure: nothing here touches the web or the database).

The ledger says it all: lot A went into work order W by the PULL entries of (A, W), less
the RETURNs of them; W made lot B by the PRODUCE entries of (B, W). `walk` turns the sums
of those entries, as the trace's one recursive query finds them (`tracing.py`), into the
graph: its **flows** (lot -> work order -> lot, always the way material moves, whichever
way the trace runs), each node's **depth** (the fewest steps from the traced lot) and the
order they are shown in. A flow of nothing (a pull returned in full, a report reversed) is
no genealogy: it is left out, and so is what only it led to.

The rest turns a traced genealogy into rows: the recall (every produced lot a lot reached)
and the FSMA 204 key data elements of receiving and transformation events; `COLUMNS` of each
is its layout, in the order written, and what the docs and the API say of it.
"""

import csv
import io
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Direction = Literal["backward", "forward"]
NodeKind = Literal["lot", "work_order"]

# The ledger's kinds that make genealogy (the values of inventory.models.EntryKind).
PULL, RETURN, PRODUCE = "PULL", "RETURN", "PRODUCE"


class EntrySum(NamedTuple):
    """The sum of the `on_hand_change` of one lot's entries of one kind for one work order
    (PULL and RETURN may come apart or together): from a row of the trace's query."""

    lot_id: uuid.UUID
    work_order_id: uuid.UUID
    kind: str
    on_hand_change: Decimal


class Flow(NamedTuple):
    """Material moving: a lot into a work order (`pulled`, net of returns) or a work order
    into a lot (produced). `quantity` is in the lot's unit, and more than 0."""

    source: uuid.UUID
    target: uuid.UUID
    quantity: Decimal
    pulled: bool

    @property
    def lot_id(self) -> uuid.UUID:
        return self.source if self.pulled else self.target

    @property
    def work_order_id(self) -> uuid.UUID:
        return self.target if self.pulled else self.source


@dataclass(frozen=True)
class Genealogy:
    """What a trace reached from `root`: every node's depth and kind, and every flow between
    them (into the reached nodes backward, out of them forward)."""

    root: uuid.UUID
    direction: Direction
    depth: Mapping[uuid.UUID, int]
    kind: Mapping[uuid.UUID, NodeKind]
    flows: tuple[Flow, ...]

    def lots(self) -> list[uuid.UUID]:
        return [n for n, k in self.kind.items() if k == "lot"]

    def work_orders(self) -> list[uuid.UUID]:
        return [n for n, k in self.kind.items() if k == "work_order"]


def flows_of(sums: Iterable[EntrySum]) -> list[Flow]:
    """The flows the ledger's sums make: per (lot, work order), what was pulled less what
    was returned, and what was produced; those of nothing (or less) left out."""
    pulled: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(Decimal)
    produced: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(Decimal)
    for s in sums:
        pair = (s.lot_id, s.work_order_id)
        if s.kind in (PULL, RETURN):
            pulled[pair] -= s.on_hand_change  # a pull takes (negative), a return gives back
        elif s.kind == PRODUCE:
            produced[pair] += s.on_hand_change
    found = [Flow(lot, wo, q, True) for (lot, wo), q in pulled.items() if q > 0]
    found += [Flow(wo, lot, q, False) for (lot, wo), q in produced.items() if q > 0]
    return found


def walk(root: uuid.UUID, direction: Direction, sums: Iterable[EntrySum]) -> Genealogy:
    """The genealogy of `root` one way: a breadth-first walk over the flows (against them
    backward, along them forward), so each node's depth is its fewest steps from the root
    and a cycle in the data ends the walk like anything else seen before."""
    flows = flows_of(sums)
    kind: dict[uuid.UUID, NodeKind] = {root: "lot"}
    steps: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for f in flows:
        kind.setdefault(f.lot_id, "lot")
        kind.setdefault(f.work_order_id, "work_order")
        if direction == "backward":
            steps[f.target].append(f.source)
        else:
            steps[f.source].append(f.target)
    depth = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for nxt in steps[node]:
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    backward = direction == "backward"
    kept = tuple(f for f in flows if (f.target if backward else f.source) in depth)
    return Genealogy(root, direction, depth, {n: kind[n] for n in depth}, kept)


def ordered_nodes(g: Genealogy, label: Mapping[uuid.UUID, str]) -> list[uuid.UUID]:
    """Nodes nearest first; at one depth by label (then id, for codes shared by items)."""
    return sorted(g.depth, key=lambda n: (g.depth[n], label.get(n, ""), n))


def ordered_flows(g: Genealogy, label: Mapping[uuid.UUID, str]) -> list[Flow]:
    """Flows nearest first (by the depth of their far end), then by their ends' labels."""

    def far(f: Flow) -> int:
        return max(g.depth[f.source], g.depth[f.target])

    return sorted(
        g.flows,
        key=lambda f: (
            far(f),
            label.get(f.source, ""),
            label.get(f.target, ""),
            f.source,
            f.target,
        ),
    )


def branches(
    root: uuid.UUID, direction: Direction, edges: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each node's next nodes the way the trace runs (a tree printed from the root): the
    sources of its flows backward, their targets forward, in the order given."""
    out: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for source, target in edges:
        if direction == "backward":
            out[target].append(source)
        else:
            out[source].append(target)
    out.setdefault(root, [])
    return dict(out)


# --- the facts of nodes, as read for them -----------------------------------------------------


class LotFacts(NamedTuple):
    id: uuid.UUID
    code: str | None
    item_id: uuid.UUID
    item_sku: str
    item_name: str
    item_gtin: str | None
    unit: str
    status: str
    origin: str
    owner_id: uuid.UUID | None
    owner_name: str | None
    facility_name: str
    supplier: str | None
    supplier_lot_code: str | None
    made_at: datetime
    expires_at: datetime | None
    quantity_on_hand: Decimal
    receipt_reference: str | None

    @property
    def label(self) -> str:
        """Its code; a balance (an item that is not lot-tracked) by its item's SKU."""
        return self.code if self.code is not None else self.item_sku


class WorkOrderFacts(NamedTuple):
    id: uuid.UUID
    number: str
    state: str
    item_id: uuid.UUID
    item_sku: str
    item_name: str
    unit: str
    production_order_id: uuid.UUID | None
    production_order_number: str | None
    owner_id: uuid.UUID | None
    owner_name: str | None


# --- CSV files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    help: str


@dataclass(frozen=True)
class CsvFile:
    text: str
    rows: int
    filename: str

    @property
    def content(self) -> bytes:
        """UTF-8 with a byte order mark, which Excel needs to read accents right."""
        return self.text.encode("utf-8-sig")


# A cell a spreadsheet would run as a formula: written after an apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, datetime):
        # (in UTC, with microseconds only when there are any: sorts as text as in time)
        return value.astimezone(UTC).isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def number(value: Decimal) -> str:
    """10000.000000 -> 10000, 2.500 -> 2.5: never exponent notation."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:f}"


def write_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, object]]) -> str:
    """The header, then a line per row; every cell filled as the row gives it, so that the
    file sorts and filters as it is."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c.name)) for c in columns])
    return out.getvalue()


def filename(prefix: str, *parts: str) -> str:
    """A file name of safe characters: recall-AJC-1.csv."""
    name = "-".join(p for p in (prefix, *parts) if p)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") + ".csv"


# --- recall ------------------------------------------------------------------------------------

RECALL_COLUMNS: tuple[Column, ...] = (
    Column("lot_code", "The lot's code (blank: the balance of an item that is not lot-tracked)."),
    Column("item_sku", "Its item's SKU."),
    Column("item_name", "Its item's name."),
    Column("quantity_produced", "How much was made into it (by the work orders reached)."),
    Column("unit", "The unit of both quantities: the lot's."),
    Column(
        "final",
        "`yes`: no work order pulled any of it (a finished lot, or stock still waiting); "
        "`no`: it went on into other work orders, whose lots follow in the file.",
    ),
    Column("status", "QUARANTINE, AVAILABLE, HOLD, REJECTED or DEPLETED, now."),
    Column("quantity_on_hand", "What is left of it now, in `unit`."),
    Column("owner", "The customer it belongs to; blank: the manufacturer's own."),
    Column("production_order", "The number of the production order it was made for."),
    Column("work_order", "The number of the work order that made it."),
    Column("facility", "Where it is."),
    Column("made_at", "When it was made (ISO 8601, UTC)."),
    Column("expires_at", "When it expires (ISO 8601, UTC); blank: never."),
    Column(
        "depth",
        "Steps from the recalled lot: 2 for a lot made from it, 4 for one made from such a "
        "lot, and so on (a work order between each).",
    ),
    Column("lot_id", "The lot's id in Taktline (`GET /api/v1/lots/{id}`)."),
)


def recall_rows(
    g: Genealogy,
    lots: Mapping[uuid.UUID, LotFacts],
    work_orders: Mapping[uuid.UUID, WorkOrderFacts],
) -> list[dict[str, object]]:
    """Every produced lot a forward genealogy reached (the recalled lot itself left out),
    nearest first, then by code."""
    assert g.direction == "forward"
    made: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    makers: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    pulled_from: set[uuid.UUID] = set()
    for f in g.flows:
        if f.pulled:
            pulled_from.add(f.source)
        else:
            made[f.target] += f.quantity
            makers[f.target].add(f.source)
    rows: list[dict[str, object]] = []
    for lot_id in ordered_nodes(g, {n: lots[n].label for n in lots}):
        if lot_id == g.root or g.kind[lot_id] != "lot" or lot_id not in made:
            continue
        lot = lots[lot_id]
        by = sorted((work_orders[w] for w in makers[lot_id]), key=lambda w: w.number)
        orders = sorted({w.production_order_number for w in by if w.production_order_number})
        rows.append(
            {
                "lot_code": lot.code,
                "item_sku": lot.item_sku,
                "item_name": lot.item_name,
                "quantity_produced": made[lot_id],
                "unit": lot.unit,
                "final": lot_id not in pulled_from,
                "status": lot.status,
                "quantity_on_hand": lot.quantity_on_hand,
                "owner": lot.owner_name,
                "production_order": "; ".join(orders),
                "work_order": "; ".join(w.number for w in by),
                "facility": lot.facility_name,
                "made_at": lot.made_at,
                "expires_at": lot.expires_at,
                "depth": g.depth[lot_id],
                "lot_id": lot.id,
            }
        )
    return rows


# --- FSMA 204: the key data elements of critical tracking events ----------------------------

RECEIVING, TRANSFORMATION = "RECEIVING", "TRANSFORMATION"

FSMA_COLUMNS: tuple[Column, ...] = (
    Column(
        "event",
        "`RECEIVING` (21 CFR 1.1345: a lot received) or `TRANSFORMATION` (21 CFR 1.1350: a "
        "new lot made by a work order from the lots it used, one row per lot used).",
    ),
    Column(
        "event_date",
        "The date received, or the date the transformation was completed (its last report), "
        "as YYYY-MM-DD in the facility's time zone.",
    ),
    Column("event_time", "The same moment, ISO 8601 in UTC: sorts the file in time order."),
    Column(
        "traceability_lot_code",
        "The lot received, or the new lot made: its code in Taktline.",
    ),
    Column("product_description", "The item's name."),
    Column("sku", "The item's SKU."),
    Column("gtin", "The item's GTIN, where it has one."),
    Column("quantity", "How much was received, or made into the new lot."),
    Column("unit", "The unit of measure of `quantity`."),
    Column("location", "The facility where it was received, or where it was made."),
    Column(
        "immediate_previous_source",
        "RECEIVING: the supplier it came from (as entered on the receipt).",
    ),
    Column(
        "traceability_lot_code_source",
        "Who assigned the lot's code: RECEIVING, the supplier when the receipt gives the "
        "supplier's lot code, else the facility that received it; TRANSFORMATION, the "
        "facility where it was made.",
    ),
    Column(
        "supplier_lot_code",
        "RECEIVING: the supplier's own lot code, where the receipt gives it (the code the "
        "supplier's records know the lot by).",
    ),
    Column(
        "reference_document_type",
        "`Receipt` (the document the receipt was entered with, e.g. a bill of lading) or "
        "`Work order`.",
    ),
    Column(
        "reference_document_number",
        "The receipt's reference document number (blank if none was entered), or the work "
        "order's number.",
    ),
    Column("input_traceability_lot_code", "TRANSFORMATION: the code of a lot used."),
    Column("input_product_description", "TRANSFORMATION: its item's name."),
    Column("input_sku", "TRANSFORMATION: its item's SKU."),
    Column("input_quantity", "TRANSFORMATION: how much of it was used (pulled, less returns)."),
    Column("input_unit", "TRANSFORMATION: the unit of `input_quantity`."),
)


@dataclass(frozen=True)
class Receipt:
    """A RECEIVE entry of a lot with a code, with what the key data elements need."""

    at: datetime
    lot_code: str
    item_sku: str
    item_name: str
    item_gtin: str | None
    quantity: Decimal
    unit: str
    facility_name: str
    facility_timezone: str
    supplier: str | None
    supplier_lot_code: str | None
    reference: str | None


@dataclass(frozen=True)
class Used:
    """A lot a transformation used."""

    lot_code: str
    item_sku: str
    item_name: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class Transformation:
    """A new lot a work order made (net of reversed reports), and the lots it used."""

    completed_at: datetime
    work_order_number: str
    lot_code: str
    item_sku: str
    item_name: str
    item_gtin: str | None
    quantity: Decimal
    unit: str
    facility_name: str
    facility_timezone: str
    inputs: tuple[Used, ...]


def local_date(moment: datetime, timezone: str) -> str:
    """The date at the facility (UTC where its time zone is unknown)."""
    try:
        zone: ZoneInfo | None = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return moment.astimezone(zone or UTC).date().isoformat()


def fsma_rows(
    receipts: Iterable[Receipt], transformations: Iterable[Transformation]
) -> list[dict[str, object]]:
    """One row per receipt, one per lot used by each transformation (one with the input
    columns blank when it used no lot-tracked stock); every row complete, in time order."""
    rows: list[dict[str, object]] = []
    for r in receipts:
        rows.append(
            {
                "event": RECEIVING,
                "event_date": local_date(r.at, r.facility_timezone),
                "event_time": r.at,
                "traceability_lot_code": r.lot_code,
                "product_description": r.item_name,
                "sku": r.item_sku,
                "gtin": r.item_gtin,
                "quantity": r.quantity,
                "unit": r.unit,
                "location": r.facility_name,
                "immediate_previous_source": r.supplier,
                "traceability_lot_code_source": (
                    r.supplier if r.supplier and r.supplier_lot_code else r.facility_name
                ),
                "supplier_lot_code": r.supplier_lot_code,
                "reference_document_type": "Receipt",
                "reference_document_number": r.reference,
            }
        )
    for t in transformations:
        output: dict[str, object] = {
            "event": TRANSFORMATION,
            "event_date": local_date(t.completed_at, t.facility_timezone),
            "event_time": t.completed_at,
            "traceability_lot_code": t.lot_code,
            "product_description": t.item_name,
            "sku": t.item_sku,
            "gtin": t.item_gtin,
            "quantity": t.quantity,
            "unit": t.unit,
            "location": t.facility_name,
            "traceability_lot_code_source": t.facility_name,
            "reference_document_type": "Work order",
            "reference_document_number": t.work_order_number,
        }
        if not t.inputs:
            rows.append(output)
        for used in sorted(t.inputs, key=lambda u: (u.lot_code, u.item_sku)):
            rows.append(
                {
                    **output,
                    "input_traceability_lot_code": used.lot_code,
                    "input_product_description": used.item_name,
                    "input_sku": used.item_sku,
                    "input_quantity": used.quantity,
                    "input_unit": used.unit,
                }
            )

    def order(row: Mapping[str, object]) -> tuple[datetime, str, str, str, str]:
        moment = row["event_time"]
        assert isinstance(moment, datetime)
        return (
            moment,
            str(row["event"]),
            str(row["traceability_lot_code"]),
            str(row.get("sku") or ""),
            str(row.get("input_traceability_lot_code") or ""),
        )

    rows.sort(key=order)
    return rows
