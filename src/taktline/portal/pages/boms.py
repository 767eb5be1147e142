"""The bill of material screens: the list, a new BOM, a BOM with its versions (one shown, or
the differences between two), a DRAFT version's editor, and the preview of what a DRAFT
production order's BOMs would generate, drawn as the tree of its work orders.

boms.reading reads and boms.editing decides and writes, as for the API; which buttons a
version shows is its status's (`reading.version_actions`) and the permissions table's. A
refused form or action shows its page again with the problem in the form's words and the
API's status. Each page reads in a fixed number of queries (one per level of BOMs where an
explosion or a where-used walks them).
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from taktline.boms import editing, reading
from taktline.boms.explosion import Policy, Split
from taktline.boms.models import Bom, BomType, BomVersion, VersionStatus
from taktline.boms.schemas import (
    BomCreate,
    BomOut,
    DiffOut,
    VersionCreate,
    VersionUpdate,
)
from taktline.errors import Conflict, NotFound, Problem
from taktline.http import SessionDep, VersionPath, encode_cursor
from taktline.items.models import Item
from taktline.orders import reading as orders_reading
from taktline.orders.lifecycle import State
from taktline.permissions import authorize
from taktline.portal import forms, queries
from taktline.portal.format import decimal_text, quantity
from taktline.portal.forms import LABELS, Filters, Labels, form_errors
from taktline.portal.web import FormDep, PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)

TYPE_OPTIONS = [(t.value, t.value.replace("_", " ").capitalize()) for t in BomType]
STATUSES = tuple(VersionStatus)
# What the BOM forms call their fields and rows, in the messages of a refused form.
BOM_LABELS = Labels(
    fields={
        **LABELS.fields,
        "code": "code",
        "type": "type",
        "owner_id": "owner (brand)",
        "batch_quantity": "batch quantity",
        "batch_unit": "batch unit",
        "output_loss_percent": "output loss %",
        "loss_percent": "loss %",
        "copy_of": "version to copy",
        "operation": "operation",
    },
    rows={"inputs": "input", "operations": "operation", "alternatives": "alternative resource"},
    titles={"operations": "operation"},
)
_DONE = {
    "activate": "Version {number} of {code} is ACTIVE.",
    "retire": "Version {number} of {code} is RETIRED.",
}

# --- the list --------------------------------------------------------------------------------


@router.get("/boms")
def bom_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    f = Filters(request.query_params, user.zone)
    item_id = f.ident("item_id")
    bom_type = f.choice("type", tuple(BomType))
    owner_id = f.ident("owner_id")
    status = f.choice("status", STATUSES)
    after, limit = f.page()
    rows: list[BomOut] = []
    next_cursor = None
    if not f.errors:
        found, last = reading.list_boms(
            session,
            user.actor,
            reading.BomFilter(
                item_id=item_id,
                type=bom_type,
                owner_id=owner_id,
                status=VersionStatus(status) if status else None,
            ),
            after,
            limit,
        )
        rows = reading.present_boms(session, found)
        next_cursor = encode_cursor(last) if last else None
    messages = f.messages()
    customers = queries.customer_options(session, org)
    return render(
        request,
        "boms/list.html",
        user,
        status_code=422 if f.errors else 200,
        boms=rows,
        items=queries.items_by_id(session, (b.item_id for b in rows)),
        customers=dict(customers),
        customer_options=customers,
        item_options=queries.item_options(session, org),
        type_options=TYPE_OPTIONS,
        status_options=[(s.value, s.value) for s in STATUSES],
        filters=f.raw,
        errors=messages.fields,
        sentences=dict(messages.summary),
        next_url=f.next_url("/boms", next_cursor),
        first_url=f.first_url("/boms"),
        may_create=user.may("create", "bom"),
    )


# --- a new BOM -------------------------------------------------------------------------------


@router.get("/boms/new")
def bom_new(request: Request, session: SessionDep, user: UserDep) -> Response:
    values = {}
    if forms.is_uuid(item := request.query_params.get("item_id", "")):
        values["item_id"] = item
    return _bom_form(request, session, user, values)


@router.post("/boms/new")
def bom_create(request: Request, session: SessionDep, user: UserDep, fields: FormDep) -> Response:
    try:
        body = forms.validated(BomCreate, forms.body_of(fields, user.zone))
        bom = editing.create_bom(session, user.actor, body)
    except Problem as problem:
        return _bom_form(request, session, user, forms.kept(fields), problem)
    if body.version is not None:
        return redirect(
            f"/boms/{bom.id}/versions/1/edit", f"{bom.code} created, with version 1 as a DRAFT."
        )
    return redirect(f"/boms/{bom.id}", f"{bom.code} created.")


def _bom_form(
    request: Request,
    session: Session,
    user: PortalUser,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    # Shown (again) only to a role that may send it: the use case's own refusal.
    authorize(user.actor, "bom.create")
    org = user.actor.org_id
    failure = form_errors(problem, BOM_LABELS, values)
    return render(
        request,
        "boms/new.html",
        user,
        status_code=problem.status if problem else 200,
        values=values,
        errors=failure.fields,
        failure=failure,
        problem=problem,
        item_options=queries.item_options(session, org),
        customer_options=queries.customer_options(session, org),
        type_options=TYPE_OPTIONS,
    )


# --- a BOM: its versions, one of them, or the differences between two -------------------------


@dataclass(frozen=True)
class DiffRow:
    """A difference between two versions, in words: what (the batch, an input, an
    operation), whether it was added, removed or changed, and each field before and after."""

    part: str
    subject: str
    href: str | None
    change: str
    fields: list[tuple[str, str, str]]


_FIELD_NAMES = {
    "batch_quantity": "Batch quantity",
    "batch_unit": "Batch unit",
    "output_loss_percent": "Output loss %",
    "notes": "Notes",
    "quantity": "Quantity",
    "unit": "Unit",
    "loss_percent": "Loss %",
    "operation": "Operation",
    "resource_id": "Resource",
    "setup_minutes": "Setup min",
    "run_minutes_per_unit": "Run min / unit",
    "interruptible": "Interruptible",
    "alternatives": "Alternatives",
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _value_text(
    name: str, text: str | None, resources: Mapping[uuid.UUID, queries.ResourceName]
) -> str:
    """A value of the diff as the page shows it: resources by code, quantities formatted."""
    if text is None or text == "":
        return "—"
    if name in ("resource_id", "alternatives"):

        def code(match: re.Match[str]) -> str:
            found = resources.get(uuid.UUID(match.group(0)))
            return found.code if found else match.group(0)

        return _UUID.sub(code, text)
    if name == "interruptible":
        return "yes" if text == "True" else "no"
    if name in ("unit", "batch_unit", "notes", "operation"):
        return text
    try:
        return quantity(Decimal(text))
    except InvalidOperation:
        return text


def diff_rows(
    diff: DiffOut,
    items: Mapping[uuid.UUID, Item],
    resources: Mapping[uuid.UUID, queries.ResourceName],
) -> list[DiffRow]:
    rows = []
    for d in diff.differences:
        before, after = d.before or {}, d.after or {}
        change = "added" if d.before is None else "removed" if d.after is None else "changed"
        href = None
        if d.part == "batch":
            part, subject = "Batch", _FIELD_NAMES.get(d.key, d.key)
            shown = [(d.key, subject, before.get("value"), after.get("value"))]
        else:
            names = [
                n
                for n in dict.fromkeys([*before, *after])
                if change != "changed" or before.get(n) != after.get(n)
            ]
            shown = [(n, _FIELD_NAMES.get(n, n), before.get(n), after.get(n)) for n in names]
            if d.part == "input":
                part = "Input"
                item = items.get(uuid.UUID(d.key)) if forms.is_uuid(d.key) else None
                subject = f"{item.sku} · {item.name}" if item else d.key
                href = f"/items/{d.key}" if item else None
            else:
                part = "Operation"
                named = after.get("operation") or before.get("operation")
                subject = f"{d.key} · {named}" if named else d.key
        rows.append(
            DiffRow(
                part,
                subject,
                href,
                change,
                [
                    (label, _value_text(n, b, resources), _value_text(n, a, resources))
                    for n, label, b, a in shown
                ],
            )
        )
    return rows


@router.get("/boms/{bom_id}")
def bom_detail(bom_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep) -> Response:
    return _bom_page(request, session, user, bom_id)


def _bom_page(
    request: Request,
    session: Session,
    user: PortalUser,
    bom_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
) -> Response:
    actor, org = user.actor, user.actor.org_id
    bom = reading.get_bom(session, actor, bom_id)
    f = Filters(request.query_params, user.zone)
    asked = f.whole("version")
    against = f.whole("against")
    versions = queries.bom_versions(session, org, bom.id)
    numbers = [v.number for v in versions]
    for name, number in (("version", asked), ("against", against)):
        if number is not None and number not in numbers:
            f.refuse(name, f"{bom.code} has no version {number}")
    active = next((v.number for v in versions if v.status is VersionStatus.ACTIVE), None)
    shown_number = asked if asked in numbers else active or (numbers[-1] if numbers else None)
    shown = reading.get_version(session, actor, bom.id, shown_number) if shown_number else None
    compared = None
    if shown is not None and against in numbers and against != shown.number:
        assert against is not None
        compared = reading.diff(session, actor, bom.id, shown.number, against)
    item_ids: set[uuid.UUID] = {bom.item_id}
    resource_ids: set[uuid.UUID | None] = set()
    if shown is not None:
        item_ids |= {i.item_id for i in shown.inputs}
        for op in shown.operations:
            resource_ids |= {op.resource_id, *(a.resource_id for a in op.alternatives)}
    if compared is not None:
        for d in compared.differences:
            if d.part == "input" and forms.is_uuid(d.key):
                item_ids.add(uuid.UUID(d.key))
            for values in (d.before or {}, d.after or {}):
                text = " ".join(
                    v or "" for k, v in values.items() if k in ("resource_id", "alternatives")
                )
                resource_ids |= {uuid.UUID(m) for m in _UUID.findall(text)}
    items = queries.items_by_id(session, item_ids)
    resources = queries.resources_by_id(session, org, resource_ids)
    messages = f.messages()
    failure = form_errors(problem, BOM_LABELS, posted)
    status = problem.status if problem else 422 if f.errors else 200
    return render(
        request,
        "boms/detail.html",
        user,
        status_code=status,
        bom=bom,
        item=items.get(bom.item_id),
        owner=queries.customer(session, org, bom.owner_id) if bom.owner_id else None,
        versions=versions,
        shown=shown,
        active=active,
        against=compared.against if compared else None,
        diff=diff_rows(compared, items, resources) if compared else None,
        items=items,
        resources=resources,
        actions={
            v.number: [a for a in reading.version_actions(v.status) if user.may(a, "bom")]
            for v in versions
        },
        may_copy=user.may("update", "bom"),
        query_errors=messages.fields,
        problem=problem,
        failure=failure,
        failed=failed,
        posted=posted or {},
        errors=failure.fields,
    )


@router.post("/boms/{bom_id}/versions")
def bom_version_create(
    bom_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    # The copy form always sends its select; the empty one its batch.
    failed = "copy" if "copy_of" in fields else "empty"
    try:
        body = forms.validated(VersionCreate, forms.body_of(fields, user.zone))
        version = editing.create_version(session, user.actor, bom_id, body)
    except NotFound:
        raise
    except Problem as problem:
        return _bom_page(
            request, session, user, bom_id, problem=problem, failed=failed, posted=fields
        )
    return redirect(
        f"/boms/{bom_id}/versions/{version.number}/edit",
        f"Version {version.number} started as a DRAFT.",
    )


def _version_action(
    name: str,
    request: Request,
    session: Session,
    user: PortalUser,
    bom_id: uuid.UUID,
    number: int,
    fields: dict[str, str],
) -> Response:
    try:
        expected = forms.read_version(fields)
        forms.parse(None, fields, user.zone)
        run = editing.activate if name == "activate" else editing.retire
        version = run(session, user.actor, bom_id, number, expected)
    except NotFound:
        raise
    except Problem as problem:
        return _bom_page(request, session, user, bom_id, problem=problem, failed=f"{name}:{number}")
    code = session.get_one(Bom, version.bom_id).code
    return redirect(
        f"/boms/{bom_id}?version={number}", _DONE[name].format(number=number, code=code)
    )


@router.post("/boms/{bom_id}/versions/{number}/activate")
def bom_version_activate(
    bom_id: uuid.UUID,
    number: VersionPath,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    return _version_action("activate", request, session, user, bom_id, number, fields)


@router.post("/boms/{bom_id}/versions/{number}/retire")
def bom_version_retire(
    bom_id: uuid.UUID,
    number: VersionPath,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    return _version_action("retire", request, session, user, bom_id, number, fields)


# --- the editor of a DRAFT version -------------------------------------------------------------


def _values_of(version: BomVersion) -> dict[str, str]:
    values = {
        "batch_quantity": decimal_text(version.batch_quantity),
        "batch_unit": version.batch_unit,
        "output_loss_percent": decimal_text(version.output_loss_percent),
        "notes": version.notes or "",
    }
    for i, line in enumerate(version.inputs):
        p = f"inputs.{i}."
        values[p + "item_id"] = str(line.item_id)
        values[p + "quantity"] = decimal_text(line.quantity)
        values[p + "unit"] = line.unit
        values[p + "loss_percent"] = decimal_text(line.loss_percent)
    for o, op in enumerate(version.operations):
        p = f"operations.{o}."
        values[p + "sequence"] = str(op.sequence)
        values[p + "operation"] = op.operation
        values[p + "resource_id"] = str(op.resource_id or "")
        values[p + "setup_minutes"] = decimal_text(op.setup_minutes)
        values[p + "run_minutes_per_unit"] = decimal_text(op.run_minutes_per_unit)
        if op.interruptible:
            values[p + "interruptible"] = "true"
        for k, alt in enumerate(op.alternatives):
            a = f"{p}alternatives.{k}."
            values[a + "resource_id"] = str(alt.resource_id)
            values[a + "setup_minutes"] = decimal_text(alt.setup_minutes)
            values[a + "run_minutes_per_unit"] = decimal_text(alt.run_minutes_per_unit)
    return values


@router.get("/boms/{bom_id}/versions/{number}/edit")
def bom_version_edit(
    bom_id: uuid.UUID, number: VersionPath, request: Request, session: SessionDep, user: UserDep
) -> Response:
    # A role that may not edit is refused before the version's status is asked.
    authorize(user.actor, "bom.update")
    version = reading.get_version(session, user.actor, bom_id, number)
    bom = reading.get_bom(session, user.actor, bom_id)
    if "update" not in reading.version_actions(version.status):
        raise Conflict(
            f"Version {number} of {bom.code} is {version.status} and never changes; start a "
            "new version as a copy of it.",
            current_state=version.status,
        )
    return _version_form(request, session, user, bom, version, _values_of(version))


@router.post("/boms/{bom_id}/versions/{number}/edit")
def bom_version_update(
    bom_id: uuid.UUID,
    number: VersionPath,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    version: BomVersion | None = None
    try:
        expected = forms.read_version(fields)
        version = reading.get_version(session, user.actor, bom_id, number)
        data = forms.patch_body(fields, user.zone, VersionUpdate.nullable)
        # The form shows every input and operation: none left means none.
        data.setdefault("inputs", [])
        data.setdefault("operations", [])
        required = forms.blank_required(fields, ["batch_quantity"])
        body = forms.validated(VersionUpdate, data, required)
        version = editing.update_version(session, user.actor, bom_id, number, body, expected)
    except Problem as problem:
        if version is None:
            raise
        bom = reading.get_bom(session, user.actor, bom_id)
        return _version_form(request, session, user, bom, version, forms.kept(fields), problem)
    return redirect(f"/boms/{bom_id}?version={number}", f"Version {number} saved.")


def _version_form(
    request: Request,
    session: Session,
    user: PortalUser,
    bom: Bom,
    version: BomVersion,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    authorize(user.actor, "bom.update")
    org = user.actor.org_id
    op_rows = forms.count_rows(values, "operations.") + 1
    failure = form_errors(problem, BOM_LABELS, values)
    return render(
        request,
        "boms/form.html",
        user,
        status_code=problem.status if problem else 200,
        bom=bom,
        version=version,
        item=queries.items_by_id(session, [bom.item_id]).get(bom.item_id),
        values=values,
        errors=failure.fields,
        failure=failure,
        problem=problem,
        input_rows=forms.count_rows(values, "inputs.") + 1,
        op_rows=op_rows,
        alt_rows=[
            forms.count_rows(values, f"operations.{o}.alternatives.") + 1 for o in range(op_rows)
        ],
        item_options=queries.item_options(session, org),
        resource_options=queries.resource_options(session, org),
    )


# --- the preview of what generating a production order would make ------------------------------

# At most this many work orders are drawn; the summary counts them all.
MAX_DRAWN = 200


@dataclass(frozen=True)
class Step:
    operation: str
    resource: str
    alternatives: list[str]


@dataclass(frozen=True)
class Need:
    item_id: uuid.UUID
    item: str
    quantity: Decimal
    unit: str
    made_by: list[int]
    """The numbers of the work orders (of this tree) that make it for this one."""


@dataclass
class Node:
    """A work order to be generated: `number` (1, 2, ...) is its place in the explosion;
    `children` are the work orders that feed it. A work order that feeds several is drawn
    under the first and named (`repeat`) under the others."""

    number: int
    item_id: uuid.UUID
    item: str
    quantity: Decimal
    unit: str
    bom_id: uuid.UUID
    bom_code: str
    bom_version: int
    steps: list[Step]
    materials: list[Need]
    feeds: list[int]
    repeat: bool = False
    children: list["Node"] = field(default_factory=list)


@dataclass(frozen=True)
class Total:
    item_id: uuid.UUID
    item: str
    work_orders: int
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class Picture:
    roots: list[Node]
    totals: list[Total]
    count: int
    drawn: int


def _label(items: Mapping[uuid.UUID, Item], item_id: uuid.UUID) -> str:
    item = items.get(item_id)
    return f"{item.sku} · {item.name}" if item else str(item_id)


def picture(
    plan: reading.OrderPlan,
    items: Mapping[uuid.UUID, Item],
    resources: Mapping[uuid.UUID, queries.ResourceName],
) -> Picture:
    """The plan as the tree of its work orders, from the ones that deliver the order's
    items down to the ones that feed them, at most MAX_DRAWN drawn in full."""
    planned = {wo.key: wo for wo in plan.work_orders}
    feeds: dict[int, list[int]] = {k: [] for k in planned}
    for wo in plan.work_orders:
        for k in wo.depends_on:
            feeds[k].append(wo.key)

    def resource(rid: uuid.UUID | None) -> str:
        found = resources.get(rid) if rid is not None else None
        return f"{found.code} · {found.name}" if found else "—"

    drawn: set[int] = set()

    def node(key: int) -> Node | None:
        wo = planned[key]
        version = plan.loaded.versions[wo.version]
        bom = plan.loaded.boms[version.bom_id]
        made = Node(
            number=key + 1,
            item_id=wo.item,
            item=_label(items, wo.item),
            quantity=wo.quantity,
            unit=wo.unit,
            bom_id=bom.id,
            bom_code=bom.code,
            bom_version=version.number,
            steps=[
                Step(
                    op.name,
                    resource(op.resource),
                    [
                        resource(a.resource_id)
                        for a in op.extra.get("alternatives", ())  # type: ignore[attr-defined]
                    ],
                )
                for op in wo.routing
            ],
            materials=[
                Need(
                    r.item,
                    _label(items, r.item),
                    r.quantity,
                    r.unit,
                    [d + 1 for d in wo.depends_on if planned[d].item == r.item],
                )
                for r in wo.materials
            ],
            feeds=[k + 1 for k in feeds[key]],
        )
        if key in drawn:
            made.repeat = True
            return made
        if len(drawn) >= MAX_DRAWN:
            return None
        drawn.add(key)
        for k in wo.depends_on:
            child = node(k)
            if child is not None:
                made.children.append(child)
        return made

    roots = [n for wo in plan.work_orders if not feeds[wo.key] if (n := node(wo.key))]
    totals: dict[uuid.UUID, Total] = {}
    for wo in plan.work_orders:
        t = totals.get(wo.item)
        totals[wo.item] = Total(
            wo.item,
            _label(items, wo.item),
            (t.work_orders if t else 0) + 1,
            (t.quantity if t else Decimal(0)) + wo.quantity,
            wo.unit,
        )
    return Picture(roots, list(totals.values()), len(plan.work_orders), len(drawn))


@router.get("/production-orders/{po_id}/preview")
def generate_preview(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    """What "Generate work orders" would make, as a picture: a GET that writes nothing."""
    actor, org = user.actor, user.actor.org_id
    po = orders_reading.get_production_order(session, actor, po_id)
    f = Filters(request.query_params, user.zone)
    split = f.choice("split", tuple(Split))
    round_up = f.choice("round_up_to_minimum", ("true",))
    problem: Problem | None = None
    drawing: Picture | None = None
    draft = po.state is State.DRAFT
    if draft and not f.errors:
        try:
            plan = reading.order_plan(
                session, actor, po.id, Policy(Split(split or Split.FULL), round_up == "true")
            )
        except Conflict as refused:
            problem = refused
        else:
            item_ids = {wo.item for wo in plan.work_orders} | {
                r.item for wo in plan.work_orders for r in wo.materials
            }
            resource_ids = {
                rid
                for wo in plan.work_orders
                for op in wo.routing
                for rid in (
                    op.resource,
                    *(a.resource_id for a in op.extra.get("alternatives", ())),  # type: ignore[attr-defined]
                )
            }
            drawing = picture(
                plan,
                queries.items_by_id(session, item_ids),
                queries.resources_by_id(session, org, resource_ids),
            )
    messages = f.messages()
    return render(
        request,
        "boms/preview.html",
        user,
        status_code=problem.status if problem else 422 if f.errors else 200,
        po=po,
        draft=draft,
        picture=drawing,
        problem=problem,
        split=split or "",
        round_up=round_up or "",
        query_errors=messages.fields,
        may_generate=draft and user.may("generate", "production_order"),
    )
