"""Creating and editing work orders: their line items, alternative resources and
dependencies. Each public function is one transaction, or (`build`) part of the caller's."""

import gc
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from taktline import records
from taktline.boms.models import BomInput
from taktline.db import new_id, transaction, utcnow
from taktline.errors import FieldError, Loc, ValidationProblem
from taktline.events import service as events
from taktline.inventory import allocating
from taktline.items.models import Item
from taktline.numbering import next_numbers
from taktline.orders import locks
from taktline.orders.actions import follow_work_orders
from taktline.orders.booking import refresh_planned_window
from taktline.orders.lifecycle import PINNABLE_STATES, LineItemStatus, State, decide_or_refuse
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    ProductionOrder,
    WorkOrder,
    WorkOrderDependency,
    WorkOrderMaterial,
)
from taktline.orders.reading import dependencies_of, work_order_view
from taktline.orders.schemas import (
    LineItemIn,
    MaterialIn,
    WorkOrderCreate,
    WorkOrderFields,
    WorkOrderUpdate,
)
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

ENTITY = "work_order"
# The bodies of created work orders as their `create` events keep them, in one pass.
_CREATED = TypeAdapter(list[WorkOrderFields])


def create_work_order(session: Session, actor: Actor, body: WorkOrderCreate) -> WorkOrder:
    authorize(actor, "work_order.create")
    with transaction(session):
        po = None
        if body.production_order_id is not None:
            po = locks.production_order_for_new_work(
                session, actor, body.production_order_id, ["body", "production_order_id"]
            )
        (wo_id,) = build_work_orders(session, actor, [(["body"], body)], po)
        wo = session.get_one(WorkOrder, wo_id)
        if body.depends_on:
            _set_dependencies(session, actor, wo, body.depends_on, ["body", "depends_on"])
        if po is not None:
            follow_work_orders(session, actor, po, f"{wo.number} was added")
    return wo


def build_work_orders(
    session: Session,
    actor: Actor,
    bodies: Sequence[tuple[Loc, WorkOrderFields]],
    po: ProductionOrder | None,
    bom_versions: Sequence[uuid.UUID | None] | None = None,
) -> list[uuid.UUID]:
    """Creates work orders with their line items and alternatives: the bulk path shared with
    production orders and the generation from bills of material (which gives the BOM version
    of each). Returns their ids, in the order of `bodies`.

    Every reference is checked in one query per kind, every number reserved in one
    statement, and every table written in one INSERT of many rows: no object per row, so
    a thousand work orders cost about what the same rows cost written by hand.
    `bodies` pairs each body with its place in the request, for errors that say where.
    """
    with _collector_paused():
        # Every reference checked in one query per kind; the places in the body of those
        # that are not the organisation's only looked for when there are some.
        units: dict[uuid.UUID, str] = {
            row.id: row.unit
            for row in session.execute(
                select(Item.id, Item.unit).where(
                    Item.id.in_({b.item_id for _, b in bodies}), Item.org_id == actor.org_id
                )
            )
        }
        if len(units) < len({b.item_id for _, b in bodies}):
            records.resolve_refs(
                session,
                Item,
                actor.org_id,
                [([*loc, "item_id"], b.item_id) for loc, b in bodies],
                kind="item",
            )
        resources = {
            r
            for _, b in bodies
            for li in b.line_items
            for r in (li.resource_id, *(alt.resource_id for alt in li.alternatives))
            if r is not None
        }
        known = (
            set(
                session.scalars(
                    select(Resource.id).where(
                        Resource.id.in_(resources), Resource.org_id == actor.org_id
                    )
                )
            )
            if resources
            else set()
        )
        if len(known) < len(resources):
            records.resolve_refs(
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
        versions = bom_versions if bom_versions is not None else [None] * len(bodies)
        return _insert_work_orders(session, actor, bodies, po, units, numbers, versions)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The rows of a bulk create are many objects, alive until written and freed together,
    none in a cycle. Left on, CPython's collector would promote them generation by
    generation and then walk every object of the process (a third of the time a thousand
    work orders took); paused, they are freed before it ever sees them."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _insert_work_orders(
    session: Session,
    actor: Actor,
    bodies: Sequence[tuple[Loc, WorkOrderFields]],
    po: ProductionOrder | None,
    units: dict[uuid.UUID, str],
    numbers: Sequence[str],
    bom_versions: Sequence[uuid.UUID | None],
) -> list[uuid.UUID]:
    now = utcnow()
    org_id = actor.org_id
    po_id = po.id if po else None
    zero = Decimal(0)
    work_orders: list[dict[str, Any]] = []
    line_items: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []
    for number, (_, body), bom_version_id in zip(numbers, bodies, bom_versions, strict=True):
        wo_id = new_id()
        starts = [li.planned_start for li in body.line_items if li.planned_start]
        ends = [li.planned_end for li in body.line_items if li.planned_end]
        work_orders.append(
            {
                "id": wo_id,
                "org_id": org_id,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "number": number,
                "state": State.DRAFT,
                "production_order_id": po_id,
                "item_id": body.item_id,
                "quantity": body.quantity,
                "unit": body.unit or units[body.item_id],
                "instructions": body.instructions,
                "due_date": body.due_date if body.due_date else (po.due_date if po else None),
                "priority": body.priority,
                # The planned window is its line items' (as refresh_planned_window makes it).
                "planned_start": min(starts) if starts else None,
                "planned_end": max(ends) if ends else None,
                "actual_start": None,
                "actual_end": None,
                "quantity_produced": zero,
                "quantity_scrapped": zero,
                "on_hold": False,
                "hold_reason": None,
                "release_at": body.release_at,
                "pinned": body.pinned,
                "bom_version_id": bom_version_id,
            }
        )
        for position, li in enumerate(body.line_items, start=1):
            li_id = new_id()
            line_items.append(
                {
                    "id": li_id,
                    "org_id": org_id,
                    "work_order_id": wo_id,
                    "sequence": li.sequence if li.sequence is not None else position,
                    "operation": li.operation,
                    "resource_id": li.resource_id,
                    "setup_minutes": li.setup_minutes,
                    "run_minutes_per_unit": li.run_minutes_per_unit,
                    "planned_start": li.planned_start,
                    "planned_end": li.planned_end,
                    "actual_start": None,
                    "actual_end": None,
                    "quantity_completed": zero,
                    "quantity_scrapped": zero,
                    "status": LineItemStatus.PENDING,
                    "interruptible": li.interruptible,
                }
            )
            alternatives.extend(
                {
                    "id": new_id(),
                    "org_id": org_id,
                    "line_item_id": li_id,
                    "resource_id": alt.resource_id,
                    "setup_minutes": alt.setup_minutes,
                    "run_minutes_per_unit": alt.run_minutes_per_unit,
                }
                for alt in li.alternatives
            )
    # Rows the session still holds (the production order) go first: these refer to them.
    session.flush()
    for model, rows in (
        (WorkOrder, work_orders),
        (LineItem, line_items),
        (LineItemAlternative, alternatives),
    ):
        if rows:
            session.execute(insert(cast(Table, model.__table__)), rows)
    changes = _CREATED.dump_python([body for _, body in bodies], mode="json", serialize_as_any=True)
    events.record_many(
        session,
        actor,
        ENTITY,
        "create",
        (
            events.Change(row["id"], change, po_id)
            for row, change in zip(work_orders, changes, strict=True)
        ),
        to_state=State.DRAFT,
    )
    return [row["id"] for row in work_orders]


def update_work_order(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    body: WorkOrderUpdate,
    expected_version: int | None,
) -> WorkOrder:
    authorize(actor, "work_order.update")
    with transaction(session):
        wo, po = locks.work_order(session, actor, wo_id, expected_version)
        changes = body.changes()
        if not (set(changes) == {"pinned"} and wo.state in PINNABLE_STATES):
            decide_or_refuse(
                work_order_view(wo, po.state if po else None), "update", "work order", wo.number
            )
        line_items = changes.pop("line_items", None)
        materials = changes.pop("materials", None)
        depends_on = changes.pop("depends_on", None)
        if "item_id" in changes:
            item = records.resolve_refs(
                session,
                Item,
                actor.org_id,
                [(["body", "item_id"], changes["item_id"])],
                kind="item",
            )[changes["item_id"]]
            changes.setdefault("unit", item.unit)
        if "unit" in changes and changes["unit"] is None:
            changes["unit"] = session.get_one(Item, changes.get("item_id", wo.item_id)).unit
        diff = records.apply_changes(wo, changes)
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
            records.resolve_refs(session, Resource, actor.org_id, refs, kind="resource")
            _check_alternatives([(["body", "line_items"], new_items)])
            # Old rows go first: the new ones may reuse their sequence numbers.
            wo.line_items.clear()
            session.flush()
            wo.line_items.extend(_new_line_items(actor, new_items))
            session.flush()
            session.add_all(_new_alternatives(actor, wo.line_items, new_items))
            diff["line_items"] = ["replaced", [li.model_dump(mode="json") for li in new_items]]
        if materials is not None:
            new_materials = body.materials or []
            rows = _new_materials(session, actor, wo, new_materials, ["body", "materials"])
            # Allocations are to materials: the old ones' go back to stock first.
            allocating.release_work_orders(session, actor, [wo.id], "materials replaced")
            session.execute(
                delete(WorkOrderMaterial).where(WorkOrderMaterial.work_order_id == wo.id)
            )
            session.add_all(rows)
            diff["materials"] = [
                "replaced",
                [
                    {**m.model_dump(mode="json"), "unit": row.unit}
                    for m, row in zip(new_materials, rows, strict=True)
                ],
            ]
        if depends_on is not None:
            before = dependencies_of(session, [wo.id]).get(wo.id, [])
            after = _set_dependencies(session, actor, wo, depends_on, ["body", "depends_on"])
            if sorted(before) != sorted(after):
                diff["depends_on"] = [[str(i) for i in before], [str(i) for i in after]]
        refresh_planned_window(wo)
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


def _new_materials(
    session: Session, actor: Actor, wo: WorkOrder, materials: Sequence[MaterialIn], loc: Loc
) -> list[WorkOrderMaterial]:
    """The rows of a work order's new list of materials, each checked at its place in the
    body: an item of the organisation, a quantity within the item's precision, a unit the
    item is counted in or converts from, and (if given) a line of the work order's own BOM
    version that uses that item, each line once."""
    items = records.resolve_refs(
        session,
        Item,
        actor.org_id,
        [([*loc, i, "item_id"], m.item_id) for i, m in enumerate(materials)],
        kind="item",
    )
    lines: dict[uuid.UUID, uuid.UUID] = {}
    wanted = {m.bom_input_id for m in materials if m.bom_input_id is not None}
    if wanted and wo.bom_version_id is not None:
        lines = {
            row.id: row.item_id
            for row in session.execute(
                select(BomInput.id, BomInput.item_id).where(
                    BomInput.version_id == wo.bom_version_id, BomInput.id.in_(wanted)
                )
            )
        }
    errors = []
    seen: set[uuid.UUID] = set()
    for i, m in enumerate(materials):
        item = items[m.item_id]
        places = max(0, -int(m.quantity.as_tuple().exponent))
        if places > item.precision:
            errors.append(
                FieldError(
                    [*loc, i, "quantity"],
                    f"has {places} decimal places, but {item.sku} is counted in at most "
                    f"{item.precision}",
                )
            )
        units = [item.unit, *(c["unit"] for c in item.conversions)]
        if m.unit is not None and m.unit not in units:
            errors.append(
                FieldError(
                    [*loc, i, "unit"],
                    f"{item.sku} is counted in {item.unit} and declares no conversion from "
                    f"{m.unit}",
                )
            )
        if m.bom_input_id is not None:
            where = [*loc, i, "bom_input_id"]
            if m.bom_input_id not in lines:
                errors.append(
                    FieldError(
                        where,
                        "is no line of the BOM version this work order was generated from"
                        if wo.bom_version_id is not None
                        else "this work order was typed, not generated from a BOM",
                    )
                )
            elif lines[m.bom_input_id] != m.item_id:
                errors.append(FieldError(where, "is a line of another item"))
            elif m.bom_input_id in seen:
                errors.append(FieldError(where, "is given twice"))
            seen.add(m.bom_input_id)
    if errors:
        raise ValidationProblem(errors)
    return [
        WorkOrderMaterial(
            org_id=actor.org_id,
            work_order_id=wo.id,
            position=position,
            item_id=m.item_id,
            quantity=m.quantity,
            unit=m.unit or items[m.item_id].unit,
            bom_input_id=m.bom_input_id,
        )
        for position, m in enumerate(materials, start=1)
    ]


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
