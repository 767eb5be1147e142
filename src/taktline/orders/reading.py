"""Reading orders: one record, a page of a filtered list, the response bodies (with their
allowed actions and punctuality, in a fixed number of queries for the whole page), the
history. Every function answers for the actor's organisation only."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    TypeDecorator,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeEngine

from taktline import records
from taktline.db import is_postgres, utcnow
from taktline.errors import FieldError, ValidationProblem
from taktline.events import service as events
from taktline.events.models import Event
from taktline.items.models import Item
from taktline.numbering import PREFIXES
from taktline.orders.lifecycle import (
    LineItemStatus,
    LineItemView,
    ProductionOrderView,
    State,
    WorkOrderView,
    allowed_actions,
    punctuality,
)
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    LineItemReport,
    ProductionOrder,
    ProductionOrderItem,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.orders.schemas import (
    LineItemOut,
    LineItemReportOut,
    ProductionOrderOut,
    WorkOrderBrief,
    WorkOrderOut,
)
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource
from taktline.schemas import ResponseBody

# --- the shape of a list -------------------------------------------------------------------
#
# A list pages by id (ids are time-ordered: creation order) however large the tables, so a
# page must cost about a page's worth of index entries, never a walk over years of them.
# Two shapes:
# - a walk per state: for each state asked for (by default every one but DELETED), the ids
#   in order down an index led by the tenant and the state (ix_work_orders_org_state,
#   ix_work_orders_org_item, ix_production_orders_org_owner, ...) from the cursor on, a page
#   of them; the walks are merged into the page. Other filters are checked on the way (the
#   due date inside the index). This is fast when the rows a filter keeps come early in id
#   order or are many: so of every state, of items, customers, due dates (a due date follows
#   creation), resources in common use.
# - found first: the rows of the planned window (by the window's GiST index on PostgreSQL),
#   of `q` (number prefixes, trigram indexes, the matching items' orders) and of a resource
#   with few line items are not to be found early in id order: a walk could step over
#   years of work for a page of them. They are found first, up to CANDIDATES, and sorted;
#   when there are more, a walk finds a page sooner (so many come early enough).
# Either way only a page's ids come out of it, then its rows by primary key.
#
# PostgreSQL chooses its indexes by its statistics. SQLite keeps none, so each statement
# tells it which terms are only filters, `+column` (see `unindexed`): the rest leads it to
# the index that the shape is meant for.

LIVE_STATES = tuple(s for s in State if s is not State.DELETED)
CANDIDATES = 20_000
# A text that matches more items than this is looked for by a walk among them all: their
# orders are many, so a page of them comes soon.
FEW_ITEMS = 50
# A resource with fewer line items than this has its work orders found first.
FEW_LINES = 2_000
# A planned window that holds more than this share of all planned work is walked to: a page
# of it comes soon in id order.
DENSE = 0.05

_Listed = TypeVar("_Listed", type[WorkOrder], type[ProductionOrder])


def _fields(model: Any, out: type[ResponseBody]) -> tuple[str, ...]:
    """The fields of a response body that are columns of the model, in the body's order."""
    columns = model.__table__.c
    return tuple(name for name in out.model_fields if name in columns)


_WORK_ORDER_FIELDS = _fields(WorkOrder, WorkOrderOut)
_LINE_ITEM_FIELDS = _fields(LineItem, LineItemOut)
_BRIEF_FIELDS = _fields(WorkOrder, WorkOrderBrief)
_PRODUCTION_ORDER_FIELDS = _fields(ProductionOrder, ProductionOrderOut)


def _ids() -> BindParameter[Any]:
    return bindparam("ids", expanding=True)


class Remembered(TypeDecorator[Any]):
    """A column read as its own type reads it, remembering what each stored value reads as:
    the quantities, resources, items and orders of a page repeat from row to row, and reading
    one (a UUID from text, a decimal normalised) costs more than looking it up."""

    impl = NullType
    cache_ok = True

    def __init__(self, kind: TypeEngine[Any]) -> None:
        super().__init__()
        self.kind = kind

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        read = self.kind.dialect_impl(dialect).result_processor(dialect, coltype)
        return None if read is None else lru_cache(maxsize=256)(read)


def _remembered(column: Any) -> Any:
    return type_coerce(column, Remembered(column.type)).label(column.key)


# --- the statements every page runs, built once (their SQL compiled once per database) ------

_REPEATING = frozenset(
    {"production_order_id", "item_id", "resource_id", "work_order_id", "quantity",
     "quantity_produced", "quantity_scrapped", "quantity_completed", "setup_minutes",
     "run_minutes_per_unit", "state", "status", "org_id", "owner_id"}
)  # fmt: skip


def _read(model: Any, name: str) -> Any:
    column = getattr(model, name)
    return _remembered(column) if name in _REPEATING else column


# What a list's page reads of each row: its body's columns, its tenant, and, of a work
# order, the state of its production order (for its allowed actions). A work order's own
# columns also make the answer of an action written in SQL (`RETURNING`: see actions.report).
WORK_ORDER_COLUMNS = (
    *(_read(WorkOrder, name) for name in _WORK_ORDER_FIELDS),
    _remembered(WorkOrder.org_id),
)
_WORK_ORDER_ROWS = select(
    *WORK_ORDER_COLUMNS,
    type_coerce(ProductionOrder.state, Remembered(ProductionOrder.state.type)).label(
        "production_order_state"
    ),
).outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
_PRODUCTION_ORDER_ROWS = select(
    *(_read(ProductionOrder, name) for name in _PRODUCTION_ORDER_FIELDS),
    _remembered(ProductionOrder.org_id),
)
_ALTERNATIVE_RESOURCE = aliased(Resource)
# A page's line items with their resources and alternatives (a row per alternative).
_LINE_ITEMS_OF = (
    select(
        _remembered(LineItem.work_order_id),
        *(_read(LineItem, name) for name in _LINE_ITEM_FIELDS),
        Resource.code,
        Resource.name,
        _remembered(LineItemAlternative.resource_id),
        _remembered(LineItemAlternative.setup_minutes),
        _remembered(LineItemAlternative.run_minutes_per_unit),
        _ALTERNATIVE_RESOURCE.code,
        _ALTERNATIVE_RESOURCE.name,
    )
    .outerjoin(Resource, Resource.id == LineItem.resource_id)
    .outerjoin(LineItemAlternative, LineItemAlternative.line_item_id == LineItem.id)
    .outerjoin(_ALTERNATIVE_RESOURCE, _ALTERNATIVE_RESOURCE.id == LineItemAlternative.resource_id)
    .where(LineItem.work_order_id.in_(_ids()))
    .order_by(LineItem.work_order_id, LineItem.sequence, LineItemAlternative.id)
)
_STATES_OF_ORDERS = select(ProductionOrder.id, ProductionOrder.state).where(
    ProductionOrder.id.in_(_ids())
)
_DEPENDENCIES_OF = (
    select(WorkOrderDependency.work_order_id, WorkOrderDependency.depends_on_id)
    .where(WorkOrderDependency.work_order_id.in_(_ids()))
    .order_by(WorkOrderDependency.depends_on_id)
)


# --- the ways to a page --------------------------------------------------------------------


class unindexed(FunctionElement[Any]):  # noqa: N801 - used as SQL: unindexed(column)
    """A column that no index may serve on SQLite (`+column`, SQLite's own way to say so);
    the column itself elsewhere."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _column_itself(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _plus_column(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


Columns = Callable[[str], Any]
# The filters of a list, given its columns, some of them `unindexed` (see `columns_of`).
Filters = Callable[[Columns], list[ColumnElement[bool]]]


def columns_of(model: Any, off: Collection[str]) -> Columns:
    """The model's columns by name, those named in `off` unindexed."""

    def column(name: str) -> Any:
        return unindexed(getattr(model, name)) if name in off else getattr(model, name)

    return column


@dataclass(frozen=True)
class Found:
    """One way to find a list's rows first: a condition (besides the list's filters) and the
    columns that no index may serve for it (on SQLite; PostgreSQL chooses for itself)."""

    where: ColumnElement[bool]
    off: frozenset[str] = frozenset()
    # Up to CANDIDATES rows, else a walk; or all of them, however many.
    capped: bool = True


@dataclass
class _Ways:
    """The ways to a list's page: the ways to find its rows first (`first`, any of them),
    with conditions only they check (`finding`); the walk, with the columns it leaves to no
    index (`walk_off`) and conditions only it checks (`walking`)."""

    walk_off: frozenset[str]
    first: list[Found] = field(default_factory=list)
    finding: list[ColumnElement[bool]] = field(default_factory=list)
    walking: list[ColumnElement[bool]] = field(default_factory=list)

    def text(self, found: list[Found], many: bool, filters: list[ColumnElement[bool]]) -> None:
        """`q`, found by any of `found`: its rows are found first, unless it matched so many
        items that a walk finds a page sooner, or a planned window is to be found first, all
        of it (then it is a filter, of the walk or of what else is found first)."""
        matches = or_(*(way.where for way in found))
        if many or not all(way.capped for way in self.first):
            filters.append(matches)
        else:
            self.walking.append(matches)
            self.first = found

    def page(
        self,
        session: Session,
        model: _Listed,
        shown: Select[Any],
        filters: Filters,
        states: Sequence[State],
        after: uuid.UUID | None,
        limit: int,
    ) -> tuple[Sequence[Row[Any]], uuid.UUID | None]:
        return _page(
            session,
            model,
            shown,
            filters,
            states,
            first=self.first,
            finding=self.finding,
            walk_off=self.walk_off,
            walking=self.walking,
            after=after,
            limit=limit,
        )


def _page(
    session: Session,
    model: _Listed,
    shown: Select[Any],
    filters: Filters,
    states: Sequence[State],
    *,
    first: Sequence[Found],
    finding: Sequence[ColumnElement[bool]] = (),
    walk_off: Collection[str],
    walking: Sequence[ColumnElement[bool]] = (),
    after: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[Row[Any]], uuid.UUID | None]:
    """A page of `shown` (a SELECT from `model`) and the cursor of the next page, in one
    statement: its ids found first, by any of `first` (their union), if there are not too
    many; else by a walk per state down the index that `walk_off` leaves it, checking the
    filters and `walking` on the way."""
    chosen = tuple(dict.fromkeys(states)) or LIVE_STATES
    if first:
        branches = []
        for way in first:
            column = columns_of(model, way.off)
            alive = column("state").in_(chosen) if states else column("state") != State.DELETED
            later = [column("id") > after] if after is not None else []
            branches.append(
                select(model.id).where(*filters(column), *finding, alive, *later, way.where)
            )
        capped = all(way.capped for way in first)
        # (LIMIT, or else OFFSET 0, keeps the planner from merging them into the ordered
        # walk that the page's ORDER BY id would tempt it to)
        found = (
            (union_all(*branches) if len(branches) > 1 else branches[0])
            .limit(CANDIDATES if capped else None)
            .offset(None if capped else 0)
            .subquery()
        )
        ids = (
            select(found.c.id, func.count().over().label("found"))
            .order_by(found.c.id)
            .limit(len(branches) * (limit + 1))
            .subquery()
        )
        rows = session.execute(
            shown.add_columns(ids.c.found).join(ids, ids.c.id == model.id).order_by(model.id)
        ).all()
        if not capped or not rows or rows[0].found < CANDIDATES:
            # A record found by two branches comes twice.
            once = list({row.id: row for row in rows}.values())
            return _with_cursor(once, limit)
    column = columns_of(model, walk_off)
    later = [model.id > after] if after is not None else []
    walks = [
        select(model.id)
        .where(*filters(column), *walking, column("state") == state, *later)
        .order_by(model.id)
        .limit(limit + 1)
        for state in chosen
    ]
    if len(walks) == 1:
        merged = walks[0].subquery()
    else:
        each = union_all(*(select(w.subquery().c.id) for w in walks)).subquery()
        merged = select(each.c.id).order_by(each.c.id).limit(limit + 1).subquery()
    rows = session.execute(shown.join(merged, merged.c.id == model.id).order_by(model.id)).all()
    return _with_cursor(rows, limit)


def _with_cursor(
    rows: Sequence[Row[Any]], limit: int
) -> tuple[Sequence[Row[Any]], uuid.UUID | None]:
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


# SQLite's trigram indexes of numbers (FTS5 tables kept by triggers: migration r0008).
_NUMBER_TRIGRAMS = {
    kind: sql_table(f"trgm_{kind}_numbers", sql_column("number"), sql_column("record_id"))
    for kind in ("work_order", "production_order")
}


def number_match(
    session: Session, q: str, model: Any, kind: str, filtered: frozenset[str]
) -> Found | bool:
    """Where numbers of `kind` (WO-000123: the prefix, then digits) contain `q`, in a shape an
    index serves: True when every number does, False when none can. A text that starts the
    digits (`WO-0001`, `-0001`) is a prefix, found in a b-tree; digits alone (`0001`), which
    may be anywhere in them, in the trigram index of numbers (pg_trgm on PostgreSQL, FTS5 on
    SQLite, which needs three of them; fewer are checked inside the b-tree of numbers). The
    way found leaves every other column of `filtered` (the list's) to no index."""
    column = model.number
    by_number = filtered - {"org_id", "number"}
    prefix = f"{PREFIXES[kind]}-"
    text = q.strip().upper()
    if text in prefix:
        return True
    every = (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))  # a range of every number
    for anchor in (prefix, prefix[1:], prefix[2:]):
        digits = text.removeprefix(anchor)
        if text.startswith(anchor) and digits.isascii() and digits.isdigit():
            start = prefix + digits
            if is_postgres(session):
                # varchar_pattern_ops (ix_..._org_number): a prefix in any collation.
                return Found(column.like(f"{start}%"), by_number)
            # SQLite's b-trees compare bytes: the prefix is a range.
            return Found(
                and_(column >= start, column < start[:-1] + chr(ord(start[-1]) + 1)), by_number
            )
    if text.isascii() and text.isdigit():
        # Digits have no case to fold.
        contains = column.like(f"%{text}%")
        if is_postgres(session):
            return Found(contains, by_number)
        if len(text) >= 3:
            trigrams = _NUMBER_TRIGRAMS[kind]
            found = select(trigrams.c.record_id).where(trigrams.c.number.like(f"%{text}%"))
            # By primary key from what the index found (of every organisation: the org_id
            # and the text are checked again on the rows).
            return Found(and_(model.id.in_(found), contains), filtered - {"id"})
        # LIKE checked inside the index of numbers, which the range of every number leads to.
        return Found(and_(column >= every[0], column < every[1], contains), by_number)
    return False


@dataclass(frozen=True)
class MatchingItems:
    """The items whose SKU or name contains a text: their ids, or, when there are more than
    FEW_ITEMS, the query of them (`many`)."""

    ids: Sequence[uuid.UUID]
    query: Select[uuid.UUID]
    many: bool

    def of(self, column: Any) -> ColumnElement[bool] | None:
        """`column` is one of the items; None when there are none."""
        if self.many:
            return cast(ColumnElement[bool], column.in_(self.query))
        return cast(ColumnElement[bool], column.in_(self.ids)) if self.ids else None


def matching_items(session: Session, org_id: uuid.UUID, q: str) -> MatchingItems:
    query = select(Item.id).where(Item.org_id == org_id, records.text_match(q, Item.sku, Item.name))
    ids = list(session.scalars(query.limit(FEW_ITEMS + 1)))
    return MatchingItems(ids, query, len(ids) > FEW_ITEMS)


def _window_share(
    session: Session, org_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> tuple[float, bool]:
    """About what share of the organisation's planned work a window [start, end) holds, as
    told by where its bounds fall between the first and the last planned start (work is
    planned at a steady pace); and whether less of it ends after `start` than starts before
    `end`: then SQLite finds the window from its end (ix_work_orders_org_window), else from
    its start (ix_work_orders_org_planned)."""
    mine = WorkOrder.org_id == org_id
    # Two subqueries: each is one step down ix_work_orders_org_planned, on SQLite too.
    first, last = session.execute(
        select(
            select(func.min(WorkOrder.planned_start)).where(mine).scalar_subquery(),
            select(func.max(WorkOrder.planned_start)).where(mine).scalar_subquery(),
        )
    ).one()
    if first is None or last is None or last <= first:
        return 0.0, end is None
    span = (last - first).total_seconds()
    after_start = (last - start).total_seconds() / span if start is not None else 1.0
    before_end = (end - first).total_seconds() / span if end is not None else 1.0
    share = min(after_start, before_end, after_start + before_end - 1)
    return max(0.0, min(1.0, share)), after_start <= before_end


# --- work orders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkOrderFilter:
    states: Sequence[State] = ()
    production_order_id: uuid.UUID | None = None
    resource_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    planned_from: datetime | None = None
    planned_to: datetime | None = None
    due_before: datetime | None = None
    q: str | None = None


def get_work_order(session: Session, actor: Actor, wo_id: uuid.UUID) -> WorkOrder:
    authorize(actor, "work_order.read")
    return records.get_owned(session, WorkOrder, actor.org_id, wo_id, kind="work order")


# Every column a work order list filters on. Each way to a page leaves some of them to the
# index it is meant for and makes the rest `unindexed` on SQLite.
_WO_FILTERED = frozenset(
    {"org_id", "state", "production_order_id", "item_id", "due_date", "planned_start",
     "planned_end", "number", "id"}
)  # fmt: skip


def list_work_orders(
    session: Session, actor: Actor, f: WorkOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[Row[Any]], uuid.UUID | None]:
    """One page of the organisation's work orders that pass the filter, in id order, and the
    cursor of the next: rows of their columns, for `present_work_orders`."""
    authorize(actor, "work_order.read")
    if f.planned_from and f.planned_to and f.planned_to <= f.planned_from:
        raise ValidationProblem([FieldError(["query", "planned_to"], "must be after planned_from")])
    wo = WorkOrder
    postgres = is_postgres(session)
    text: list[ColumnElement[bool]] = []

    def filters(column: Columns) -> list[ColumnElement[bool]]:
        where = [column("org_id") == actor.org_id, *text]
        if f.production_order_id is not None:
            where.append(column("production_order_id") == f.production_order_id)
        if f.item_id is not None:
            where.append(column("item_id") == f.item_id)
        if f.due_before is not None:
            where.append(column("due_date") < f.due_before)
        if f.planned_from is not None:
            where.append(column("planned_end") > f.planned_from)
        if f.planned_to is not None:
            where.append(column("planned_start") < f.planned_to)
        return where

    # A walk goes down the index of its item (and state), of its production order (where
    # the state is checked on the row), or of its state.
    lead = (
        {"item_id", "state"}
        if f.item_id
        else {"production_order_id"}
        if f.production_order_id
        else {"state"}
    )
    ways = _Ways(walk_off=_WO_FILTERED - {"org_id", *lead})
    if f.planned_from is not None or f.planned_to is not None:
        share, from_end = _window_share(session, actor.org_id, f.planned_from, f.planned_to)
        # Only work planned to start before a time (from the first on) comes early in id
        # order, if there is much of it; any other window is found first, all of it: a walk
        # would step over all that was planned before it.
        if f.planned_from is not None or share < DENSE:
            # From the window's index that leads with its end (on PostgreSQL the GiST index
            # of both), or the one that leads with its start.
            keep = "planned_end" if from_end or postgres else "planned_start"
            off = _WO_FILTERED - {"org_id", keep}
            ways.first = [Found(true(), off, capped=f.planned_from is None)]
    if f.resource_id is not None:
        lines = select(LineItem.work_order_id).where(LineItem.resource_id == f.resource_id)
        ways.finding.append(wo.id.in_(lines))
        # A probe of the resource's line items per row the walk steps over (OFFSET 0: never
        # a list or a merge of all the work orders of the resource, for each walk).
        ways.walking.append(exists(lines.where(LineItem.work_order_id == wo.id).offset(0)))
        uses = session.scalar(select(func.count()).select_from(lines.limit(FEW_LINES).subquery()))
        if (uses or 0) < FEW_LINES:
            # Few: its work orders, found by primary key from its line items.
            ways.first = [Found(true(), _WO_FILTERED - {"id"})]
    if f.q:
        number = number_match(session, f.q, wo, "work_order", _WO_FILTERED)
        if number is not True:  # (when every number contains it, `q` leaves nothing out)
            items = matching_items(session, actor.org_id, f.q)
            making = items.of(wo.item_id)
            found = []
            if number is not False:
                found.append(number)
            if making is not None:
                found.append(Found(making, _WO_FILTERED - {"org_id", "item_id"}))
            if not found:
                return [], None
            ways.text(found, items.many, text)
    return ways.page(session, wo, _WORK_ORDER_ROWS, filters, f.states, after, limit)


def present_work_orders(
    session: Session, work_orders: Sequence[WorkOrder] | Sequence[Row[Any]]
) -> list[WorkOrderOut]:
    """Response bodies for work orders (records, or the rows of `list_work_orders`), with their
    line items, resources, alternatives, dependencies, allowed actions and punctuality, in
    two queries however many there are (three for records: their production orders' states,
    which a list's rows carry)."""
    if not work_orders:
        return []
    ids = [wo.id for wo in work_orders]
    lines: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    body: dict[str, Any] = {}
    width = len(_LINE_ITEM_FIELDS)
    for row in session.execute(_LINE_ITEMS_OF, {"ids": ids}):
        if row[1] != body.get("id"):
            body = dict(zip(_LINE_ITEM_FIELDS, row[1 : width + 1], strict=True))
            code, name = row[width + 1], row[width + 2]
            body["resource"] = (
                {"id": body["resource_id"], "code": code, "name": name}
                if code is not None
                else None
            )
            body["alternatives"] = []
            lines[row[0]].append(body)
        resource_id, setup, run, code, name = row[width + 3 :]
        if resource_id is not None:
            body["alternatives"].append(
                {
                    "resource_id": resource_id,
                    "resource": {"id": resource_id, "code": code, "name": name}
                    if code is not None
                    else None,
                    "setup_minutes": setup,
                    "run_minutes_per_unit": run,
                }
            )
    # A list's rows carry their production order's state; records are looked up.
    po_states: dict[uuid.UUID, State] = {
        wo.production_order_id: wo._mapping["production_order_state"]
        for wo in work_orders
        if isinstance(wo, Row) and wo.production_order_id
    }
    po_ids = list({wo.production_order_id for wo in work_orders} - {None, *po_states})
    if po_ids:
        rows = session.execute(_STATES_OF_ORDERS, {"ids": po_ids})
        po_states.update({po_id: state for po_id, state in rows})  # noqa: C416
    depends = dependencies_of(session, ids)
    now = utcnow()
    out = []
    for wo in work_orders:
        items = lines.get(wo.id, [])
        view = WorkOrderView(
            state=wo.state,
            on_hold=wo.on_hold,
            line_items=tuple(
                LineItemView(
                    sequence=li["sequence"],
                    operation=li["operation"],
                    status=li["status"],
                    has_resource=li["resource_id"] is not None,
                    planned_start=li["planned_start"],
                    planned_end=li["planned_end"],
                )
                for li in items
            ),
            production_order_state=po_states.get(wo.production_order_id)
            if wo.production_order_id
            else None,
        )
        body = (
            dict(zip(_WORK_ORDER_FIELDS, wo, strict=False))  # (its first columns, in order)
            if isinstance(wo, Row)
            else {name: getattr(wo, name) for name in _WORK_ORDER_FIELDS}
        )
        body["line_items"] = items
        body["resource_ids"] = _distinct(li["resource_id"] for li in items)
        body["depends_on"] = depends.get(wo.id, [])
        body["allowed_actions"] = list(allowed_actions(view))
        body["punctuality"] = punctuality(wo.state, wo.due_date, wo.planned_end, now)
        out.append(WorkOrderOut.model_validate(body))
    return out


def alternatives_of(
    session: Session, line_item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[LineItemAlternative]]:
    """The alternative resources of these line items, in one query (none without ids)."""
    found: dict[uuid.UUID, list[LineItemAlternative]] = defaultdict(list)
    if line_item_ids:
        for alt in session.scalars(
            select(LineItemAlternative)
            .where(LineItemAlternative.line_item_id.in_(line_item_ids))
            .order_by(LineItemAlternative.id)
        ):
            found[alt.line_item_id].append(alt)
    return found


def dependencies_of(
    session: Session, work_order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The work orders each of these waits for, in one query (none without ids)."""
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if work_order_ids:
        rows = session.execute(_DEPENDENCIES_OF, {"ids": list(work_order_ids)})
        for wo_id, pred_id in rows:
            found[wo_id].append(pred_id)
    return found


def work_order_history(session: Session, actor: Actor, wo_id: uuid.UUID) -> Sequence[Event]:
    wo = get_work_order(session, actor, wo_id)
    return events.for_entity(session, actor.org_id, wo.id)


class LineItemFacts(Protocol):
    """What a line item's rules read of it: a record, or a row of these columns."""

    @property
    def sequence(self) -> int: ...
    @property
    def operation(self) -> str: ...
    @property
    def status(self) -> LineItemStatus: ...
    @property
    def resource_id(self) -> uuid.UUID | None: ...
    @property
    def planned_start(self) -> datetime | None: ...
    @property
    def planned_end(self) -> datetime | None: ...


def line_item_view(li: LineItemFacts) -> LineItemView:
    """What the rules need to know of a line item."""
    return LineItemView(
        sequence=li.sequence,
        operation=li.operation,
        status=li.status,
        has_resource=li.resource_id is not None,
        planned_start=li.planned_start,
        planned_end=li.planned_end,
    )


def work_order_view(wo: WorkOrder, po_state: State | None) -> WorkOrderView:
    return WorkOrderView(
        state=wo.state,
        on_hold=wo.on_hold,
        line_items=tuple(line_item_view(li) for li in wo.line_items),
        production_order_state=po_state,
    )


def _distinct(ids: Iterable[uuid.UUID | None]) -> list[uuid.UUID]:
    return list(dict.fromkeys(i for i in ids if i is not None))


# --- production orders ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProductionOrderFilter:
    states: Sequence[State] = ()
    owner_id: uuid.UUID | None = None
    due_before: datetime | None = None
    q: str | None = None


def get_production_order(session: Session, actor: Actor, po_id: uuid.UUID) -> ProductionOrder:
    authorize(actor, "production_order.read")
    return records.get_owned(session, ProductionOrder, actor.org_id, po_id, kind="production order")


_PO_FILTERED = frozenset({"org_id", "state", "owner_id", "due_date", "number", "id"})


def list_production_orders(
    session: Session, actor: Actor, f: ProductionOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[Row[Any]], uuid.UUID | None]:
    """One page of the organisation's production orders that pass the filter, in id order,
    and the cursor of the next: rows of their columns, for `present_production_orders`."""
    authorize(actor, "production_order.read")
    po = ProductionOrder
    text: list[ColumnElement[bool]] = []

    def filters(column: Columns) -> list[ColumnElement[bool]]:
        where = [column("org_id") == actor.org_id, *text]
        if f.owner_id is not None:
            where.append(column("owner_id") == f.owner_id)
        if f.due_before is not None:
            where.append(column("due_date") < f.due_before)
        return where

    # A walk goes down the index of its owner and state, or of its state.
    ways = _Ways(walk_off=_PO_FILTERED - {"org_id", "state", "owner_id"})
    if f.q:
        number = number_match(session, f.q, po, "production_order", _PO_FILTERED)
        if number is not True:
            items = matching_items(session, actor.org_id, f.q)
            making = items.of(ProductionOrderItem.item_id)
            found = [Found(records.text_match(f.q, po.reference), _PO_FILTERED - {"org_id"})]
            if number is not False:
                found.append(number)
            if making is not None:
                of_items = select(ProductionOrderItem.production_order_id).where(
                    ProductionOrderItem.org_id == actor.org_id, making
                )
                # By primary key from the orders' items.
                found.append(Found(po.id.in_(of_items), _PO_FILTERED - {"id"}))
            ways.text(found, items.many, text)
    return ways.page(session, po, _PRODUCTION_ORDER_ROWS, filters, f.states, after, limit)


def present_production_orders(
    session: Session,
    orders: Sequence[ProductionOrder] | Sequence[Row[Any]],
    *,
    with_work_orders: bool = True,
) -> list[ProductionOrderOut]:
    """Response bodies (of records, or the rows of `list_production_orders`) with progress and
    allowed actions, from one aggregate query for the whole page; the work order briefs (one
    more query) only where asked for: a list shows the summary, the detail page the work
    orders themselves."""
    ids = [po.id for po in orders]
    if not ids:
        return []
    items: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    counts: dict[uuid.UUID, Counter[State]] = defaultdict(Counter)
    produced: dict[uuid.UUID, dict[uuid.UUID, Decimal]] = defaultdict(dict)
    briefs: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    now = utcnow()
    for po_id, item_id, poi_id, quantity, unit in session.execute(
        select(
            ProductionOrderItem.production_order_id,
            ProductionOrderItem.item_id,
            ProductionOrderItem.id,
            ProductionOrderItem.quantity,
            ProductionOrderItem.unit,
        )
        .where(ProductionOrderItem.production_order_id.in_(ids))
        .order_by(ProductionOrderItem.production_order_id, ProductionOrderItem.position)
    ):
        items[po_id].append({"id": poi_id, "item_id": item_id, "quantity": quantity, "unit": unit})
    # Down ix_work_orders_org_production_order: the tenant, then the orders (the state is
    # checked on the row).
    (org_id,) = {po.org_id for po in orders}
    live = (
        WorkOrder.org_id == org_id,
        WorkOrder.production_order_id.in_(ids),
        unindexed(WorkOrder.state) != State.DELETED,
    )
    # (grouped by unindexed columns: SQLite would otherwise walk all the tenant's work orders
    # down an index ordered by item, to group without sorting)
    state, item = unindexed(WorkOrder.state), unindexed(WorkOrder.item_id)
    rows = session.execute(
        select(
            WorkOrder.production_order_id,
            state,
            item,
            func.count(),
            func.sum(WorkOrder.quantity_produced),
        )
        .where(*live)
        .group_by(WorkOrder.production_order_id, state, item)
    )
    for order_id, state, item_id, n, made in rows:
        assert order_id is not None
        counts[order_id][state] += n
        produced[order_id][item_id] = produced[order_id].get(item_id, Decimal(0)) + made
    if with_work_orders:
        columns = [getattr(WorkOrder, name) for name in _BRIEF_FIELDS]
        for row in session.execute(
            select(WorkOrder.production_order_id, *columns).where(*live).order_by(WorkOrder.id)
        ):
            brief = dict(zip(_BRIEF_FIELDS, row[1:], strict=True))
            brief["punctuality"] = punctuality(
                brief["state"], brief["due_date"], brief["planned_end"], now
            )
            briefs[row[0]].append(brief)
    out = []
    for po in orders:
        made_by_item = dict(produced[po.id])
        lines = [
            # an item listed twice is credited once, on its first line
            {**line, "quantity_produced": made_by_item.pop(line["item_id"], Decimal(0))}
            for line in items[po.id]
        ]
        planned = sum((line["quantity"] for line in lines), Decimal(0))
        made = sum((line["quantity_produced"] for line in lines), Decimal(0))
        percent = min(Decimal(100), made * 100 / planned) if planned else Decimal(0)
        by_state = counts[po.id]
        view = ProductionOrderView(po.state, tuple(by_state))
        body = (
            dict(zip(_PRODUCTION_ORDER_FIELDS, po, strict=False))  # (its first columns)
            if isinstance(po, Row)
            else {name: getattr(po, name) for name in _PRODUCTION_ORDER_FIELDS}
        )
        body["items"] = lines
        body["work_orders"] = briefs[po.id] if with_work_orders else None
        body["summary"] = {
            "count": sum(by_state.values()),
            "by_state": dict(by_state),
            "quantity_planned": planned,
            "quantity_produced": made,
            "progress_percent": percent.quantize(Decimal("0.1")),
        }
        body["allowed_actions"] = list(allowed_actions(view))
        out.append(ProductionOrderOut.model_validate(body))
    return out


def production_order_history(session: Session, actor: Actor, po_id: uuid.UUID) -> Sequence[Event]:
    """The order's events and its work orders', oldest first."""
    po = get_production_order(session, actor, po_id)
    return events.for_entity(session, actor.org_id, po.id, with_children=True)


def line_item_reports(
    session: Session, actor: Actor, wo_id: uuid.UUID, latest: int | None = None
) -> list[LineItemReportOut]:
    """Every report of a work order's line items, reversals included, oldest first; or only
    the `latest` ones. (A reversal comes after its report, so whether a report shown is
    reversed is known from what is shown.)"""
    wo = get_work_order(session, actor, wo_id)
    found = select(LineItemReport).where(
        LineItemReport.work_order_id == wo.id, LineItemReport.org_id == actor.org_id
    )
    if latest is None:
        rows = session.scalars(found.order_by(LineItemReport.at, LineItemReport.id)).all()
    else:
        newest_first = found.order_by(LineItemReport.at.desc(), LineItemReport.id.desc())
        rows = session.scalars(newest_first.limit(latest)).all()[::-1]
    reversed_ids = {r.reverses_id for r in rows if r.reverses_id is not None}
    return [
        LineItemReportOut.model_validate(r).model_copy(update={"reversed": r.id in reversed_ids})
        for r in rows
    ]
