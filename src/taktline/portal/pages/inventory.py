"""The stock screens: the inventory (each item's stock), the lots of an item, a lot with its
ledger, its QA decisions, its corrections and its trace, the receive form, and the printable
label of a produced lot with its GS1-128 barcode.

Every page calls the inventory's use cases (inventory.reading, receiving, tracing) and
validates with the API's own schemas; a refused form shows the page again with the problem
in the form's words and the API's status, and nothing changed (each use case is one
transaction). Lists are paged. Times are on the clock of the lot's facility.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import barcode  # type: ignore[import-untyped]  # python-barcode ships no type hints
from barcode.writer import SVGWriter  # type: ignore[import-untyped]
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from taktline.db import utcnow
from taktline.errors import Conflict, FieldError, Problem, ValidationProblem
from taktline.http import SessionDep, encode_cursor
from taktline.inventory import reading as stock
from taktline.inventory import receiving, tracing
from taktline.inventory.kinds import EntryKind, LotOrigin, LotStatus
from taktline.inventory.schemas import (
    AdjustRequest,
    EntryOut,
    LotOut,
    ReceiptCreate,
    ScrapRequest,
    StatusRequest,
    TraceNode,
)
from taktline.permissions import authorize
from taktline.portal import charts, forms, queries
from taktline.portal.format import quantity
from taktline.portal.forms import Filters, Labels, form_errors
from taktline.portal.web import FormDep, PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)

STATUSES = tuple(LotStatus)
# What the stock forms call their fields, in the messages of a refused form.
STOCK_LABELS = Labels(
    {
        "item_id": "item",
        "facility_id": "facility",
        "quantity": "quantity",
        "lot_code": "lot code",
        "expires_at": "expiry",
        "supplier": "supplier",
        "supplier_lot_code": "supplier's lot code",
        "owner_id": "owner (customer)",
        "reference": "reference document",
        "received_at": "received at",
        "reason": "reason",
        "version": "form's version",
    }
)
_QA_DONE = {
    "release": "Lot {code} released: AVAILABLE.",
    "hold": "Lot {code} put on HOLD.",
    "reject": "Lot {code} REJECTED.",
}
# A lot's ledger shown a page at a time.
ENTRIES_PAGE = 50


def _name(lot: LotOut) -> str:
    return lot.code or f"{lot.item_sku} balance"


def _facility_zone(session: Session, user: PortalUser, facility_id: uuid.UUID) -> ZoneInfo:
    """The clock of a lot's facility (the plant's clock if it has none)."""
    found = queries.facilities_by_id(session, user.actor.org_id, [facility_id]).get(facility_id)
    return ZoneInfo(found.timezone) if found else user.zone


def _owner_filter(f: Filters) -> tuple[uuid.UUID | None, bool]:
    """The owner filter: a customer's id, "own" (the manufacturer's own stock), or any."""
    raw = f.text("owner")
    if raw is None:
        return None, False
    if raw == "own":
        return None, True
    if not forms.is_uuid(raw):
        f.refuse("owner", "must be one of the choices")
        return None, False
    return uuid.UUID(raw), False


# --- the inventory: each item's stock ------------------------------------------------------


@router.get("/inventory")
def inventory(request: Request, session: SessionDep, user: UserDep) -> Response:
    authorize(user.actor, "lot.read")
    org = user.actor.org_id
    f = Filters(request.query_params, user.zone)
    q = f.text("q")
    status = f.choice("status", STATUSES)
    owner_id, own_only = _owner_filter(f)
    after, limit = f.page()
    rows: list[queries.StockRow] = []
    last = None
    if not f.errors:
        rows, last = queries.stock_by_item(
            session, org, queries.StockFilter(q, status, owner_id, own_only), utcnow(), after, limit
        )
    messages = f.messages()
    return render(
        request,
        "inventory/stock.html",
        user,
        status_code=422 if f.errors else 200,
        rows=rows,
        filters=f.raw,
        errors=messages.fields,
        sentences=dict(messages.summary),
        status_options=[(s.value, s.value) for s in STATUSES],
        owner_options=[("own", "Our own"), *queries.customer_options(session, org)],
        next_url=f.next_url("/inventory", encode_cursor(last) if last else None),
        first_url=f.first_url("/inventory"),
        expiring_days=queries.EXPIRING_DAYS,
        may_receive=user.may("receive", "lot"),
    )


# --- the lots of an item (or of a status, an owner) ------------------------------------------


@router.get("/lots")
def lot_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    actor = user.actor
    authorize(actor, "lot.read")
    f = Filters(request.query_params, user.zone)
    item_id = f.ident("item_id")
    status = f.choice("status", STATUSES)
    owner_id = f.ident("owner_id")
    code = f.text("code", 64)
    after, limit = f.page()
    lots: list[LotOut] = []
    last = None
    if not f.errors:
        try:
            lots, last = stock.list_lots(
                session,
                actor,
                stock.LotFilter(
                    item_id=item_id,
                    status=LotStatus(status) if status else None,
                    owner_id=owner_id,
                    code=code,
                ),
                after,
                limit,
            )
        except ValidationProblem as problem:
            f.refused(problem)
    messages = f.messages()
    item = queries.items_by_id(session, [item_id]).get(item_id) if item_id else None
    facilities = queries.facilities_by_id(session, actor.org_id, {lot.facility_id for lot in lots})
    return render(
        request,
        "inventory/lots.html",
        user,
        status_code=422 if f.errors else 200,
        lots=lots,
        item=item if item is not None and item.org_id == actor.org_id else None,
        facilities=facilities,
        zones={f.id: ZoneInfo(f.timezone) for f in facilities.values()},
        filters=f.raw,
        errors=messages.fields,
        sentences=dict(messages.summary),
        item_options=queries.item_options(session, actor.org_id),
        status_options=[(s.value, s.value) for s in STATUSES],
        customer_options=queries.customer_options(session, actor.org_id),
        next_url=f.next_url("/lots", encode_cursor(last) if last else None),
        first_url=f.first_url("/lots"),
        now=utcnow(),
        may_receive=user.may("receive", "lot"),
    )


# --- a lot ------------------------------------------------------------------------------------


@router.get("/lots/{lot_id}")
def lot_detail(lot_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep) -> Response:
    return _lot_page(request, session, user, lot_id)


@dataclass(frozen=True)
class LedgerLine:
    """A ledger entry as the lot page lists it."""

    entry: EntryOut
    work_order: str | None

    @property
    def change(self) -> str:
        """What it did to on hand (and to what is allocated), signed: "+500", "-120 (-120
        allocated)", with a true minus sign."""
        parts = []
        if self.entry.on_hand_change:
            parts.append(_signed(self.entry.on_hand_change))
        if self.entry.allocated_change:
            said = f"{_signed(self.entry.allocated_change)} allocated"
            parts.append(f"({said})" if parts else said)
        return " ".join(parts) or "0"


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "\N{MINUS SIGN}") + quantity(abs(value))


def _lot_page(
    request: Request,
    session: Session,
    user: PortalUser,
    lot_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
) -> Response:
    actor = user.actor
    lot = stock.get_lot(session, actor, lot_id)
    zone = _facility_zone(session, user, lot.facility_id)
    f = Filters(request.query_params, zone)
    order = f.choice("order", ("newest", "oldest")) or "newest"
    after, limit = f.page()
    entries: list[EntryOut] = []
    last = None
    if not f.errors:
        if order == "oldest":
            entries, last = stock.lot_entries(session, actor, lot.id, after, min(limit, 200))
        else:
            entries, last = queries.lot_entries_newest_first(
                session, lot.id, after, min(limit, 200)
            )
    numbers = queries.work_order_numbers_by_id(
        session, actor.org_id, [lot.work_order_id, *(e.work_order_id for e in entries)]
    )
    facility = queries.facilities_by_id(session, actor.org_id, [lot.facility_id]).get(
        lot.facility_id
    )
    item = queries.items_by_id(session, [lot.item_id]).get(lot.item_id)
    failure = form_errors(problem, STOCK_LABELS, posted)
    messages = f.messages()
    trace = _trace(session, user, lot)
    return render(
        request,
        "inventory/lot.html",
        user,
        status_code=problem.status if problem else (422 if f.errors else 200),
        lot=lot,
        name=_name(lot),
        item=item,
        facility=facility,
        zone=zone,
        ledger=[
            LedgerLine(e, numbers.get(e.work_order_id) if e.work_order_id else None)
            for e in entries
        ],
        order=order,
        next_url=f.next_url(f"/lots/{lot.id}", encode_cursor(last) if last else None),
        first_url=f.first_url(f"/lots/{lot.id}"),
        filter_errors=messages.fields,
        made_by=numbers.get(lot.work_order_id) if lot.work_order_id else None,
        qa_actions=[a for a in lot.allowed_actions if user.may(a, "lot")],
        may_adjust=user.may("adjust", "lot"),
        may_scrap=user.may("scrap", "lot") and lot.quantity_on_hand > 0,
        labelled=lot.origin is LotOrigin.PRODUCED,
        expired=bool(lot.expires_at and lot.expires_at < utcnow() and lot.quantity_on_hand > 0),
        trace=trace,
        trace_drawn=TRACE_NODES_DRAWN,
        problem=problem,
        failure=failure,
        failed=failed,
        posted=posted or {},
        errors=failure.fields,
        kinds=EntryKind,
    )


# Nodes of each direction drawn, nearest first: a lot that reached thousands of finished lots
# draws the nearest of them and says how many more there are.
TRACE_NODES_DRAWN = 60


@dataclass(frozen=True)
class TraceView:
    """The lot's genealogy both ways, as the lot page draws it (and lists it, as a table)."""

    graph: charts.TraceGraph
    flows: list[tuple[str, TraceNode, TraceNode, str]]
    """(direction, from, to, quantity) of every flow drawn."""
    upstream: int
    downstream: int
    left_out: int


def _trace(session: Session, user: PortalUser, lot: LotOut) -> TraceView:
    """Backward (what went into the lot, down to what was received) and forward (what it
    went into), each drawn to TRACE_NODES_DRAWN nodes, in one graph: upstream on the left,
    the lot in the middle, downstream on the right."""
    nodes: list[charts.TraceNodeIn] = []
    edges: list[charts.TraceEdgeIn] = []
    flows: list[tuple[str, TraceNode, TraceNode, str]] = []
    seen: dict[uuid.UUID, TraceNode] = {}
    counts = {"backward": 0, "forward": 0}
    left_out = 0
    for direction in ("backward", "forward"):
        found = tracing.trace(session, user.actor, lot.id, direction)
        others = [n for n in found.nodes if n.id != lot.id]
        counts[direction] = len(others)
        left_out += max(0, len(others) - TRACE_NODES_DRAWN)
        drawn = [n for n in found.nodes if n.id == lot.id] + others[:TRACE_NODES_DRAWN]
        sign = -1 if direction == "backward" else 1
        for n in drawn:
            if n.id in seen:
                continue  # the lot itself, or (in a cycle of the data) a node drawn already
            seen[n.id] = n
            nodes.append(_trace_node(n, sign * n.depth, n.id == lot.id))
        for e in found.edges:
            if e.source in seen and e.target in seen:
                said = f"{quantity(e.quantity)} {e.unit}"
                edges.append(charts.TraceEdgeIn(str(e.source), str(e.target), said))
                flows.append((direction, seen[e.source], seen[e.target], said))
    return TraceView(
        charts.trace_graph(nodes, edges),
        flows,
        counts["backward"],
        counts["forward"],
        left_out,
    )


def _trace_node(n: TraceNode, column: int, root: bool) -> charts.TraceNodeIn:
    item = f"{n.item_sku} · {n.item_name}"
    if n.kind == "lot":
        who = n.supplier or n.owner_name
        status = n.status + (f" · {who}" if who else "")
        title = ", ".join(
            bit
            for bit in (
                f"Lot {n.label}",
                item,
                n.status,
                f"supplier {n.supplier}" if n.supplier else "",
                f"supplier's lot {n.supplier_lot_code}" if n.supplier_lot_code else "",
                f"for {n.owner_name}" if n.owner_name else "",
            )
            if bit
        )
        return charts.TraceNodeIn(
            str(n.id), column, (n.label, item, status), title, f"/lots/{n.id}",
            f"lot lot-{n.status}", root,
        )  # fmt: skip
    order = n.production_order_number
    status = n.status + (f" · {order}" if order else "")
    title = ", ".join(
        bit
        for bit in (
            f"Work order {n.label}",
            item,
            n.status,
            f"production order {order}" if order else "",
            f"for {n.owner_name}" if n.owner_name else "",
        )
        if bit
    )
    return charts.TraceNodeIn(
        str(n.id), column, (n.label, item, status), title, f"/work-orders/{n.id}", "work-order"
    )


def _lot_action(
    request: Request,
    session: Session,
    user: PortalUser,
    lot_id: uuid.UUID,
    fields: dict[str, str],
    failed: str,
    run: Any,
) -> Response:
    posted = dict(fields)
    try:
        version = forms.read_version(fields)
        message = run(version, forms.body_of(fields, user.zone))
    except Problem as problem:
        return _lot_page(
            request, session, user, lot_id, problem=problem, failed=failed, posted=posted
        )
    return redirect(f"/lots/{lot_id}", message)


def _add_qa_route(action: str) -> None:
    def endpoint(
        lot_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
    ) -> Response:
        def run(version: int | None, data: dict[str, Any]) -> str:
            body = forms.validated(StatusRequest, data)
            lot = receiving.change_status(session, user.actor, lot_id, action, body, version)
            return _QA_DONE[action].format(code=lot.code or "balance")

        return _lot_action(request, session, user, lot_id, fields, action, run)

    endpoint.__name__ = f"lot_{action}"
    router.add_api_route(f"/lots/{{lot_id}}/{action}", endpoint, methods=["POST"])


for _action in ("release", "hold", "reject"):
    _add_qa_route(_action)


@router.post("/lots/{lot_id}/adjust")
def lot_adjust(
    lot_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(version: int | None, data: dict[str, Any]) -> str:
        body = forms.validated(AdjustRequest, data)
        lot = receiving.adjust(session, user.actor, lot_id, body, version)
        return (
            f"Lot {lot.code or 'balance'} adjusted by {_signed(body.quantity)} {lot.unit}: "
            f"{quantity(lot.quantity_on_hand)} {lot.unit} on hand."
        )

    return _lot_action(request, session, user, lot_id, fields, "adjust", run)


@router.post("/lots/{lot_id}/scrap")
def lot_scrap(
    lot_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(version: int | None, data: dict[str, Any]) -> str:
        body = forms.validated(ScrapRequest, data)
        lot = receiving.scrap(session, user.actor, lot_id, body, version)
        return (
            f"{quantity(body.quantity)} {lot.unit} of lot {lot.code or 'balance'} scrapped: "
            f"{quantity(lot.quantity_on_hand)} {lot.unit} on hand."
        )

    return _lot_action(request, session, user, lot_id, fields, "scrap", run)


# --- the label of a produced lot ------------------------------------------------------------

# GS1's character set 82, which (10) batch/lot numbers are written in, up to 20 of them.
_GS1_LOT = re.compile(r"""[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}""")


@dataclass(frozen=True)
class Gs1Label:
    """What a produced lot's GS1-128 barcode carries: its element strings (AI, value), as
    printed under the bars (HRI) and as encoded, with the SVG of the bars, and what had to be
    left out and why."""

    elements: list[tuple[str, str]]
    notes: list[str]
    svg: Markup | None

    @property
    def hri(self) -> str:
        return "".join(f"({ai}){value}" for ai, value in self.elements)


def gs1_label(gtin: str | None, lot_code: str | None, expires_on: date | None) -> Gs1Label:
    """(01) GTIN, (17) expiry (YYMMDD) and (10) lot, in that order: the fixed-length element
    strings first, so that the one of variable length comes last and needs no FNC1 after it.
    Whatever is missing or cannot be encoded is left out, with a note saying so."""
    elements: list[tuple[str, str]] = []
    notes: list[str] = []
    if gtin:
        elements.append(("01", gtin))
    else:
        notes.append(
            "The item has no GTIN: the barcode carries the lot and expiry only, (10) and (17). "
            "Give the item its GTIN to add (01)."
        )
    if expires_on is not None:
        elements.append(("17", f"{expires_on:%y%m%d}"))
    else:
        notes.append("The lot has no expiry date: the barcode carries no (17).")
    if lot_code and _GS1_LOT.fullmatch(lot_code):
        elements.append(("10", lot_code))
    elif lot_code:
        notes.append(
            f"The lot code {lot_code} cannot be a GS1 batch number (10), which takes at most 20 "
            "letters, digits and - . / _ and a few other signs: the barcode carries no lot."
        )
    else:
        notes.append("The item is not lot-tracked: the barcode carries no lot.")
    svg = gs1_128_svg("".join(ai + value for ai, value in elements)) if elements else None
    return Gs1Label(elements, notes, svg)


_MM = re.compile(r'="(-?\d+(?:\.\d+)?)mm"')


def gs1_128_svg(data: str) -> Markup:
    """The GS1-128 symbol of `data` (element strings as AI + value, a variable-length one
    followed by FNC1, written "\\xf1", unless it is last) drawn by python-barcode's SVG
    writer, which starts the symbol with FNC1. Its millimetres become user units of a
    viewBox, so that the symbol prints at its size and still scales on a screen; it carries
    no text (the label prints the HRI itself), only bars."""
    symbol = barcode.get("gs1_128", data, writer=SVGWriter())
    raw = symbol.render(
        {
            "module_width": 0.33,
            "module_height": 18.0,
            "quiet_zone": 3.0,
            "write_text": False,
            "compress": False,
        }
    ).decode()
    svg = raw[raw.index("<svg") :]
    size = re.search(r'<svg[^>]*width="([\d.]+)mm" height="([\d.]+)mm"', svg)
    assert size is not None
    width, height = size.group(1), size.group(2)
    body = _MM.sub(r'="\1"', svg[svg.index(">") + 1 :])
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gs1-barcode" width="{width}mm" '
        f'height="{height}mm" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="GS1-128 barcode">'
    )
    # Bars only: no text of ours is inside.
    return Markup(opening + body)


@router.get("/lots/{lot_id}/label")
def lot_label(lot_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep) -> Response:
    lot = stock.get_lot(session, user.actor, lot_id)
    if lot.origin is not LotOrigin.PRODUCED:
        raise Conflict(
            f"Lot {_name(lot)} was received, not produced here: labels are printed for the lots "
            "we make (a received lot keeps its supplier's label)."
        )
    zone = _facility_zone(session, user, lot.facility_id)
    item = queries.items_by_id(session, [lot.item_id])[lot.item_id]
    expires_on = lot.expires_at.astimezone(zone).date() if lot.expires_at else None
    numbers = queries.work_order_numbers_by_id(session, user.actor.org_id, [lot.work_order_id])
    return render(
        request,
        "inventory/label.html",
        user,
        lot=lot,
        name=_name(lot),
        item=item,
        zone=zone,
        expires_on=expires_on,
        made_by=numbers.get(lot.work_order_id) if lot.work_order_id else None,
        label=gs1_label(item.gtin, lot.code, expires_on),
    )


# --- receiving --------------------------------------------------------------------------------


@router.get("/receipts/new")
def receipt_new(request: Request, session: SessionDep, user: UserDep) -> Response:
    values: dict[str, str] = {}
    item_id = request.query_params.get("item_id", "")
    if forms.is_uuid(item_id):
        values["item_id"] = item_id
    facilities = queries.facility_options(session, user.actor.org_id)
    if len(facilities) == 1:
        values["facility_id"] = facilities[0][0]
    return _receipt_form(request, session, user, values)


def _expiry_of(text: str, zone: ZoneInfo) -> str | None:
    """An expiry date as the end of that day on the facility's clock (a lot that expires on
    31 December may still be used that day), in UTC; what is not a date, left as typed."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC).isoformat()


@router.post("/receipts/new")
def receipt_create(
    request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    posted = dict(fields)
    try:
        expires_on = fields.pop("expires_on", "").strip()
        data = forms.body_of(fields, user.zone)
        extra: list[FieldError] = []
        if expires_on:
            facility_id = data.get("facility_id", "")
            zone = (
                _facility_zone(session, user, uuid.UUID(facility_id))
                if forms.is_uuid(facility_id)
                else user.zone
            )
            expires_at = _expiry_of(expires_on, zone)
            if expires_at is None:
                extra.append(FieldError(["body", "expires_at"], "must be a date", "date_parsing"))
            else:
                data["expires_at"] = expires_at
        body = forms.validated(ReceiptCreate, data, extra)
        lot = receiving.receive(session, user.actor, body)
    except Problem as problem:
        return _receipt_form(request, session, user, posted, problem)
    said = f"lot {lot.code}" if lot.code else "the balance at its facility"
    return redirect(
        f"/lots/{lot.id}", f"Received {quantity(body.quantity)} {lot.unit} into {said}."
    )


def _receipt_form(
    request: Request,
    session: Session,
    user: PortalUser,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    # Shown only to a role that may receive: the use case's own refusal.
    authorize(user.actor, "lot.receive")
    org = user.actor.org_id
    failure = form_errors(problem, STOCK_LABELS, values)
    return render(
        request,
        "inventory/receive.html",
        user,
        status_code=problem.status if problem else 200,
        values=values,
        errors=failure.fields,
        failure=failure,
        problem=problem,
        item_options=queries.item_options(session, org),
        facility_options=queries.facility_options(session, org),
        customer_options=queries.customer_options(session, org),
    )
