"""The work order screens: the list, a work order with its actions, and its form.

Every page calls the same use cases as the API and validates with the API's own schemas; a
refused form or action shows the page again with the problem in the form's words and the
API's status. Each page reads in a fixed number of queries however many rows it shows.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline import permissions
from taktline.boms import reading as boms_reading
from taktline.errors import Problem, ValidationProblem
from taktline.http import SessionDep, encode_cursor
from taktline.inventory import allocating
from taktline.inventory import reading as stock
from taktline.inventory.rules import yield_percent
from taktline.inventory.schemas import AllocateRequest, MaterialOut
from taktline.orders import editing, reading
from taktline.orders.lifecycle import (
    FINISHED_LINE_ITEM,
    OPEN_STATES,
    LineItemStatus,
    Punctuality,
    State,
    decide_or_refuse,
)
from taktline.orders.models import LineItem, WorkOrder
from taktline.orders.registry import ON_WORK_ORDERS
from taktline.orders.schemas import LineItemIn, WorkOrderCreate, WorkOrderOut, WorkOrderUpdate
from taktline.permissions import authorize
from taktline.portal import forms, queries
from taktline.portal.action_routes import Attempt, add_action_routes
from taktline.portal.format import decimal_text, local_input, quantity, timeline
from taktline.portal.forms import LABELS, Filters, Labels, form_errors
from taktline.portal.web import FormDep, PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)

# --- the list --------------------------------------------------------------------------------


@router.get("/work-orders")
def work_order_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    f = Filters(request.query_params, user.zone)
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
        po_id = queries.order_id_numbered(session, org, po_number)
        if po_id is None:
            f.refuse("production_order", f"no production order numbered {po_number}")
    resources = queries.resource_options(session, org)
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
            f.refused(problem)
        else:
            rows = reading.present_work_orders(session, found)
            next_cursor = encode_cursor(last) if last else None
    messages = f.messages()
    return render(
        request,
        "work_orders/list.html",
        user,
        status_code=422 if f.errors else 200,
        work_orders=rows,
        items=queries.items_by_id(session, (wo.item_id for wo in rows)),
        po_numbers=queries.order_numbers(
            session, (wo.production_order_id for wo in rows if wo.production_order_id)
        ),
        late={wo.id for wo in rows if wo.punctuality is Punctuality.LATE},
        resource_codes={
            wo.id: ", ".join(dict.fromkeys(li.resource.code for li in wo.line_items if li.resource))
            for wo in rows
        },
        resource_options=resources,
        filters=f.raw,
        chosen_states=request.query_params.getlist("state"),
        errors=messages.fields,
        sentences=dict(messages.summary),
        states=tuple(State),
        next_url=f.next_url("/work-orders", next_cursor),
        first_url=f.first_url("/work-orders"),
        may_plan=user.may_plan,
        hints={wo.id: [a for a in wo.allowed_actions if user.may(a)] for wo in rows},
    )


# --- the form: new and edit --------------------------------------------------------------------


@router.get("/work-orders/new")
def work_order_new(
    request: Request,
    session: SessionDep,
    user: UserDep,
    production_order_id: Annotated[str, Query()] = "",
) -> Response:
    values = {"priority": "50"}
    if forms.is_uuid(production_order_id):
        values["production_order_id"] = production_order_id
    return _work_order_form(request, session, user, None, values)


@router.post("/work-orders/new")
def work_order_create(
    request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    try:
        body = forms.validated(WorkOrderCreate, forms.body_of(fields, user.zone))
        wo = editing.create_work_order(session, user.actor, body)
    except Problem as problem:
        return _work_order_form(request, session, user, None, forms.kept(fields), problem)
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
    # A role that may not edit is refused before the lifecycle is asked, as the use case does.
    authorize(user.actor, "work_order.update")
    wo = reading.get_work_order(session, user.actor, wo_id)
    po = (
        queries.order_ref(session, user.actor.org_id, wo.production_order_id)
        if wo.production_order_id
        else None
    )
    # The lifecycle says whether it may still be edited, with its reason when not.
    view = reading.work_order_view(wo, po.state if po else None)
    decide_or_refuse(view, "update", "work order", wo.number)
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
        version = forms.read_version(fields)
        wo = reading.get_work_order(session, user.actor, wo_id)
        data = forms.patch_body(fields, user.zone, WorkOrderUpdate.nullable)
        data.setdefault("line_items", [])  # the form shows every line item
        required = forms.blank_required(fields, ["item_id", "quantity", "priority"])
        body = forms.validated(WorkOrderUpdate, data, required)
        if body.line_items is not None and _same_line_items(body.line_items, wo.line_items):
            del data["line_items"]  # unchanged: kept as they are, out of the audit trail
            body = forms.validated(WorkOrderUpdate, data)
        wo = editing.update_work_order(session, user.actor, wo_id, body, version)
    except Problem as problem:
        if wo is None:
            raise
        return _work_order_form(request, session, user, wo, forms.kept(fields), problem)
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


def _work_order_form(
    request: Request,
    session: Session,
    user: PortalUser,
    wo: WorkOrder | None,
    values: dict[str, str],
    problem: Problem | None = None,
) -> Response:
    # The form is shown (again) only to a role that may send it: the use case's own refusal.
    authorize(user.actor, "work_order.create" if wo is None else "work_order.update")
    org = user.actor.org_id
    failure = form_errors(problem, LABELS, values)
    return render(
        request,
        "work_orders/form.html",
        user,
        status_code=problem.status if problem else 200,
        wo=wo,
        values=values,
        errors=failure.fields,
        failure=failure,
        problem=problem,
        line_rows=forms.count_rows(values, "line_items.") + 1,
        item_options=queries.item_options(session, org),
        resource_options=queries.resource_options(session, org),
        order_options=queries.open_order_options(session, org) if wo is None else [],
    )


# --- a work order and its actions --------------------------------------------------------------

# Actions taken on a line item rather than the whole work order; "update" is the Edit link.
_ROW_ACTIONS = frozenset({"report", "reverse_report", "skip", "update"})
# The reports a work order's page lists, newest first (the API lists them all).
REPORTS_SHOWN = 50
# What each action form calls its fields, where it differs from the order forms.
_ACTION_LABELS: dict[str, Labels] = {
    "schedule": LABELS.but(start="start from", planned_start="start", planned_end="end"),
    "pause": LABELS.but(reason="reason for pausing"),
    "cancel": LABELS.but(reason="reason for canceling"),
    "skip": LABELS.but(reason="reason for skipping"),
    "reverse_report": LABELS.but(reason="reason for reversing", report_id="report"),
}
_DONE = {
    "schedule": "Work order {number} scheduled.",
    "unschedule": "Work order {number} unscheduled.",
    "start": "Work order {number} started.",
    "pause": "Work order {number} paused.",
    "resume": "Work order {number} resumed.",
    "complete": "Work order {number} completed.",
    "cancel": "Work order {number} canceled.",
    "delete": "Work order {number} deleted.",
    "report": "Quantities reported on {number}.",
    "skip": "Line item skipped on {number}.",
    "reverse_report": "Report reversed on {number}.",
}


def _work_order_page(
    request: Request,
    session: Session,
    user: PortalUser,
    wo_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
    labels: Labels = LABELS,
) -> Response:
    actor = user.actor
    wo = reading.get_work_order(session, actor, wo_id)
    (out,) = reading.present_work_orders(session, [wo])
    events = reading.work_order_history(session, actor, wo_id)
    item = queries.items_by_id(session, [wo.item_id]).get(wo.item_id)
    po = (
        queries.order_ref(session, actor.org_id, wo.production_order_id)
        if wo.production_order_id
        else None
    )
    actions = {a for a in out.allowed_actions if user.may(a)}
    reports = reading.line_item_reports(session, actor, wo_id, latest=REPORTS_SHOWN)
    # A reversal is a report of negative quantities: taken when a report may be, never on a
    # skipped line item.
    skipped = {li.id for li in out.line_items if li.status == LineItemStatus.SKIPPED}
    materials = stock.materials_of(session, actor, wo_id)
    generated_from = (
        boms_reading.version_ref(session, actor, out.bom_version_id) if out.bom_version_id else None
    )
    reversible = (
        {
            r.id
            for r in reports
            if r.reverses_id is None
            and not r.reversed
            and r.line_item_id not in skipped
            and permissions.may_reverse(actor, r.actor_id)
        }
        if "report" in out.allowed_actions
        else set()
    )
    needs_resources = "schedule" in actions
    # The line items' operations name the rows of the windows form in its messages.
    values = {f"line_items.{i}.operation": li.operation for i, li in enumerate(out.line_items)}
    failure = form_errors(problem, labels, {**values, **(posted or {})})
    return render(
        request,
        "work_orders/detail.html",
        user,
        status_code=problem.status if problem else 200,
        wo=out,
        item=item,
        po=po,
        late=out.punctuality is Punctuality.LATE,
        actions=actions,
        buttons=[a for a in out.allowed_actions if a in actions and a not in _ROW_ACTIONS],
        can_edit="update" in actions,
        finished=tuple(FINISHED_LINE_ITEM),
        resource_options=(
            queries.resource_options(session, actor.org_id) if needs_resources else []
        ),
        timeline=timeline(events, user.zone, {wo.id: (wo.number, None)}),
        reports=reports[::-1],
        reports_capped=len(reports) == REPORTS_SHOWN,
        reversible=reversible,
        line_names={li.id: f"{li.sequence} · {li.operation}" for li in out.line_items},
        materials=materials,
        material_items=queries.items_by_id(session, (m.item_id for m in materials)),
        shortages=shortages(materials) if wo.state in OPEN_STATES else [],
        allocations_editable=allocating.allocations_editable(wo.state),
        may_allocate=allocating.allocations_editable(wo.state) and user.may("allocate"),
        may_release=allocating.allocations_editable(wo.state) and user.may("release_allocation"),
        completed=wo.state is State.COMPLETED,
        yield_percent=(
            yield_percent(wo.quantity_produced, wo.quantity)
            if wo.state is State.COMPLETED
            else None
        ),
        shown_per_material=LOTS_SHOWN,
        generated_from=generated_from,
        problem=problem,
        failure=failure,
        failed=failed,
        posted=posted or {},
        errors=failure.fields,
    )


# --- its materials: allocating and releasing ----------------------------------------------------

# Allocations and pulls listed per material on the page (the API lists them all).
LOTS_SHOWN = 20


def shortages(materials: Sequence[MaterialOut]) -> list[str]:
    """What is still short, plainly: "short 120 ea of CAP-38"."""
    return [
        f"short {quantity(m.short)} {m.item_unit} of {m.item_sku}" for m in materials if m.short > 0
    ]


@router.post("/work-orders/{wo_id}/materials/allocate")
def work_order_allocate(
    wo_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    """Auto-allocation: each material's open quantity from its item's lots, by the item's
    strategy (FEFO or FIFO)."""
    posted = dict(fields)
    try:
        version = forms.read_version(fields)
        forms.parse(None, fields, user.zone)
        allocating.allocate(session, user.actor, wo_id, AllocateRequest(auto=True), version)
    except Problem as problem:
        return _work_order_page(
            request, session, user, wo_id, problem=problem, failed="allocate", posted=posted
        )
    wo = reading.get_work_order(session, user.actor, wo_id)
    short = shortages(stock.materials_of(session, user.actor, wo_id))
    said = f"still {'; '.join(short)}." if short else "nothing is short."
    return redirect(f"/work-orders/{wo_id}#materials-h", f"Allocated to {wo.number}: {said}")


@router.post("/work-orders/{wo_id}/materials/allocations/{allocation_id}/release")
def work_order_release_allocation(
    wo_id: uuid.UUID,
    allocation_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: UserDep,
    fields: FormDep,
) -> Response:
    posted = dict(fields)
    try:
        version = forms.read_version(fields)
        forms.parse(None, fields, user.zone)
        allocating.release(session, user.actor, wo_id, allocation_id, version)
    except Problem as problem:
        return _work_order_page(
            request,
            session,
            user,
            wo_id,
            problem=problem,
            failed=f"release:{allocation_id}",
            posted=posted,
        )
    wo = reading.get_work_order(session, user.actor, wo_id)
    return redirect(f"/work-orders/{wo_id}#materials-h", f"Allocation released from {wo.number}.")


def _taken(_: Session, attempt: Attempt, wo: WorkOrder, body: BaseModel | None) -> Response:
    where = "/work-orders" if wo.state is State.DELETED else f"/work-orders/{wo.id}"
    name = attempt.action.name
    return redirect(
        where, _DONE.get(name, f"Work order {{number}}: {name} done.").format(number=wo.number)
    )


def _refused(
    request: Request, session: Session, user: PortalUser, attempt: Attempt, problem: Problem
) -> Response:
    name = attempt.action.name
    if attempt.line_item_id is not None:
        failed = f"{name}:{attempt.line_item_id}"
    elif name == "schedule" and any(k.startswith("line_items.") for k in attempt.posted):
        failed = "schedule-windows"  # the second of the two forms that post to schedule
    else:
        failed = name
    return _work_order_page(
        request,
        session,
        user,
        attempt.record_id,
        problem=problem,
        failed=failed,
        posted=attempt.posted,
        labels=_ACTION_LABELS.get(name, LABELS),
    )


add_action_routes(
    router,
    ON_WORK_ORDERS.values(),
    "/work-orders/{work_order_id}",
    "work_order_id",
    _taken,
    _refused,
)
