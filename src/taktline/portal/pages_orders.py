"""Production order and work order pages: lists, details with their actions, and the forms.

Every page calls the same services as the API and validates with the API's own schemas, so a
rule and its message are the same in both; a refused action re-renders the page with the
API's message and status. Each page reads in a fixed number of queries however many rows it
shows (the services' `present` and `list_page`, plus one query per kind of name it shows).
"""

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from taktline.errors import FieldError, InvalidTransition, Problem, ValidationProblem
from taktline.events.models import Event
from taktline.http import SessionDep, decode_cursor, encode_cursor, field_errors_of, parse_version
from taktline.items.models import Item
from taktline.orders import actions, editing, production, reading
from taktline.orders.lifecycle import ACCEPTS_WORK_ORDERS, LineItemStatus, State, only_from
from taktline.orders.models import LineItem, ProductionOrder, ProductionOrderItem, WorkOrder
from taktline.orders.schemas import (
    CompleteRequest,
    LineItemIn,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ProductionOrderOut,
    ProductionOrderUpdate,
    ReasonRequest,
    ReportRequest,
    ScheduleOrderRequest,
    ScheduleRequest,
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderUpdate,
)
from taktline.orgs.models import Customer
from taktline.permissions import authorize
from taktline.portal.web import (
    FormDep,
    PortalUser,
    UserDep,
    field_errors,
    local,
    local_input,
    quantity,
    redirect,
    render,
    unflatten,
)
from taktline.resources.models import Resource

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
OPEN_STATES = (State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
STATES = tuple(State)
# Rows the forms name; the others are the record's own fields.
ORDER_FIELDS = ("owner_id", "reference", "due_date", "priority", "notes")
WORK_ORDER_FIELDS = ("item_id", "quantity", "unit", "due_date", "priority", "instructions")
LINE_ITEM_FIELDS = (
    "operation",
    "resource_id",
    "setup_minutes",
    "run_minutes_per_unit",
    "planned_start",
    "planned_end",
)
Options = list[tuple[str, str]]
M = TypeVar("M", bound=BaseModel)


# --- forms: from posted fields to the API's schemas -----------------------------------------


def body_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as the API reports them for a request body: each `loc` under "body",
    so that the message reads exactly as the API's."""
    return [
        FieldError(["body", *e["loc"]], e["msg"], e["type"])
        for e in field_errors_of(exc.errors(include_url=False))
    ]


def validate(schema: type[M], data: Any, extra: Sequence[FieldError] = ()) -> M:
    """`data` validated by the API's schema; its errors (and `extra` ones) as one problem."""
    try:
        body = schema.model_validate(data)
    except ValidationError as exc:
        raise ValidationProblem([*extra, *body_errors(exc)]) from None
    if extra:
        raise ValidationProblem(list(extra))
    return body


def compact(fields: Mapping[str, str]) -> dict[str, str]:
    """The filled-in fields of a form, its rows renumbered 0, 1, 2... in their order.

    A blank row (every field empty: the spare row of a form, or one left unused) is no row at
    all, and the rows after it move up, so that the positions in the validation errors are
    the positions of the rows shown again.
    """
    tree: dict[str, Any] = {}
    for name, raw in fields.items():
        value = raw.strip()
        if not value:
            continue
        *path, last = name.split(".")
        parts = (*path, last)
        # A form's own fields have names; rows are numbered inside them, in ASCII digits.
        if parts[0].isdigit() or any(p.isdigit() and not p.isascii() for p in parts):
            raise ValidationProblem([FieldError(["body", name], "unknown field")])
        node = tree
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValidationProblem([FieldError(["body", name], "unknown field")])
            node = child
        if isinstance(node.get(last), dict):
            raise ValidationProblem([FieldError(["body", name], "unknown field")])
        node[last] = value
    flat: dict[str, str] = {}
    _flatten(tree, "", flat)
    return flat


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    if node and all(k.isdecimal() for k in node):
        node = {str(i): node[k] for i, k in enumerate(sorted(node, key=int))}
    for key, value in node.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value


# Fields a JSON body carries as numbers or booleans; a form sends every value as text.
INTEGER_FIELDS = frozenset({"priority", "sequence"})
_FLAGS = {"true": True, "on": True, "1": True, "false": False, "0": False}
BOOLEAN_FIELDS: dict[str, dict[str, bool]] = {"done": _FLAGS, "interruptible": _FLAGS}
_INTEGER = re.compile(r"[+-]?\d{1,9}")


def typed(node: Any) -> Any:
    """The values of integer and boolean fields as a JSON body would carry them: "70" is 70
    and a ticked checkbox is true. Anything else stays text, for the schema to judge."""
    if isinstance(node, list):
        return [typed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[Any, Any] = {}
    for key, value in node.items():
        if isinstance(value, str) and key in INTEGER_FIELDS and _INTEGER.fullmatch(value):
            out[key] = int(value)
        elif isinstance(value, str) and key in BOOLEAN_FIELDS:
            out[key] = BOOLEAN_FIELDS[key].get(value.lower(), value)
        else:
            out[key] = typed(value)
    return out


def parse_form(fields: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """A posted form as the JSON body the API's schema validates."""
    return typed(unflatten(compact(fields), zone))  # type: ignore[no-any-return]


def count_rows(values: Mapping[str, str], prefix: str) -> int:
    """How many rows `prefix` + "N." has among compacted fields."""
    rows = {
        int(name[len(prefix) :].split(".", 1)[0])
        for name in values
        if name.startswith(prefix) and name[len(prefix) :].split(".", 1)[0].isdecimal()
    }
    return max(rows) + 1 if rows else 0


def blank_required(fields: Mapping[str, str], names: Iterable[str]) -> list[FieldError]:
    """A required field emptied on an edit form: "field required", as a create would say."""
    return [
        FieldError(["body", name], "field required", "missing")
        for name in names
        if name in fields and not fields[name].strip()
    ]


def patch_data(
    fields: Mapping[str, str], zone: ZoneInfo, nullable: Iterable[str]
) -> dict[str, Any]:
    """An edit form as a PATCH body: an emptied optional field is cleared (null)."""
    data = parse_form(fields, zone)
    for name in nullable:
        if name in fields and not fields[name].strip():
            data[name] = None
    return data


def form_version(fields: dict[str, str]) -> int | None:
    """The version the form was rendered at (its hidden `version`), as the API's If-Match."""
    raw = fields.pop("version", "").strip()
    return parse_version(raw, ["form", "version"])


def problem_errors(problem: Problem | None) -> dict[str, str]:
    """The messages of a problem by form field name (without "body" or "query")."""
    if problem is None:
        return {}
    return {name.removeprefix("query."): msg for name, msg in field_errors(problem).items()}


def decimal_text(value: Decimal | None) -> str:
    """A quantity as an input shows it: 100, not 1E+2 or 100.000000."""
    return "" if value is None else format(value.normalize(), "f")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- options for the selects: one query each -------------------------------------------------


def customer_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Customer.id, Customer.name).where(Customer.org_id == org_id).order_by(Customer.name)
    )
    return [(str(i), name) for i, name in rows]


def item_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Item.id, Item.sku, Item.name, Item.unit)
        .where(Item.org_id == org_id)
        .order_by(Item.sku)
    )
    return [(str(i), f"{sku} · {name} ({unit})") for i, sku, name, unit in rows]


def resource_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Resource.id, Resource.code, Resource.name, Resource.active)
        .where(Resource.org_id == org_id)
        .order_by(Resource.code)
    )
    return [
        (str(i), f"{code} · {name}" + ("" if active else " (inactive)"))
        for i, code, name, active in rows
    ]


def open_order_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(ProductionOrder.id, ProductionOrder.number, ProductionOrder.reference)
        .where(
            ProductionOrder.org_id == org_id,
            ProductionOrder.state.in_(ACCEPTS_WORK_ORDERS),
        )
        .order_by(ProductionOrder.id.desc())
    )
    return [(str(i), number + (f" · {ref}" if ref else "")) for i, number, ref in rows]


def item_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Item]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(wanted)))}


# --- the event timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    subject: str
    href: str | None
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    details: str


def _shown(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            return local(datetime.fromisoformat(value), zone, "%d %b %Y %H:%M")
        except ValueError:
            return value
    if isinstance(value, str):
        try:
            return quantity(Decimal(value)) if value.replace(".", "", 1).isdigit() else value
        except InvalidOperation:
            return value
    return str(value)


def describe(event: Event, zone: ZoneInfo) -> str:
    """What an event changed, in a line."""
    c = event.changes or {}
    try:
        if event.action == "report":
            return (
                f"line item {c['line_item']} ({c['operation']}): "
                f"+{_shown(c['quantity_completed'], zone)} completed, "
                f"+{_shown(c['quantity_scrapped'], zone)} scrapped; now {c['status']}"
            )
        if event.action == "skip":
            return f"line item {c['line_item']} ({c['operation']}) skipped"
        if event.action == "complete":
            return (
                f"produced {_shown(c['quantity_produced'], zone)}, "
                f"scrapped {_shown(c['quantity_scrapped'], zone)}"
            )
        if event.action == "schedule" and isinstance(c.get("line_items"), list):
            return "; ".join(
                f"line item {li['sequence']}: {_shown(li['planned_start'], zone)} to "
                f"{_shown(li['planned_end'], zone)}"
                for li in c["line_items"]
            )
        if event.action == "update":
            parts = []
            for name, change in c.items():
                if isinstance(change, list) and change and change[0] == "replaced":
                    parts.append(f"{name.replace('_', ' ')} replaced")
                elif isinstance(change, list) and len(change) == 2:
                    old, new = change
                    parts.append(
                        f"{name.replace('_', ' ')}: {_shown(old, zone)} → {_shown(new, zone)}"
                    )
            return "; ".join(parts)
        if event.action == "create":
            bits = []
            if "quantity" in c:
                bits.append(f"quantity {_shown(c['quantity'], zone)}")
            if isinstance(c.get("items"), list):
                bits.append(f"{len(c['items'])} item(s)")
            if isinstance(c.get("line_items"), list):
                bits.append(f"{len(c['line_items'])} line item(s)")
            return ", ".join(bits)
    except (KeyError, TypeError, ValueError):
        pass
    return ""


def timeline(
    events: Iterable[Event],
    zone: ZoneInfo,
    subjects: Mapping[uuid.UUID, tuple[str, str | None]],
) -> list[TimelineEntry]:
    """Newest first. `subjects` names the records: {id: (label, link)}."""
    out = []
    for e in events:
        label, href = subjects.get(e.entity_id, (e.entity_type.replace("_", " "), None))
        out.append(
            TimelineEntry(
                at=e.at,
                who=e.actor_email or "system",
                subject=label,
                href=href,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
                details=describe(e, zone),
            )
        )
    out.reverse()
    return out


# --- list filters ----------------------------------------------------------------------------


class Filters:
    """The query of a list page, parsed leniently: a bad value is a message beside its field."""

    def __init__(self, request: Request, zone: ZoneInfo) -> None:
        self.params = request.query_params
        self.zone = zone
        self.errors: dict[str, str] = {}
        self.raw: dict[str, str] = {}

    def text(self, name: str, max_length: int = 200) -> str | None:
        value = self.params.get(name, "").strip()
        self.raw[name] = value
        if len(value) > max_length:
            self.errors[name] = f"String should have at most {max_length} characters"
            return None
        return value or None

    def states(self) -> list[State]:
        chosen = self.params.getlist("state")
        bad = [s for s in chosen if s not in STATES]
        if bad:
            self.errors["state"] = f"not a state: {', '.join(bad)}"
        return [State(s) for s in chosen if s in STATES]

    def ident(self, name: str) -> uuid.UUID | None:
        value = self.text(name)
        if value is None:
            return None
        if not _is_uuid(value):
            self.errors[name] = "Input should be a valid UUID"
            return None
        return uuid.UUID(value)

    def day(self, name: str, *, end: bool = False) -> datetime | None:
        """A date input as the start of that day on the plant's clock (the end, with `end`)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            self.errors[name] = "Input should be a valid date (YYYY-MM-DD)"
            return None
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def page(self, cursor_name: str = "cursor") -> tuple[uuid.UUID | None, int]:
        limit_raw = self.params.get("limit", "")
        limit = PAGE_SIZE
        if limit_raw:
            if limit_raw.isdecimal() and 1 <= int(limit_raw) <= MAX_PAGE_SIZE:
                limit = int(limit_raw)
            else:
                self.errors["limit"] = f"a whole number from 1 to {MAX_PAGE_SIZE}"
        try:
            after = decode_cursor(self.params.get(cursor_name) or None)
        except ValidationProblem as problem:
            self.errors.update(problem_errors(problem))
            after = None
        return after, limit

    def _query(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.params.multi_items() if k != "cursor" and v]

    def next_url(self, path: str, next_cursor: str | None) -> str | None:
        """The next page of the same list: the same filters, from `next_cursor`."""
        if next_cursor is None:
            return None
        return f"{path}?{urlencode([*self._query(), ('cursor', next_cursor)])}"

    def first_url(self, path: str) -> str | None:
        """The first page of the same list, when this is a later one."""
        if not self.params.get("cursor"):
            return None
        query = self._query()
        return f"{path}?{urlencode(query)}" if query else path


# --- production orders -----------------------------------------------------------------------


@router.get("/production-orders")
def production_order_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    f = Filters(request, user.zone)
    states = f.states()
    owner_id = f.ident("owner_id")
    due_before = f.day("due_before")
    q = f.text("q")
    after, limit = f.page()
    customers = customer_options(session, user.actor.org_id)
    rows: list[ProductionOrderOut] = []
    next_cursor = None
    status = 200
    if f.errors:
        status = 422
    else:
        found, last = reading.list_production_orders(
            session,
            user.actor,
            reading.ProductionOrderFilter(
                states=states, owner_id=owner_id, due_before=due_before, q=q
            ),
            after,
            limit,
        )
        rows = reading.present_production_orders(session, found, with_work_orders=False)
        next_cursor = encode_cursor(last) if last else None
    return render(
        request,
        "production_orders/list.html",
        user,
        status_code=status,
        orders=rows,
        customers=dict(customers),
        customer_options=customers,
        flags=_order_flags(session, rows),
        filters=f.raw,
        chosen_states=request.query_params.getlist("state"),
        errors=f.errors,
        states=STATES,
        next_url=f.next_url("/production-orders", next_cursor),
        first_url=f.first_url("/production-orders"),
        may_plan=user.may_plan,
        hints={
            po.id: [a for a in po.allowed_actions if user.may(a, "production_order")] for po in rows
        },
    )


@dataclass(frozen=True)
class OrderFlags:
    late: bool
    on_hold: int


def _order_flags(
    session: Session, rows: Sequence[ProductionOrderOut]
) -> dict[uuid.UUID, OrderFlags]:
    """Late (a live work order planned to end after the order's due date) and work orders on
    hold, for a page of orders in one query."""
    open_ids = [po.id for po in rows if po.state in OPEN_STATES]
    if not open_ids:
        return {}
    result = session.execute(
        select(
            WorkOrder.production_order_id,
            func.max(WorkOrder.planned_end),
            func.sum(case((WorkOrder.on_hold.is_(True), 1), else_=0)),
        )
        .where(WorkOrder.production_order_id.in_(open_ids), WorkOrder.state.in_(OPEN_STATES))
        .group_by(WorkOrder.production_order_id)
    )
    by_id = {po_id: (end, held) for po_id, end, held in result}
    flags = {}
    for po in rows:
        if po.id in by_id:
            end, held = by_id[po.id]
            late = bool(end and po.due_date and end > po.due_date)
            flags[po.id] = OrderFlags(late=late, on_hold=int(held or 0))
    return flags


@router.get("/production-orders/new")
def production_order_new(request: Request, session: SessionDep, user: UserDep) -> Response:
    authorize(user.actor, "production_order.create")
    return _order_form(request, session, user, None, {"priority": "50"})


@router.post("/production-orders/new")
def production_order_create(
    request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    try:
        authorize(user.actor, "production_order.create")
        body = validate(ProductionOrderCreate, parse_form(fields, user.zone))
        po = production.create_production_order(session, user.actor, body)
    except Problem as problem:
        return _order_form(request, session, user, None, _kept(fields), problem)
    return redirect(f"/production-orders/{po.id}", f"Production order {po.number} created.")


@router.get("/production-orders/{po_id}")
def production_order_detail(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    return _order_page(request, session, user, po_id)


@router.get("/production-orders/{po_id}/edit")
def production_order_edit(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    authorize(user.actor, "production_order.update")
    po = reading.get_production_order(session, user.actor, po_id)
    _order_editable(po)
    values: dict[str, str] = {
        "owner_id": str(po.owner_id or ""),
        "reference": po.reference or "",
        "due_date": local_input(po.due_date, user.zone),
        "priority": str(po.priority),
        "notes": po.notes or "",
    }
    for i, poi in enumerate(po.items):
        values[f"items.{i}.item_id"] = str(poi.item_id)
        values[f"items.{i}.quantity"] = decimal_text(poi.quantity)
        values[f"items.{i}.unit"] = poi.unit
    return _order_form(request, session, user, po, values)


@router.post("/production-orders/{po_id}/edit")
def production_order_update(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    po: ProductionOrder | None = None
    try:
        authorize(user.actor, "production_order.update")
        version = form_version(fields)
        po = reading.get_production_order(session, user.actor, po_id)
        data = patch_data(fields, user.zone, ProductionOrderUpdate.nullable)
        data.setdefault("items", [])  # the form shows every item: none left means none
        body = validate(ProductionOrderUpdate, data, blank_required(fields, ["priority"]))
        if body.items is not None and _same_items(body.items, po.items):
            del data["items"]  # unchanged: not replaced, not in the audit trail
            body = validate(ProductionOrderUpdate, data)
        po = production.update_production_order(session, user.actor, po_id, body, version)
    except Problem as problem:
        if po is None:
            raise
        return _order_form(request, session, user, po, _kept(fields), problem)
    return redirect(f"/production-orders/{po.id}", f"Production order {po.number} saved.")


def _same_items(new: Sequence[ProductionOrderItemIn], old: Sequence[ProductionOrderItem]) -> bool:
    return len(new) == len(old) and all(
        (a.item_id, a.quantity, a.unit or b.unit) == (b.item_id, b.quantity, b.unit)
        for a, b in zip(new, old, strict=True)
    )


def _kept(fields: Mapping[str, str]) -> dict[str, str]:
    """What was typed, its rows renumbered as the errors number them."""
    try:
        return compact(fields)
    except ValidationProblem:
        return {k: v for k, v in fields.items() if "." not in k}


def _order_editable(po: ProductionOrder) -> None:
    if po.state is not State.DRAFT:
        raise InvalidTransition(
            "production order",
            po.number,
            "update",
            po.state,
            [],
            only_from("update", frozenset({State.DRAFT})),
        )


def _order_form(
    request: Request,
    session: Session,
    user: PortalUser,
    po: ProductionOrder | None,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    org = user.actor.org_id
    wo_rows = count_rows(values, "work_orders.")
    line_rows = [count_rows(values, f"work_orders.{w}.line_items.") for w in range(wo_rows + 1)]
    existing: list[WorkOrderOut] = []
    names: dict[uuid.UUID, Item] = {}
    if po is not None:
        live = session.scalars(
            select(WorkOrder)
            .where(WorkOrder.production_order_id == po.id, WorkOrder.state != State.DELETED)
            .order_by(WorkOrder.id)
        ).all()
        existing = reading.present_work_orders(session, live)
        names = item_names(session, (wo.item_id for wo in existing))
    return render(
        request,
        "production_orders/form.html",
        user,
        status_code=problem.status if problem else 200,
        po=po,
        values=values,
        errors=problem_errors(problem),
        problem=problem,
        item_rows=count_rows(values, "items.") + 1,
        wo_rows=wo_rows + 1,
        line_rows=[n + 1 for n in line_rows],
        customer_options=customer_options(session, org),
        item_options=item_options(session, org),
        resource_options=resource_options(session, org),
        existing_work_orders=existing,
        item_names=names,
    )


def _order_page(
    request: Request,
    session: Session,
    user: PortalUser,
    po_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
) -> Response:
    actor = user.actor
    po = reading.get_production_order(session, actor, po_id)
    (out,) = reading.present_production_orders(session, [po])
    events = reading.production_order_history(session, actor, po_id)
    briefs = out.work_orders or []
    numbers: dict[uuid.UUID, str] = dict(
        session.execute(
            select(WorkOrder.id, WorkOrder.number).where(WorkOrder.production_order_id == po.id)
        ).all()
    )
    subjects: dict[uuid.UUID, tuple[str, str | None]] = {
        wo_id: (number, f"/work-orders/{wo_id}") for wo_id, number in numbers.items()
    }
    subjects[po.id] = (po.number, None)
    owner = session.get(Customer, po.owner_id) if po.owner_id else None
    items = item_names(session, [*(i.item_id for i in out.items), *(b.item_id for b in briefs)])
    late = _late_briefs(out)
    actions = [a for a in out.allowed_actions if a != "update" and user.may(a, "production_order")]
    return render(
        request,
        "production_orders/detail.html",
        user,
        status_code=problem.status if problem else 200,
        po=out,
        owner=owner,
        items=items,
        late=late,
        order_late=bool(late),
        actions=actions,
        can_edit="update" in out.allowed_actions and user.may("update", "production_order"),
        can_add_work_order=po.state in ACCEPTS_WORK_ORDERS and user.may("create"),
        timeline=timeline(events, user.zone, subjects),
        problem=problem,
        failed=failed,
        posted=posted or {},
        errors=problem_errors(problem),
    )


def _late_briefs(po: ProductionOrderOut) -> set[uuid.UUID]:
    if po.due_date is None:
        return set()
    return {
        b.id
        for b in po.work_orders or []
        if b.state in OPEN_STATES and b.planned_end is not None and b.planned_end > po.due_date
    }


def _order_action(
    request: Request,
    session: Session,
    user: PortalUser,
    po_id: uuid.UUID,
    fields: dict[str, str],
    action: str,
    run: Callable[[dict[str, Any], int | None], ProductionOrder],
    done: str,
) -> Response:
    posted = dict(fields)
    try:
        authorize(user.actor, f"production_order.{action}")
        version = form_version(fields)
        po = run(parse_form(fields, user.zone), version)
    except Problem as problem:
        return _order_page(
            request, session, user, po_id, problem=problem, failed=action, posted=posted
        )
    where = "/production-orders" if po.state is State.DELETED else f"/production-orders/{po.id}"
    return redirect(where, done.format(number=po.number))


@router.post("/production-orders/{po_id}/schedule")
def production_order_schedule(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> ProductionOrder:
        body = validate(ScheduleOrderRequest, data)
        return production.schedule(
            session, user.actor, po_id, start=body.start, expected_version=version
        )

    return _order_action(
        request,
        session,
        user,
        po_id,
        fields,
        "schedule",
        run,
        "Production order {number} scheduled.",
    )


@router.post("/production-orders/{po_id}/cancel")
def production_order_cancel(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> ProductionOrder:
        body = validate(ReasonRequest, data)
        return production.cancel(session, user.actor, po_id, body.reason, version)

    return _order_action(
        request, session, user, po_id, fields, "cancel", run, "Production order {number} canceled."
    )


@router.post("/production-orders/{po_id}/delete")
def production_order_delete(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> ProductionOrder:
        if data:
            raise ValidationProblem([FieldError(["body", k], "unknown field") for k in data])
        return production.delete_(session, user.actor, po_id, version)

    return _order_action(
        request, session, user, po_id, fields, "delete", run, "Production order {number} deleted."
    )


# --- work orders -----------------------------------------------------------------------------


@router.get("/work-orders")
def work_order_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    f = Filters(request, user.zone)
    states = f.states()
    resource_id = f.ident("resource_id")
    po_number = f.text("production_order", 32)
    planned_from = f.day("planned_from")
    planned_to = f.day("planned_to", end=True)
    due_before = f.day("due_before")
    q = f.text("q")
    after, limit = f.page()
    po_id = None
    if po_number:
        po_id = session.scalar(
            select(ProductionOrder.id).where(
                ProductionOrder.org_id == org, ProductionOrder.number == po_number.upper()
            )
        )
        if po_id is None:
            f.errors["production_order"] = f"no production order numbered {po_number}"
    resources = resource_options(session, org)
    rows: list[WorkOrderOut] = []
    next_cursor = None
    if not f.errors:
        try:
            found, last = reading.list_work_orders(
                session,
                user.actor,
                reading.WorkOrderFilter(
                    states=states,
                    production_order_id=po_id,
                    resource_id=resource_id,
                    planned_from=planned_from,
                    planned_to=planned_to,
                    due_before=due_before,
                    q=q,
                ),
                after,
                limit,
            )
        except ValidationProblem as problem:
            f.errors.update(problem_errors(problem))
        else:
            rows = reading.present_work_orders(session, found)
            next_cursor = encode_cursor(last) if last else None
    po_ids = {wo.production_order_id for wo in rows if wo.production_order_id}
    po_numbers = (
        dict(
            session.execute(
                select(ProductionOrder.id, ProductionOrder.number).where(
                    ProductionOrder.id.in_(po_ids)
                )
            ).all()
        )
        if po_ids
        else {}
    )
    return render(
        request,
        "work_orders/list.html",
        user,
        status_code=422 if f.errors else 200,
        work_orders=rows,
        items=item_names(session, (wo.item_id for wo in rows)),
        po_numbers=po_numbers,
        late={wo.id for wo in rows if _late(wo)},
        resource_codes={
            wo.id: ", ".join(dict.fromkeys(li.resource.code for li in wo.line_items if li.resource))
            for wo in rows
        },
        resource_options=resources,
        filters=f.raw,
        chosen_states=request.query_params.getlist("state"),
        errors=f.errors,
        states=STATES,
        next_url=f.next_url("/work-orders", next_cursor),
        first_url=f.first_url("/work-orders"),
        may_plan=user.may_plan,
        hints={wo.id: [a for a in wo.allowed_actions if user.may(a)] for wo in rows},
    )


def _late(wo: WorkOrderOut) -> bool:
    return bool(
        wo.state in OPEN_STATES
        and wo.planned_end is not None
        and wo.due_date is not None
        and wo.planned_end > wo.due_date
    )


@router.get("/work-orders/new")
def work_order_new(
    request: Request,
    session: SessionDep,
    user: UserDep,
    production_order_id: Annotated[str, Query()] = "",
) -> Response:
    authorize(user.actor, "work_order.create")
    values = {"priority": "50"}
    if _is_uuid(production_order_id):
        values["production_order_id"] = production_order_id
    return _work_order_form(request, session, user, None, values)


@router.post("/work-orders/new")
def work_order_create(
    request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    try:
        authorize(user.actor, "work_order.create")
        body = validate(WorkOrderCreate, parse_form(fields, user.zone))
        wo = editing.create_work_order(session, user.actor, body)
    except Problem as problem:
        return _work_order_form(request, session, user, None, _kept(fields), problem)
    return redirect(f"/work-orders/{wo.id}", f"Work order {wo.number} created.")


@router.get("/work-orders/{wo_id}")
def work_order_detail(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    return _work_order_page(request, session, user, wo_id)


@router.get("/work-orders/{wo_id}/edit")
def work_order_edit(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    authorize(user.actor, "work_order.update")
    wo = reading.get_work_order(session, user.actor, wo_id)
    _work_order_editable(wo)
    values: dict[str, str] = {
        "item_id": str(wo.item_id),
        "quantity": decimal_text(wo.quantity),
        "unit": wo.unit,
        "instructions": wo.instructions or "",
        "due_date": local_input(wo.due_date, user.zone),
        "priority": str(wo.priority),
    }
    alternatives = reading.alternatives_of(session, [li.id for li in wo.line_items])
    for i, li in enumerate(wo.line_items):
        p = f"line_items.{i}."
        # Not edited on this form, but carried through it (hidden), so that saving the line
        # items keeps what the API set on them.
        if li.interruptible:
            values[p + "interruptible"] = "true"
        for k, alt in enumerate(alternatives.get(li.id, [])):
            a = f"{p}alternatives.{k}."
            values[a + "resource_id"] = str(alt.resource_id)
            values[a + "setup_minutes"] = decimal_text(alt.setup_minutes)
            values[a + "run_minutes_per_unit"] = decimal_text(alt.run_minutes_per_unit)
        values[p + "operation"] = li.operation
        values[p + "resource_id"] = str(li.resource_id or "")
        values[p + "setup_minutes"] = decimal_text(li.setup_minutes)
        values[p + "run_minutes_per_unit"] = decimal_text(li.run_minutes_per_unit)
        values[p + "planned_start"] = local_input(li.planned_start, user.zone)
        values[p + "planned_end"] = local_input(li.planned_end, user.zone)
    return _work_order_form(request, session, user, wo, values)


@router.post("/work-orders/{wo_id}/edit")
def work_order_update(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    wo: WorkOrder | None = None
    try:
        authorize(user.actor, "work_order.update")
        version = form_version(fields)
        wo = reading.get_work_order(session, user.actor, wo_id)
        data = patch_data(fields, user.zone, WorkOrderUpdate.nullable)
        data.setdefault("line_items", [])  # the form shows every line item
        body = validate(
            WorkOrderUpdate, data, blank_required(fields, ["item_id", "quantity", "priority"])
        )
        if body.line_items is not None and _same_line_items(body.line_items, wo.line_items):
            del data["line_items"]  # unchanged: kept as they are, out of the audit trail
            body = validate(WorkOrderUpdate, data)
        wo = editing.update_work_order(session, user.actor, wo_id, body, version)
    except Problem as problem:
        if wo is None:
            raise
        return _work_order_form(request, session, user, wo, _kept(fields), problem)
    return redirect(f"/work-orders/{wo.id}", f"Work order {wo.number} saved.")


def _same_line_items(new: Sequence[LineItemIn], old: Sequence[LineItem]) -> bool:
    def key(li: LineItemIn | LineItem) -> tuple[Any, ...]:
        return (
            li.operation,
            li.resource_id,
            li.setup_minutes,
            li.run_minutes_per_unit,
            li.planned_start,
            li.planned_end,
        )

    return len(new) == len(old) and all(key(a) == key(b) for a, b in zip(new, old, strict=True))


def _work_order_editable(wo: WorkOrder) -> None:
    if wo.state is not State.DRAFT:
        raise InvalidTransition(
            "work order",
            wo.number,
            "update",
            wo.state,
            [],
            only_from("update", frozenset({State.DRAFT})),
        )


def _work_order_form(
    request: Request,
    session: Session,
    user: PortalUser,
    wo: WorkOrder | None,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    org = user.actor.org_id
    return render(
        request,
        "work_orders/form.html",
        user,
        status_code=problem.status if problem else 200,
        wo=wo,
        values=values,
        errors=problem_errors(problem),
        problem=problem,
        line_rows=count_rows(values, "line_items.") + 1,
        item_options=item_options(session, org),
        resource_options=resource_options(session, org),
        order_options=open_order_options(session, org) if wo is None else [],
    )


def _work_order_page(
    request: Request,
    session: Session,
    user: PortalUser,
    wo_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
) -> Response:
    actor = user.actor
    wo = reading.get_work_order(session, actor, wo_id)
    (out,) = reading.present_work_orders(session, [wo])
    events = reading.work_order_history(session, actor, wo_id)
    item = session.get(Item, wo.item_id)
    po = (
        session.execute(
            select(ProductionOrder.id, ProductionOrder.number, ProductionOrder.state).where(
                ProductionOrder.id == wo.production_order_id
            )
        ).first()
        if wo.production_order_id
        else None
    )
    actions = {a for a in out.allowed_actions if user.may(a)}
    needs_resources = "schedule" in actions
    return render(
        request,
        "work_orders/detail.html",
        user,
        status_code=problem.status if problem else 200,
        wo=out,
        item=item,
        po=po,
        late=_late(out),
        actions=actions,
        buttons=[a for a in out.allowed_actions if a in actions and a not in _ROW_ACTIONS],
        can_edit="update" in actions,
        finished=(LineItemStatus.DONE, LineItemStatus.SKIPPED),
        resource_options=resource_options(session, actor.org_id) if needs_resources else [],
        timeline=timeline(events, user.zone, {wo.id: (wo.number, None)}),
        problem=problem,
        failed=failed,
        posted=posted or {},
        errors=problem_errors(problem),
    )


# Actions taken on a line item rather than the whole work order; "update" is the Edit link.
_ROW_ACTIONS = frozenset({"report", "skip", "update"})


def _work_order_action(
    request: Request,
    session: Session,
    user: PortalUser,
    wo_id: uuid.UUID,
    fields: dict[str, str],
    action: str,
    run: Callable[[dict[str, Any], int | None], WorkOrder],
    done: str,
    failed: str | None = None,
) -> Response:
    posted = dict(fields)
    try:
        authorize(user.actor, f"work_order.{action}")
        version = form_version(fields)
        wo = run(parse_form(fields, user.zone), version)
    except Problem as problem:
        return _work_order_page(
            request, session, user, wo_id, problem=problem, failed=failed or action, posted=posted
        )
    where = "/work-orders" if wo.state is State.DELETED else f"/work-orders/{wo.id}"
    return redirect(where, done.format(number=wo.number))


def _no_fields(data: Mapping[str, Any]) -> None:
    if data:
        raise ValidationProblem([FieldError(["body", k], "unknown field") for k in data])


@router.post("/work-orders/{wo_id}/schedule")
def work_order_schedule(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    # Two forms post here: a start time (or nothing), or a window for each line item.
    windowed = any(k.startswith("line_items.") for k in fields)

    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(ScheduleRequest, data)
        return actions.schedule(
            session,
            user.actor,
            wo_id,
            start=body.start,
            windows=body.line_items,
            expected_version=version,
        )

    return _work_order_action(
        request,
        session,
        user,
        wo_id,
        fields,
        "schedule",
        run,
        "Work order {number} scheduled.",
        failed="schedule-windows" if windowed else "schedule",
    )


@router.post("/work-orders/{wo_id}/unschedule")
def work_order_unschedule(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        _no_fields(data)
        return actions.unschedule(session, user.actor, wo_id, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "unschedule", run, "Work order {number} unscheduled."
    )


@router.post("/work-orders/{wo_id}/start")
def work_order_start(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        _no_fields(data)
        return actions.start(session, user.actor, wo_id, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "start", run, "Work order {number} started."
    )


@router.post("/work-orders/{wo_id}/pause")
def work_order_pause(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(ReasonRequest, data)
        return actions.pause(session, user.actor, wo_id, body.reason, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "pause", run, "Work order {number} paused."
    )


@router.post("/work-orders/{wo_id}/resume")
def work_order_resume(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        _no_fields(data)
        return actions.resume(session, user.actor, wo_id, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "resume", run, "Work order {number} resumed."
    )


@router.post("/work-orders/{wo_id}/complete")
def work_order_complete(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(CompleteRequest, data)
        return actions.complete(session, user.actor, wo_id, body, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "complete", run, "Work order {number} completed."
    )


@router.post("/work-orders/{wo_id}/cancel")
def work_order_cancel(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(ReasonRequest, data)
        return actions.cancel(session, user.actor, wo_id, body.reason, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "cancel", run, "Work order {number} canceled."
    )


@router.post("/work-orders/{wo_id}/delete")
def work_order_delete(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        _no_fields(data)
        return actions.delete_(session, user.actor, wo_id, version)

    return _work_order_action(
        request, session, user, wo_id, fields, "delete", run, "Work order {number} deleted."
    )


@router.post("/work-orders/{wo_id}/line-items/{line_item_id}/report")
def line_item_report(
    wo_id: uuid.UUID,
    line_item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(ReportRequest, data)
        return actions.report(session, user.actor, wo_id, line_item_id, body, version)

    return _work_order_action(
        request,
        session,
        user,
        wo_id,
        fields,
        "report",
        run,
        "Quantities reported on {number}.",
        failed=f"report:{line_item_id}",
    )


@router.post("/work-orders/{wo_id}/line-items/{line_item_id}/skip")
def line_item_skip(
    wo_id: uuid.UUID,
    line_item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    def run(data: dict[str, Any], version: int | None) -> WorkOrder:
        body = validate(ReasonRequest, data)
        return actions.skip(session, user.actor, wo_id, line_item_id, body.reason, version)

    return _work_order_action(
        request,
        session,
        user,
        wo_id,
        fields,
        "skip",
        run,
        "Line item skipped on {number}.",
        failed=f"skip:{line_item_id}",
    )
