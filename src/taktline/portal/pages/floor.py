"""The shop floor: pick a resource, then its queue (the work in process first, then in
planned order, 20 a page), with big buttons to start, pause (with a reason), resume, report
quantities on and complete the work, and, on work in process, pull its materials: a lot
code typed or a GS1-128 barcode scanned (read by biip: (10) the lot, (37) the count, (01)
the GTIN, (17) the expiry), confirmed with its quantity; or everything allocated at once.

Its posts are the registry's work order actions, under the floor's own path so that each
comes back to the queue: the same body, the same use case, the same form reading as on the
work order page; the pulls are the inventory's use case (inventory.pulling), the lots read
through inventory.reading.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import biip
from biip.gs1_messages import GS1Message
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline.db import utcnow
from taktline.errors import FieldError, NotFound, Problem, ValidationProblem
from taktline.http import SessionDep
from taktline.inventory import pulling
from taktline.inventory import reading as stock
from taktline.inventory.schemas import LotOut, MaterialOut, PullRequest
from taktline.orders.lifecycle import State
from taktline.orders.models import WorkOrder
from taktline.orders.registry import ON_WORK_ORDERS
from taktline.orders.schemas import ReasonRequest, ReportRequest
from taktline.permissions import authorize
from taktline.portal import forms, queries
from taktline.portal.action_routes import Attempt, add_action_routes
from taktline.portal.format import Fmt, quantity
from taktline.portal.forms import LABELS, FormErrors, Labels, form_errors
from taktline.portal.web import FormDep, PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)

# What an operator does on the floor; planning actions stay on the work order page.
FLOOR_ACTIONS = ("start", "pause", "resume", "complete", "report")
_DONE = {"start": "started", "resume": "resumed", "complete": "completed"}
# How often the shop floor asks whether its queue changed.
POLL_SECONDS = 5
PAUSE_REASONS = (
    "Changeover",
    "Breakdown",
    "Material shortage",
    "Quality check",
    "Cleaning",
    "Break",
)
# Pages of a queue as far as a link may ask for.
MAX_PAGE = 10_000
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/floor", response_class=HTMLResponse)
def floor_index(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    rows = queries.resources(session, org, active_only=True)
    return render(
        request,
        "floor/index.html",
        user,
        rows=rows,
        sizes={rid: waiting for rid, (_, waiting) in queries.queue_sizes(session, org).items()},
    )


def _floor_page(
    request: Request,
    session: Session,
    user: PortalUser,
    resource_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    problem_for: str | None = None,
    typed: Mapping[str, str] | None = None,
    page: int = 1,
    pull: "PullPanel | None" = None,
) -> Response:
    row = queries.resource(session, user.actor, resource_id)
    queue = queries.queue(session, user.actor, resource_id, page)
    entries = queue.entries
    # The materials of the work that is (or is about to be) on the line: what to pull.
    staged = {
        e.work_order.id
        for e in entries
        if e.work_order.state in (State.SCHEDULED, State.IN_PROCESS)
    }
    materials = stock.materials_of_work_orders(
        session, user.actor, queries.work_orders_by_id(session, user.actor.org_id, staged)
    )
    stamp = queries.stamp_of(
        ((e.work_order.id, e.work_order.version) for e in entries), queue.queued
    )
    # The first card of each work order carries its anchor: actions return to it.
    anchors: dict[uuid.UUID, uuid.UUID] = {}
    for e in entries:
        anchors.setdefault(e.work_order.id, e.line_item.id)
    failure = form_errors(problem, LABELS, typed)
    return render(
        request,
        "floor/resource.html",
        user,
        status_code=problem.status if problem else 200,
        fmt=Fmt(user.zone),
        row=row,
        resource=row.resource,
        entries=entries,
        queue=queue,
        waiting=queue.waiting,
        stamp=stamp,
        stamp_url=f"/floor/{resource_id}/stamp" + (f"?page={page}" if page > 1 else ""),
        page_url=lambda n: f"/floor/{resource_id}" + (f"?page={n}" if n > 1 else ""),
        anchors=anchors,
        poll_ms=POLL_SECONDS * 1000,
        may_operate=user.may("start"),
        problem=problem,
        failure=failure,
        problem_for=problem_for,
        errors=failure.fields,
        typed=typed or {},
        reasons=PAUSE_REASONS,
        now=utcnow(),
        materials=materials,
        pull=pull,
        may_pull=user.may("pull"),
        shown_per_material=LOTS_SHOWN,
    )


@router.get("/floor/{resource_id}", response_class=HTMLResponse)
def floor(
    request: Request,
    resource_id: uuid.UUID,
    session: SessionDep,
    user: UserDep,
    page: PageQuery = 1,
) -> Response:
    return _floor_page(request, session, user, resource_id, page=page)


@router.get("/floor/{resource_id}/stamp")
def floor_stamp(
    resource_id: uuid.UUID, session: SessionDep, user: UserDep, page: PageQuery = 1
) -> JSONResponse:
    """A hash of the work orders of a page of the queue and their versions, and of the
    queue's size: the page polls it and reloads itself when it changes (someone else
    started, reported or scheduled something)."""
    stamp = queries.queue_stamp(session, user.actor, resource_id, page)
    return JSONResponse({"stamp": stamp}, headers={"Cache-Control": "no-store"})


def _taken(session: Session, attempt: Attempt, wo: WorkOrder, body: BaseModel | None) -> Response:
    home = f"/floor/{attempt.ids['resource_id']}"
    if isinstance(body, ReportRequest):
        # (a report answers with the work order's row: its line item's words are read here)
        operation = queries.operation_of(session, wo.org_id, attempt.line_item_id)
        parts = [
            f"{quantity(body.quantity_completed)} completed" if body.quantity_completed else "",
            f"{quantity(body.quantity_scrapped)} scrapped" if body.quantity_scrapped else "",
            "done" if body.done else "",
        ]
        said = ", ".join(p for p in parts if p)
        return redirect(
            f"{home}#li-{attempt.line_item_id}", f"{wo.number} {operation}: reported {said}."
        )
    name = attempt.action.name
    if name == "pause" and isinstance(body, ReasonRequest):
        done = f"paused: {body.reason}"
    else:
        done = _DONE.get(name, f"{name} done")
    return redirect(f"{home}#wo-{wo.id}", f"{wo.number} {done}.")


def _refused(
    request: Request, session: Session, user: PortalUser, attempt: Attempt, problem: Problem
) -> Response:
    resource_id = attempt.ids["resource_id"]
    return _floor_page(
        request,
        session,
        user,
        resource_id,
        problem=problem,
        problem_for=str(attempt.line_item_id or attempt.record_id),
        typed=attempt.posted,
        # The page with the refused work order's card, which shows the problem.
        page=queries.queue_page_of(session, user.actor, resource_id, attempt.record_id),
    )


add_action_routes(
    router,
    [ON_WORK_ORDERS[name] for name in FLOOR_ACTIONS],
    "/floor/{resource_id}/work-orders/{work_order_id}",
    "work_order_id",
    _taken,
    _refused,
)


# --- pulling materials: a lot typed or scanned, then its quantity ----------------------------

# Allocated lots listed per material on a card.
LOTS_SHOWN = 5
# The group separator a scanner sends for FNC1 between GS1 element strings.
GS = "\x1d"
PULL_LABELS = Labels({"lot_id": "lot", "lot_code": "lot", "quantity": "quantity", "scan": "lot"})


@dataclass(frozen=True)
class Scan:
    """What the operator typed or scanned, read: a lot code (a GS1 barcode's (10)), the
    count of its (37), the GTIN of its (01) and the expiry of its (17); or why it cannot be
    used. Typed text that is not plainly a barcode is first a lot code as typed, and only
    then (`fallback`) a barcode without separators: "1000-A" is a lot code, not (10)00-A."""

    text: str
    lot_code: str | None = None
    count: Decimal | None = None
    gtin: str | None = None
    expires_on: date | None = None
    barcode: bool = False
    problem: str | None = None
    fallback: "Scan | None" = None


def read_scan(text: str) -> Scan:
    """Reads a lot code or a GS1-128 scan: in brackets as printed under the bars
    ("(01)00614141999996(10)LOT123(17)271231(37)24"), or raw as a scanner types it (with a
    symbology identifier such as "]C1", and the group separator, ASCII 29, after a
    variable-length element string)."""
    text = text.strip()
    if not text:
        return Scan(text, problem="Type a lot code or scan the lot's barcode.")
    if text.startswith(("(", "]")) or GS in text:
        return _gs1_scan(text)
    fallback = _gs1_scan(text)
    return Scan(
        text,
        lot_code=text,
        fallback=fallback if fallback.problem is None and fallback.lot_code != text else None,
    )


def _gs1_scan(text: str) -> Scan:
    unreadable = Scan(
        text,
        barcode=True,
        problem="This barcode could not be read: scan it again, or type the lot code.",
    )
    try:
        if text.startswith("("):
            message: GS1Message | None = GS1Message.parse_hri(text)
        else:
            message = biip.parse(text).gs1_message
    except (biip.ParseError, ValueError):
        return unreadable
    if message is None:
        return unreadable
    found = message.element_strings
    lot = found.get(ai="10")
    count = found.get(ai="37")
    gtin = found.get(ai="01")
    expiry = found.get(ai="17")
    if gtin is not None and gtin.gtin is None:
        return replace(
            unreadable,
            problem=f"The barcode's GTIN {gtin.value} has a wrong check digit: scan it again.",
        )
    if lot is None:
        return replace(
            unreadable,
            problem="This barcode carries no lot number (10): scan the lot's own label, or "
            "type its lot code.",
        )
    return Scan(
        text,
        lot_code=lot.value,
        count=Decimal(int(count.value)) if count is not None and count.value.isdigit() else None,
        gtin=gtin.gtin.as_gtin_14() if gtin is not None and gtin.gtin is not None else None,
        expires_on=expiry.date if expiry is not None else None,
        barcode=True,
    )


@dataclass(frozen=True)
class PullPanel:
    """The pull form of one work order's card after a scan: the lot (or the lots to choose
    from, when the code is ambiguous), the quantity to confirm, what the barcode said, and
    what was refused."""

    work_order_id: uuid.UUID
    line_item_id: uuid.UUID | None
    scan: Scan
    lots: list[LotOut] = field(default_factory=list)
    chosen: uuid.UUID | None = None
    quantity: str = ""
    failure: FormErrors = field(default_factory=lambda: form_errors(None))
    status: int = 200

    @property
    def message(self) -> str:
        """What was refused, as the operator reads it: each field's message (which says
        which field when it must), else the problem's own detail."""
        return "; ".join(dict.fromkeys(self.failure.fields.values())) or self.failure.detail

    @property
    def lot(self) -> LotOut | None:
        return next((lot for lot in self.lots if lot.id == self.chosen), None)

    def expiry_differs(self, zone: ZoneInfo) -> bool:
        """The barcode's (17) is not the lot's expiry date on the plant's clock."""
        lot = self.lot
        if lot is None or self.scan.expires_on is None:
            return False
        if lot.expires_at is None:
            return True
        return lot.expires_at.astimezone(zone).date() != self.scan.expires_on


def _refused_panel(panel: PullPanel, problem: Problem) -> PullPanel:
    return replace(panel, failure=form_errors(problem, PULL_LABELS), status=problem.status)


def _lots_of_scan(
    session: Session, user: PortalUser, scan: Scan, needed: set[uuid.UUID]
) -> tuple[Scan, list[LotOut]]:
    """The lots a scan names: by its code (as typed, else read as a barcode), narrowed by the
    barcode's GTIN when two items share the code, then by the work order's materials."""
    for reading in (scan, scan.fallback):
        if reading is None or reading.lot_code is None:
            continue
        found, _ = stock.list_lots(
            session, user.actor, stock.LotFilter(code=reading.lot_code[:64]), None, 20
        )
        if not found:
            continue
        if reading.gtin is not None:
            items = queries.items_by_id(session, {lot.item_id for lot in found})
            of_gtin = [lot for lot in found if items[lot.item_id].gtin == reading.gtin]
            if not of_gtin:
                raise ValidationProblem(
                    [
                        FieldError(
                            ["body", "scan"],
                            f"Lot {reading.lot_code} is not of the item of this barcode's GTIN "
                            f"{reading.gtin}: check the label.",
                        )
                    ]
                )
            found = of_gtin
        if len(found) > 1:
            found = [lot for lot in found if lot.item_id in needed] or found
        return reading, found
    if scan.problem is not None:
        raise ValidationProblem([FieldError(["body", "scan"], scan.problem)])
    code = scan.lot_code or scan.text
    raise ValidationProblem(
        [
            FieldError(
                ["body", "scan"],
                f"No lot {code} is in stock here: check the code, or scan the label again.",
            )
        ]
    )


def _needed_items(materials: Sequence[MaterialOut]) -> set[uuid.UUID]:
    return {m.item_id for m in materials}


def _allocated_of(materials: Sequence[MaterialOut], lot_id: uuid.UUID) -> Decimal:
    return sum(
        (a.quantity for m in materials for a in m.allocations if a.lot_id == lot_id), Decimal(0)
    )


def _line_item_of(fields: Mapping[str, str]) -> uuid.UUID | None:
    raw = fields.get("line_item_id", "")
    return uuid.UUID(raw) if forms.is_uuid(raw) else None


def _work_materials(session: Session, user: PortalUser, wo_id: uuid.UUID) -> list[MaterialOut]:
    return stock.materials_of(session, user.actor, wo_id)


@router.post("/floor/{resource_id}/work-orders/{work_order_id}/scan")
def floor_scan(
    resource_id: uuid.UUID,
    work_order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    """A lot typed or scanned for a work order: its pull form, with the lot found and the
    quantity to confirm (the barcode's count, else what is allocated of the lot). Nothing
    changes until the pull is confirmed."""
    authorize(user.actor, "work_order.pull")
    materials = _work_materials(session, user, work_order_id)
    scan = read_scan(fields.get("scan", ""))
    panel = PullPanel(work_order_id, _line_item_of(fields), scan)
    try:
        scan, lots = _lots_of_scan(session, user, scan, _needed_items(materials))
    except Problem as problem:
        return _pull_page(request, session, user, resource_id, _refused_panel(panel, problem))
    chosen = lots[0] if len(lots) == 1 else None
    prefill = scan.count
    if prefill is None and chosen is not None:
        prefill = _allocated_of(materials, chosen.id) or None
    panel = replace(
        panel,
        scan=scan,
        lots=lots,
        chosen=chosen.id if chosen else None,
        quantity=quantity(prefill).replace(",", "") if prefill is not None else "",
    )
    return _pull_page(request, session, user, resource_id, panel)


@router.post("/floor/{resource_id}/work-orders/{work_order_id}/pull")
def floor_pull(
    resource_id: uuid.UUID,
    work_order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    """The confirmed pull: the lot and the quantity, recorded against the card's line item."""
    line_item_id = _line_item_of(fields)
    scan = read_scan(fields.get("scan", "")) if fields.get("scan") else Scan("")
    typed_quantity = fields.get("quantity", "").strip()
    raw_lot = fields.get("lot_id", "")
    lot: LotOut | None = None
    panel = PullPanel(work_order_id, line_item_id, scan, quantity=typed_quantity)
    try:
        authorize(user.actor, "work_order.pull")
        if forms.is_uuid(raw_lot):
            try:
                lot = stock.get_lot(session, user.actor, uuid.UUID(raw_lot))
            except NotFound:
                lot = None
            panel = replace(panel, lots=[lot] if lot else [], chosen=lot.id if lot else None)
        if lot is None:
            raise ValidationProblem(
                [FieldError(["body", "lot_id"], "Scan or type the lot again: it is not found.")]
            )
        if not typed_quantity:
            raise ValidationProblem([FieldError(["body", "quantity"], "is required", "missing")])
        body = forms.validated(
            PullRequest,
            {
                k: v
                for k, v in {
                    "lot_id": raw_lot.strip(),
                    "quantity": typed_quantity,
                    "line_item_id": str(line_item_id) if line_item_id else "",
                }.items()
                if v
            },
        )
        pulling.pull(session, user.actor, work_order_id, body)
    except Problem as problem:
        if problem.status == 403:
            raise
        return _pull_page(request, session, user, resource_id, _refused_panel(panel, problem))
    assert body.quantity is not None
    wo = queries.work_orders_by_id(session, user.actor.org_id, [work_order_id])[0]
    return redirect(
        f"/floor/{resource_id}#wo-{work_order_id}",
        f"{wo.number}: pulled {quantity(body.quantity)} {lot.unit} of lot "
        f"{lot.code or 'balance'} ({lot.item_sku}).",
    )


@router.post("/floor/{resource_id}/work-orders/{work_order_id}/pull-allocated")
def floor_pull_allocated(
    resource_id: uuid.UUID,
    work_order_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    """Everything allocated to the work order, pulled at once."""
    line_item_id = _line_item_of(fields)
    panel = PullPanel(work_order_id, line_item_id, Scan(""))
    try:
        authorize(user.actor, "work_order.pull")
        pulled = pulling.pull(
            session,
            user.actor,
            work_order_id,
            PullRequest(allocated=True, line_item_id=line_item_id),
        )
    except Problem as problem:
        if problem.status == 403:
            raise
        return _pull_page(request, session, user, resource_id, _refused_panel(panel, problem))
    wo = queries.work_orders_by_id(session, user.actor.org_id, [work_order_id])[0]
    lots = f"{len(pulled)} lot" + ("" if len(pulled) == 1 else "s")
    return redirect(
        f"/floor/{resource_id}#wo-{work_order_id}",
        f"{wo.number}: pulled what was allocated ({lots}).",
    )


def _pull_page(
    request: Request,
    session: Session,
    user: PortalUser,
    resource_id: uuid.UUID,
    panel: PullPanel,
) -> Response:
    """The queue again, on the page of the work order, with its pull form as it stands (and
    the status of what was refused, if anything was)."""
    page = queries.queue_page_of(session, user.actor, resource_id, panel.work_order_id)
    response = _floor_page(request, session, user, resource_id, page=page, pull=panel)
    response.status_code = panel.status
    return response
