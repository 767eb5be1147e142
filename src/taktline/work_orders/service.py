"""Work order use cases: create, update, schedule, start, report, complete, cancel, delete.

Each public function is one transaction. It loads the actor's rows only, locks what it will
change (the production order first, then the work order, then the resources it books, so
that concurrent use cases never deadlock), asks the pure lifecycle whether the action may be
taken, applies it, moves the production order with it and writes the events.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from taktline import crud
from taktline.auth.permissions import Actor
from taktline.db import new_id, transaction, utcnow
from taktline.errors import (
    BookingConflict,
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationProblem,
)
from taktline.events import service as events
from taktline.events.models import Event
from taktline.items.models import Item
from taktline.numbering import next_numbers
from taktline.production_orders.lifecycle import ACCEPTS_WORK_ORDERS
from taktline.production_orders.models import ProductionOrder
from taktline.production_orders.tracking import follow_work_orders
from taktline.resources.capacity import Window, earliest_fit, fits, overlaps
from taktline.resources.models import Resource, ResourceBooking
from taktline.work_orders.lifecycle import (
    FINISHED_LINE_ITEM,
    Decision,
    LineItemStatus,
    LineItemView,
    State,
    WorkOrderView,
    allowed_actions,
    decide,
    line_item_after_report,
    schedule_problems,
)
from taktline.work_orders.models import (
    LineItem,
    LineItemAlternative,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.work_orders.schemas import (
    AlternativeOut,
    CompleteRequest,
    LineItemIn,
    LineItemOut,
    LineItemWindow,
    ReportRequest,
    ResourceRef,
    WorkOrderCreate,
    WorkOrderFields,
    WorkOrderOut,
    WorkOrderUpdate,
)

ENTITY = "work_order"
Loc = list[str | int]
# `pinned` alone may change in these states: the scheduler reads it, nothing else changes.
PINNABLE_STATES = frozenset({State.DRAFT, State.SCHEDULED, State.IN_PROCESS})


# --- reading -------------------------------------------------------------------------------


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


def get(session: Session, actor: Actor, wo_id: uuid.UUID) -> WorkOrder:
    return crud.get_owned(session, WorkOrder, actor.org_id, wo_id, kind="work order")


def list_page(
    session: Session, actor: Actor, f: WorkOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[WorkOrder], uuid.UUID | None]:
    if f.planned_from and f.planned_to and f.planned_to <= f.planned_from:
        raise ValidationProblem([FieldError(["query", "planned_to"], "must be after planned_from")])
    stmt = select(WorkOrder).where(WorkOrder.org_id == actor.org_id)
    # DELETED work orders are tombstones: listed only when asked for by name.
    stmt = stmt.where(
        WorkOrder.state.in_(f.states) if f.states else WorkOrder.state != State.DELETED
    )
    if f.production_order_id is not None:
        stmt = stmt.where(WorkOrder.production_order_id == f.production_order_id)
    if f.item_id is not None:
        stmt = stmt.where(WorkOrder.item_id == f.item_id)
    if f.resource_id is not None:
        stmt = stmt.where(
            WorkOrder.id.in_(
                select(LineItem.work_order_id).where(LineItem.resource_id == f.resource_id)
            )
        )
    if f.planned_from is not None:
        stmt = stmt.where(WorkOrder.planned_end > f.planned_from)
    if f.planned_to is not None:
        stmt = stmt.where(WorkOrder.planned_start < f.planned_to)
    if f.due_before is not None:
        stmt = stmt.where(WorkOrder.due_date < f.due_before)
    if f.q:
        matching_items = select(Item.id).where(
            Item.org_id == actor.org_id, crud.text_match(f.q, Item.sku, Item.name)
        )
        stmt = stmt.where(
            or_(crud.text_match(f.q, WorkOrder.number), WorkOrder.item_id.in_(matching_items))
        )
    return crud.page(session, stmt, WorkOrder, after, limit)


def present(session: Session, work_orders: Sequence[WorkOrder]) -> list[WorkOrderOut]:
    """Response bodies for work orders, with their resources, alternatives, dependencies and
    allowed actions, in at most four queries however many there are."""
    alternatives = alternatives_of(session, [li.id for wo in work_orders for li in wo.line_items])
    resource_ids = {li.resource_id for wo in work_orders for li in wo.line_items if li.resource_id}
    resource_ids |= {a.resource_id for alts in alternatives.values() for a in alts}
    resources = (
        {
            r.id: ResourceRef.model_validate(r)
            for r in session.scalars(select(Resource).where(Resource.id.in_(resource_ids)))
        }
        if resource_ids
        else {}
    )
    po_ids = {wo.production_order_id for wo in work_orders if wo.production_order_id}
    po_states: dict[uuid.UUID, State] = {}
    if po_ids:
        rows = session.execute(
            select(ProductionOrder.id, ProductionOrder.state).where(ProductionOrder.id.in_(po_ids))
        )
        po_states = {po_id: state for po_id, state in rows}  # noqa: C416 - Result is a mapping to dict()
    depends = dependencies_of(session, [wo.id for wo in work_orders])
    out = []
    for wo in work_orders:
        view = _view(wo, po_states.get(wo.production_order_id) if wo.production_order_id else None)
        line_items = [
            LineItemOut.model_validate(li).model_copy(
                update={
                    "resource": resources.get(li.resource_id) if li.resource_id else None,
                    "alternatives": [
                        AlternativeOut.model_validate(a).model_copy(
                            update={"resource": resources.get(a.resource_id)}
                        )
                        for a in alternatives.get(li.id, [])
                    ],
                }
            )
            for li in wo.line_items
        ]
        body = WorkOrderOut.model_validate(
            {
                **{c: getattr(wo, c) for c in WorkOrderOut.model_fields if hasattr(wo, c)},
                "line_items": line_items,
                "resource_ids": _distinct(li.resource_id for li in wo.line_items),
                "depends_on": depends.get(wo.id, []),
                "allowed_actions": list(allowed_actions(view)),
            }
        )
        out.append(body)
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
        rows = session.execute(
            select(WorkOrderDependency.work_order_id, WorkOrderDependency.depends_on_id)
            .where(WorkOrderDependency.work_order_id.in_(work_order_ids))
            .order_by(WorkOrderDependency.depends_on_id)
        )
        for wo_id, pred_id in rows:
            found[wo_id].append(pred_id)
    return found


def history(session: Session, actor: Actor, wo_id: uuid.UUID) -> Sequence[Event]:
    wo = get(session, actor, wo_id)
    return events.for_entity(session, actor.org_id, wo.id)


# --- creating and editing ------------------------------------------------------------------


def create(session: Session, actor: Actor, body: WorkOrderCreate) -> WorkOrder:
    with transaction(session):
        po = None
        if body.production_order_id is not None:
            po = _lock_production_order_for_new_work(
                session, actor, body.production_order_id, ["body", "production_order_id"]
            )
        (wo,) = build(session, actor, [(["body"], body)], po)
        if body.depends_on:
            _set_dependencies(session, actor, wo, body.depends_on, ["body", "depends_on"])
        if po is not None:
            follow_work_orders(session, actor, po, f"{wo.number} was added")
    return wo


def build(
    session: Session,
    actor: Actor,
    bodies: Sequence[tuple[Loc, WorkOrderFields]],
    po: ProductionOrder | None,
) -> list[WorkOrder]:
    """Creates work orders with their line items: the bulk path shared with production orders.

    Every reference is checked in one query per kind, every number reserved in one statement.
    `bodies` pairs each body with its place in the request, for errors that say where.
    """
    items = crud.resolve_refs(
        session,
        Item,
        actor.org_id,
        [([*loc, "item_id"], b.item_id) for loc, b in bodies],
        kind="item",
    )
    crud.resolve_refs(
        session,
        Resource,
        actor.org_id,
        [
            ([*loc, "line_items", i, "resource_id"], li.resource_id)
            for loc, b in bodies
            for i, li in enumerate(b.line_items)
            if li.resource_id is not None
        ]
        + [
            ([*loc, "line_items", i, "alternatives", k, "resource_id"], alt.resource_id)
            for loc, b in bodies
            for i, li in enumerate(b.line_items)
            for k, alt in enumerate(li.alternatives)
        ],
        kind="resource",
    )
    _check_alternatives([([*loc, "line_items"], b.line_items) for loc, b in bodies])
    numbers = next_numbers(session, actor.org_id, "work_order", len(bodies))
    created = []
    for number, (_, body) in zip(numbers, bodies, strict=True):
        wo = WorkOrder(
            org_id=actor.org_id,
            number=number,
            state=State.DRAFT,
            production_order_id=po.id if po else None,
            item_id=body.item_id,
            quantity=body.quantity,
            unit=body.unit or items[body.item_id].unit,
            instructions=body.instructions,
            due_date=body.due_date if body.due_date else (po.due_date if po else None),
            priority=body.priority,
            release_at=body.release_at,
            pinned=body.pinned,
            line_items=_new_line_items(actor, body.line_items),
        )
        _refresh_planned_window(wo)
        session.add(wo)
        created.append(wo)
    session.flush()
    session.add_all(
        alt
        for wo, (_, body) in zip(created, bodies, strict=True)
        for alt in _new_alternatives(actor, wo.line_items, body.line_items)
    )
    for wo, (_, body) in zip(created, bodies, strict=True):
        events.record(
            session,
            actor,
            ENTITY,
            wo.id,
            "create",
            to_state=State.DRAFT,
            changes=body.model_dump(mode="json"),
            parent_id=wo.production_order_id,
        )
    return created


def update(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    body: WorkOrderUpdate,
    expected_version: int | None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        changes = body.changes()
        if not (set(changes) == {"pinned"} and wo.state in PINNABLE_STATES):
            _decide_or_raise(wo, po, "update")
        line_items = changes.pop("line_items", None)
        depends_on = changes.pop("depends_on", None)
        if "item_id" in changes:
            item = crud.resolve_refs(
                session,
                Item,
                actor.org_id,
                [(["body", "item_id"], changes["item_id"])],
                kind="item",
            )[changes["item_id"]]
            changes.setdefault("unit", item.unit)
        if "unit" in changes and changes["unit"] is None:
            changes["unit"] = session.get_one(Item, changes.get("item_id", wo.item_id)).unit
        diff = crud.apply_changes(wo, changes)
        if line_items is not None:
            new_items = body.line_items or []
            refs: list[tuple[Loc, uuid.UUID]] = [
                (["body", "line_items", i, "resource_id"], li.resource_id)
                for i, li in enumerate(new_items)
                if li.resource_id is not None
            ]
            refs += [
                (["body", "line_items", i, "alternatives", k, "resource_id"], a.resource_id)
                for i, li in enumerate(new_items)
                for k, a in enumerate(li.alternatives)
            ]
            crud.resolve_refs(session, Resource, actor.org_id, refs, kind="resource")
            _check_alternatives([(["body", "line_items"], new_items)])
            # Old rows go first: the new ones may reuse their sequence numbers.
            wo.line_items.clear()
            session.flush()
            wo.line_items.extend(_new_line_items(actor, new_items))
            session.flush()
            session.add_all(_new_alternatives(actor, wo.line_items, new_items))
            diff["line_items"] = ["replaced", [li.model_dump(mode="json") for li in new_items]]
        if depends_on is not None:
            before = dependencies_of(session, [wo.id]).get(wo.id, [])
            after = _set_dependencies(session, actor, wo, depends_on, ["body", "depends_on"])
            if sorted(before) != sorted(after):
                diff["depends_on"] = [[str(i) for i in before], [str(i) for i in after]]
        _refresh_planned_window(wo)
        if diff:
            wo.updated_at = utcnow()
            events.record(
                session,
                actor,
                ENTITY,
                wo.id,
                "update",
                changes=diff,
                parent_id=wo.production_order_id,
            )
        session.flush()
    return wo


# --- the lifecycle actions -----------------------------------------------------------------


def schedule(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    *,
    start: datetime | None = None,
    windows: Sequence[LineItemWindow] = (),
    expected_version: int | None = None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        schedule_locked(session, actor, wo, po, start=start, windows=windows)
        _follow(session, actor, po, wo, "scheduled")
    return wo


def schedule_locked(
    session: Session,
    actor: Actor,
    wo: WorkOrder,
    po: ProductionOrder | None,
    *,
    start: datetime | None = None,
    windows: Sequence[LineItemWindow] = (),
    ledger: "BookingLedger | None" = None,
) -> None:
    """Schedules a work order the caller has locked: sets the windows, books the resources.
    The production order's schedule runs it for each of its work orders on one ledger."""
    _decide_or_raise(wo, po, "schedule")
    if windows:
        _apply_windows(session, actor, wo, windows, ["body"])
    if start is not None:
        _check_can_lay_out(wo)
    else:
        problems = schedule_problems([_line_item_view(li) for li in wo.line_items])
        if problems:
            _refuse(wo, po, "schedule", "; ".join(problems))
    if ledger is None:
        ledger = BookingLedger.load(session, actor, [wo], start or earliest_planned_start([wo]))
    if start is not None:
        try:
            ledger.lay_out(wo, start)
        except OverflowError:
            raise ValidationProblem(
                [FieldError(["body", "start"], "the line items would end after the year 9999")]
            ) from None
    ledger.book(session, actor, wo)
    _refresh_planned_window(wo)
    _transition(session, actor, wo, po, "schedule", changes=_windows_of(wo))


def unschedule(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        _transition(session, actor, wo, po, "unschedule")
        release_bookings(session, [wo.id])
        _follow(session, actor, po, wo, "unscheduled")
    return wo


def start(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        _transition(session, actor, wo, po, "start")
        wo.actual_start = utcnow()
        _follow(session, actor, po, wo, "started")
    return wo


def pause(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        _transition(session, actor, wo, po, "pause", reason=reason)
        wo.on_hold = True
        wo.hold_reason = reason
    return wo


def resume(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        _transition(session, actor, wo, po, "resume", reason=wo.hold_reason)
        wo.on_hold = False
        wo.hold_reason = None
    return wo


def report(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    line_item_id: uuid.UUID,
    body: ReportRequest,
    expected_version: int | None = None,
) -> WorkOrder:
    """Adds to a line item's quantities (reports add up, they never overwrite); the first
    report starts the line item and `done` finishes it."""
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        li = _line_item(wo, line_item_id)
        _decide_or_raise(wo, po, "report")
        if li.status in FINISHED_LINE_ITEM:
            raise Conflict(
                f"Line item {li.sequence} ({li.operation}) of {wo.number} is already {li.status};"
                " it takes no more reports."
            )
        now = utcnow()
        li.status = line_item_after_report(li.status, body.done)
        li.quantity_completed += body.quantity_completed
        li.quantity_scrapped += body.quantity_scrapped
        li.actual_start = li.actual_start or now
        if body.done:
            li.actual_end = now
        _roll_up_quantities(wo)
        _transition(
            session,
            actor,
            wo,
            po,
            "report",
            reason=body.note,
            changes={
                "line_item": li.sequence,
                "operation": li.operation,
                "quantity_completed": str(body.quantity_completed),
                "quantity_scrapped": str(body.quantity_scrapped),
                "status": li.status.value,
            },
        )
    return wo


def skip(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    line_item_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        li = _line_item(wo, line_item_id)
        _decide_or_raise(wo, po, "skip")
        if li.status is not LineItemStatus.PENDING:
            raise Conflict(
                f"Line item {li.sequence} ({li.operation}) of {wo.number} is {li.status}; "
                "only a PENDING line item can be skipped."
            )
        li.status = LineItemStatus.SKIPPED
        _roll_up_quantities(wo)
        _transition(
            session,
            actor,
            wo,
            po,
            "skip",
            reason=reason,
            changes={"line_item": li.sequence, "operation": li.operation, "status": "SKIPPED"},
        )
    return wo


def complete(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    body: CompleteRequest,
    expected_version: int | None = None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        _decide_or_raise(wo, po, "complete")
        produced = _final_quantity(wo.quantity_produced, body.quantity_produced, "produced")
        scrapped = _final_quantity(wo.quantity_scrapped, body.quantity_scrapped, "scrapped")
        _transition(
            session,
            actor,
            wo,
            po,
            "complete",
            changes={"quantity_produced": str(produced), "quantity_scrapped": str(scrapped)},
        )
        wo.quantity_produced, wo.quantity_scrapped = produced, scrapped
        wo.actual_end = utcnow()
        release_bookings(session, [wo.id])
        _follow(session, actor, po, wo, "completed")
    return wo


def cancel(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        cancel_locked(session, actor, [wo], po, reason)
        _follow(session, actor, po, wo, "canceled")
    return wo


def cancel_locked(
    session: Session,
    actor: Actor,
    work_orders: Sequence[WorkOrder],
    po: ProductionOrder | None,
    reason: str,
) -> None:
    for wo in work_orders:
        _transition(session, actor, wo, po, "cancel", reason=reason)
        wo.on_hold = False
        wo.hold_reason = None
    release_bookings(session, [wo.id for wo in work_orders])


def delete_(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    with transaction(session):
        wo, po = _lock(session, actor, wo_id, expected_version)
        delete_locked(session, actor, [wo], po)
        _follow(session, actor, po, wo, "deleted")
    return wo


def delete_locked(
    session: Session, actor: Actor, work_orders: Sequence[WorkOrder], po: ProductionOrder | None
) -> None:
    for wo in work_orders:
        _transition(session, actor, wo, po, "delete")
    release_bookings(session, [wo.id for wo in work_orders])


@dataclass(frozen=True)
class Placement:
    """Where and when the scheduler runs one line item."""

    line_item_id: uuid.UUID
    resource_id: uuid.UUID
    start: datetime
    end: datetime


def place_locked(
    session: Session,
    wo: WorkOrder,
    placements: Sequence[Placement],
    alternatives: dict[uuid.UUID, list[LineItemAlternative]],
) -> list[dict[str, Any]]:
    """Sets the windows and resources the scheduler chose on a work order the caller has
    locked, and returns what changed, line item by line item, for the audit trail.

    A line item moved to one of its alternative resources swaps places with it: the
    alternative's setup and run time become the line item's, and its old resource (with its
    times) becomes an alternative, so the choices stay the same for the next schedule."""
    by_id = {li.id: li for li in wo.line_items}
    changes: list[dict[str, Any]] = []
    for p in placements:
        li = by_id[p.line_item_id]
        old = (li.resource_id, li.planned_start, li.planned_end)
        if p.resource_id != li.resource_id:
            alt = next(
                (a for a in alternatives.get(li.id, []) if a.resource_id == p.resource_id), None
            )
            if alt is None:
                raise Conflict(
                    f"{wo.number} line item {li.sequence} ({li.operation}) cannot run on "
                    f"resource {p.resource_id}: it is not one of its resources."
                )
            if li.resource_id is None:
                li.resource_id = alt.resource_id
                li.setup_minutes, li.run_minutes_per_unit = (
                    alt.setup_minutes,
                    alt.run_minutes_per_unit,
                )
                session.delete(alt)
            else:
                li.resource_id, alt.resource_id = alt.resource_id, li.resource_id
                li.setup_minutes, alt.setup_minutes = alt.setup_minutes, li.setup_minutes
                li.run_minutes_per_unit, alt.run_minutes_per_unit = (
                    alt.run_minutes_per_unit,
                    li.run_minutes_per_unit,
                )
        li.planned_start, li.planned_end = p.start, p.end
        if old != (li.resource_id, li.planned_start, li.planned_end):
            changes.append(
                {
                    "sequence": li.sequence,
                    "operation": li.operation,
                    "resource_id": [_text(old[0]), _text(li.resource_id)],
                    "planned_start": [_text(old[1]), _text(li.planned_start)],
                    "planned_end": [_text(old[2]), _text(li.planned_end)],
                }
            )
    _refresh_planned_window(wo)
    return changes


def reschedule_locked(
    session: Session,
    actor: Actor,
    wo: WorkOrder,
    ledger: "BookingLedger",
    changes: list[dict[str, Any]],
    reason: str | None = None,
) -> None:
    """Books a SCHEDULED work order's new windows (its old bookings released by the caller)
    and records a `reschedule` event with what moved. Not a lifecycle transition: the state
    stays SCHEDULED."""
    if wo.state is not State.SCHEDULED:
        raise Conflict(
            f"Cannot reschedule {wo.number}: it is {wo.state}, and only SCHEDULED work moves.",
            current_state=wo.state,
        )
    ledger.book(session, actor, wo)
    wo.updated_at = utcnow()
    events.record(
        session,
        actor,
        ENTITY,
        wo.id,
        "reschedule",
        from_state=wo.state,
        to_state=wo.state,
        reason=reason,
        changes={"line_items": changes},
        parent_id=wo.production_order_id,
    )


def _text(value: uuid.UUID | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def release_bookings(session: Session, work_order_ids: Sequence[uuid.UUID]) -> None:
    if work_order_ids:
        session.execute(
            delete(ResourceBooking).where(ResourceBooking.work_order_id.in_(work_order_ids))
        )


# --- internals -----------------------------------------------------------------------------


def _distinct(ids: Iterable[uuid.UUID | None]) -> list[uuid.UUID]:
    return list(dict.fromkeys(i for i in ids if i is not None))


def _new_line_items(actor: Actor, line_items: Sequence[LineItemIn]) -> list[LineItem]:
    return [
        LineItem(
            id=new_id(),
            org_id=actor.org_id,
            sequence=li.sequence if li.sequence is not None else position,
            operation=li.operation,
            resource_id=li.resource_id,
            setup_minutes=li.setup_minutes,
            run_minutes_per_unit=li.run_minutes_per_unit,
            planned_start=li.planned_start,
            planned_end=li.planned_end,
            interruptible=li.interruptible,
        )
        for position, li in enumerate(line_items, start=1)
    ]


def _new_alternatives(
    actor: Actor, rows: Sequence[LineItem], bodies: Sequence[LineItemIn]
) -> list[LineItemAlternative]:
    """The alternatives of line items just created (and flushed: the rows they refer to
    must exist first), matched to their bodies by sequence."""
    by_sequence = {li.sequence: li for li in rows}
    out: list[LineItemAlternative] = []
    for position, body in enumerate(bodies, start=1):
        li = by_sequence[body.sequence if body.sequence is not None else position]
        out.extend(
            LineItemAlternative(
                org_id=actor.org_id,
                line_item_id=li.id,
                resource_id=alt.resource_id,
                setup_minutes=alt.setup_minutes,
                run_minutes_per_unit=alt.run_minutes_per_unit,
            )
            for alt in body.alternatives
        )
    return out


def _check_alternatives(groups: Sequence[tuple[Loc, Sequence[LineItemIn]]]) -> None:
    """An alternative is another resource: not the line item's own, and each one once."""
    errors = []
    for loc, line_items in groups:
        for i, li in enumerate(line_items):
            seen: set[uuid.UUID] = set()
            for k, alt in enumerate(li.alternatives):
                where = [*loc, i, "alternatives", k, "resource_id"]
                if alt.resource_id == li.resource_id:
                    errors.append(FieldError(where, "is the line item's own resource_id"))
                elif alt.resource_id in seen:
                    errors.append(FieldError(where, "is given twice"))
                seen.add(alt.resource_id)
    if errors:
        raise ValidationProblem(errors)


def _set_dependencies(
    session: Session, actor: Actor, wo: WorkOrder, wanted: Sequence[uuid.UUID], loc: Loc
) -> list[uuid.UUID]:
    """Replaces the work orders `wo` waits for: live work orders of its own production
    order, without cycles. Each bad id is reported at its place in the body."""
    ids = list(dict.fromkeys(wanted))
    errors = []
    if ids and wo.production_order_id is None:
        raise ValidationProblem(
            [FieldError(loc, "only a work order of a production order can wait for others")]
        )
    found = {
        other.id: other
        for other in session.scalars(
            select(WorkOrder).where(WorkOrder.id.in_(ids), WorkOrder.org_id == actor.org_id)
        )
    }
    for i, dep in enumerate(wanted):
        other = found.get(dep)
        if dep == wo.id:
            errors.append(FieldError([*loc, i], "a work order cannot wait for itself"))
        elif other is None:
            errors.append(FieldError([*loc, i], "no work order with this id"))
        elif other.production_order_id != wo.production_order_id:
            errors.append(
                FieldError([*loc, i], f"{other.number} is not of the same production order")
            )
        elif other.state in (State.CANCELED, State.DELETED):
            errors.append(FieldError([*loc, i], f"{other.number} is {other.state}"))
        elif wanted.index(dep) != i:
            errors.append(FieldError([*loc, i], "is given twice"))
    if errors:
        raise ValidationProblem(errors)
    if ids:
        # No cycles: none of the new predecessors may (transitively) wait for `wo`.
        edges: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        siblings = select(WorkOrder.id).where(
            WorkOrder.production_order_id == wo.production_order_id
        )
        for after, before in session.execute(
            select(WorkOrderDependency.work_order_id, WorkOrderDependency.depends_on_id).where(
                WorkOrderDependency.work_order_id.in_(siblings),
                WorkOrderDependency.work_order_id != wo.id,
            )
        ):
            edges[after].append(before)
        for i, dep in enumerate(wanted):
            stack, seen = [dep], set()
            while stack:
                at = stack.pop()
                if at == wo.id:
                    raise ValidationProblem(
                        [
                            FieldError(
                                [*loc, i],
                                f"{found[dep].number} already waits for {wo.number}: "
                                "that would be a cycle",
                            )
                        ]
                    )
                if at not in seen:
                    seen.add(at)
                    stack.extend(edges.get(at, []))
    session.execute(delete(WorkOrderDependency).where(WorkOrderDependency.work_order_id == wo.id))
    session.add_all(
        WorkOrderDependency(org_id=actor.org_id, work_order_id=wo.id, depends_on_id=dep)
        for dep in ids
    )
    return ids


def _lock_production_order_for_new_work(
    session: Session, actor: Actor, po_id: uuid.UUID, loc: Loc
) -> ProductionOrder:
    po = session.scalars(
        select(ProductionOrder)
        .where(ProductionOrder.id == po_id, ProductionOrder.org_id == actor.org_id)
        .with_for_update()
    ).first()
    if po is None:
        raise ValidationProblem([FieldError(loc, "no production order with this id")])
    if po.state not in ACCEPTS_WORK_ORDERS:
        raise Conflict(
            f"Production order {po.number} is {po.state}; it takes no new work orders.",
            current_state=po.state,
        )
    return po


def _lock(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None
) -> tuple[WorkOrder, ProductionOrder | None]:
    """Locks the work order's production order, then the work order: the same order as every
    production order use case, so that none of them can deadlock another."""
    po_id = session.execute(
        select(WorkOrder.production_order_id).where(
            WorkOrder.id == wo_id, WorkOrder.org_id == actor.org_id
        )
    ).first()
    if po_id is None:
        raise NotFound("work order", wo_id)
    po = None
    if po_id[0] is not None:
        po = crud.get_owned(
            session,
            ProductionOrder,
            actor.org_id,
            po_id[0],
            kind="production order",
            for_update=True,
        )
    wo = crud.get_owned(session, WorkOrder, actor.org_id, wo_id, kind="work order", for_update=True)
    crud.check_version(wo, expected_version, wo.number)
    return wo, po


def _line_item_view(li: LineItem) -> LineItemView:
    return LineItemView(
        sequence=li.sequence,
        operation=li.operation,
        status=li.status,
        has_resource=li.resource_id is not None,
        planned_start=li.planned_start,
        planned_end=li.planned_end,
    )


def _view(wo: WorkOrder, po_state: State | None) -> WorkOrderView:
    return WorkOrderView(
        state=wo.state,
        on_hold=wo.on_hold,
        line_items=tuple(_line_item_view(li) for li in wo.line_items),
        production_order_state=po_state,
    )


def _refuse(wo: WorkOrder, po: ProductionOrder | None, action: str, reason: str) -> None:
    view = _view(wo, po.state if po else None)
    raise InvalidTransition(
        "work order", wo.number, action, wo.state, allowed_actions(view), reason
    )


def _decide_or_raise(wo: WorkOrder, po: ProductionOrder | None, action: str) -> Decision:
    decision = decide(_view(wo, po.state if po else None), action)
    if decision.refused is not None:
        raise InvalidTransition(
            "work order", wo.number, action, wo.state, decision.allowed_actions, decision.refused
        )
    return decision


def _transition(
    session: Session,
    actor: Actor,
    wo: WorkOrder,
    po: ProductionOrder | None,
    action: str,
    *,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    decision = _decide_or_raise(wo, po, action)
    wo.state = decision.to_state
    # Touching the row bumps its version even when the state stays (a hold, a report), so
    # every change is visible in the ETag.
    wo.updated_at = utcnow()
    events.record(
        session,
        actor,
        ENTITY,
        wo.id,
        action,
        from_state=decision.from_state,
        to_state=decision.to_state,
        reason=reason,
        changes=changes,
        parent_id=wo.production_order_id,
    )


def _follow(
    session: Session, actor: Actor, po: ProductionOrder | None, wo: WorkOrder, what: str
) -> None:
    if po is not None:
        session.flush()
        follow_work_orders(session, actor, po, f"{wo.number} {what}")


def _line_item(wo: WorkOrder, line_item_id: uuid.UUID) -> LineItem:
    for li in wo.line_items:
        if li.id == line_item_id:
            return li
    raise NotFound("line item", line_item_id)


def _roll_up_quantities(wo: WorkOrder) -> None:
    """The work order has produced what its last operation has completed; scrap adds up."""
    counted = [li for li in wo.line_items if li.status is not LineItemStatus.SKIPPED]
    produced = counted[-1].quantity_completed if counted else Decimal(0)
    wo.quantity_produced = max(wo.quantity_produced, produced)
    wo.quantity_scrapped = max(
        wo.quantity_scrapped, sum((li.quantity_scrapped for li in wo.line_items), Decimal(0))
    )


def _final_quantity(reported: Decimal, given: Decimal | None, what: str) -> Decimal:
    if given is None:
        return reported
    if given < reported:
        raise ValidationProblem(
            [
                FieldError(
                    ["body", f"quantity_{what}"],
                    f"{given} is less than the {reported} already reported; quantities only grow",
                )
            ]
        )
    return given


def _refresh_planned_window(wo: WorkOrder) -> None:
    starts = [li.planned_start for li in wo.line_items if li.planned_start]
    ends = [li.planned_end for li in wo.line_items if li.planned_end]
    wo.planned_start = min(starts) if starts else None
    wo.planned_end = max(ends) if ends else None


def _windows_of(wo: WorkOrder) -> dict[str, Any]:
    return {
        "line_items": [
            {
                "sequence": li.sequence,
                "resource_id": str(li.resource_id),
                "planned_start": li.planned_start.isoformat() if li.planned_start else None,
                "planned_end": li.planned_end.isoformat() if li.planned_end else None,
            }
            for li in wo.line_items
        ]
    }


def _apply_windows(
    session: Session, actor: Actor, wo: WorkOrder, windows: Sequence[LineItemWindow], loc: Loc
) -> None:
    by_id = {li.id: li for li in wo.line_items}
    unknown = [
        FieldError([*loc, "line_items", i, "id"], f"no line item of {wo.number} with this id")
        for i, w in enumerate(windows)
        if w.id not in by_id
    ]
    if unknown:
        raise ValidationProblem(unknown)
    crud.resolve_refs(
        session,
        Resource,
        actor.org_id,
        [
            ([*loc, "line_items", i, "resource_id"], w.resource_id)
            for i, w in enumerate(windows)
            if w.resource_id is not None
        ],
        kind="resource",
    )
    for w in windows:
        li = by_id[w.id]
        li.planned_start, li.planned_end = w.planned_start, w.planned_end
        if w.resource_id is not None:
            li.resource_id = w.resource_id


def _duration_or_none(li: LineItem, quantity: Decimal) -> timedelta | None:
    try:
        return line_item_duration(li, quantity)
    except OverflowError:
        return None


def line_item_duration(li: LineItem, quantity: Decimal) -> timedelta:
    """Setup time plus run time per unit times the quantity, in minutes."""
    minutes = li.setup_minutes + li.run_minutes_per_unit * quantity
    return timedelta(minutes=float(minutes))


@dataclass
class _Booked:
    window: Window
    number: str
    operation: str


@dataclass
class _ResourceLoad:
    resource: Resource
    booked: list[_Booked] = field(default_factory=list)

    def windows(self) -> list[Window]:
        return [b.window for b in self.booked]


class BookingLedger:
    """The resources some work orders need, locked, with their bookings from a time on.

    Locking the resources (in id order, all up front) makes concurrent bookings of one
    resource take turns, so the capacity check sees every booking committed before it, and
    two use cases never wait on each other; the exclusion constraint on PostgreSQL backs the
    check up for single-capacity resources. Loaded once, the ledger then serves every work
    order of a bulk schedule from memory, adding each booking as it is made.
    """

    def __init__(self, loads: dict[uuid.UUID, _ResourceLoad]) -> None:
        self.loads = loads

    @classmethod
    def load(
        cls,
        session: Session,
        actor: Actor,
        work_orders: Sequence[WorkOrder],
        since: datetime | None,
    ) -> "BookingLedger":
        ids = sorted(
            {li.resource_id for wo in work_orders for li in wo.line_items if li.resource_id}
        )
        resources = session.scalars(
            select(Resource)
            .where(Resource.id.in_(ids), Resource.org_id == actor.org_id)
            .order_by(Resource.id)
            .with_for_update()
        ).all()
        loads = {r.id: _ResourceLoad(r) for r in resources}
        stmt = (
            select(
                ResourceBooking.resource_id,
                ResourceBooking.starts_at,
                ResourceBooking.ends_at,
                WorkOrder.number,
                LineItem.operation,
            )
            .join(WorkOrder, WorkOrder.id == ResourceBooking.work_order_id)
            .join(LineItem, LineItem.id == ResourceBooking.line_item_id)
            .where(ResourceBooking.resource_id.in_(ids))
        )
        if since is not None:
            stmt = stmt.where(ResourceBooking.ends_at > since)
        for rid, s, e, number, operation in session.execute(stmt):
            loads[rid].booked.append(_Booked((s, e), number, operation))
        return cls(loads)

    def lay_out(self, wo: WorkOrder, start: datetime) -> None:
        """Back to back from `start`, each line item at the earliest time its resource is
        free (and after the line item before it)."""
        own: dict[uuid.UUID, list[Window]] = defaultdict(list)
        cursor = start
        for li in wo.line_items:
            assert li.resource_id is not None
            load = self.loads[li.resource_id]
            window = earliest_fit(
                cursor,
                line_item_duration(li, wo.quantity),
                load.windows() + own[li.resource_id],
                load.resource.parallel_capacity,
            )
            li.planned_start, li.planned_end = window
            own[li.resource_id].append(window)
            cursor = window[1]

    def book(self, session: Session, actor: Actor, wo: WorkOrder) -> None:
        """Books every line item on its window, or refuses the lot naming what is in the way."""
        conflicts: list[str] = []
        details: list[dict[str, Any]] = []
        for li in wo.line_items:
            assert li.resource_id is not None
            assert li.planned_start is not None
            assert li.planned_end is not None
            load = self.loads[li.resource_id]
            resource = load.resource
            window = (li.planned_start, li.planned_end)
            label = f"line item {li.sequence} ({li.operation}) on {resource.name}"
            if not resource.active:
                conflicts.append(f"{label}: the resource is inactive")
                continue
            if (
                resource.capacity_max is not None
                and resource.capacity_unit == wo.unit
                and wo.quantity > resource.capacity_max
            ):
                conflicts.append(
                    f"{label}: {wo.quantity} {wo.unit} is more than its capacity of "
                    f"{resource.capacity_max} {resource.capacity_unit} per run"
                )
                continue
            if not fits(window, load.windows(), resource.parallel_capacity):
                clashing = [b for b in load.booked if overlaps(b.window, window)]
                names = ", ".join(
                    f"{b.number} ({b.operation}, {b.window[0]:%Y-%m-%d %H:%M} to "
                    f"{b.window[1]:%Y-%m-%d %H:%M} UTC)"
                    for b in clashing
                )
                conflicts.append(f"{label} overlaps {names}")
                details.extend(
                    {
                        "line_item_id": str(li.id),
                        "resource_id": str(resource.id),
                        "work_order_number": b.number,
                    }
                    for b in clashing
                )
                continue
            load.booked.append(_Booked(window, wo.number, li.operation))
            session.add(
                ResourceBooking(
                    org_id=actor.org_id,
                    resource_id=resource.id,
                    work_order_id=wo.id,
                    line_item_id=li.id,
                    starts_at=li.planned_start,
                    ends_at=li.planned_end,
                    exclusive=resource.parallel_capacity == 1,
                )
            )
        if conflicts:
            raise BookingConflict(
                f"Cannot schedule {wo.number}: " + "; ".join(conflicts) + ".", conflicts=details
            )


def earliest_planned_start(work_orders: Sequence[WorkOrder]) -> datetime | None:
    starts = [li.planned_start for wo in work_orders for li in wo.line_items if li.planned_start]
    return min(starts) if starts else None


def _check_can_lay_out(wo: WorkOrder) -> None:
    problems = []
    for li in wo.line_items:
        if li.resource_id is None:
            problems.append(f"line item {li.sequence} ({li.operation}) has no resource")
        elif _duration_or_none(li, wo.quantity) is None:
            problems.append(
                f"line item {li.sequence} ({li.operation}) would take longer than any calendar"
            )
        elif line_item_duration(li, wo.quantity) <= timedelta(0):
            problems.append(
                f"line item {li.sequence} ({li.operation}) takes no time: give it setup_minutes"
                " or run_minutes_per_unit"
            )
    if problems:
        raise ValidationProblem([FieldError(["body", "start"], "; ".join(problems))])
