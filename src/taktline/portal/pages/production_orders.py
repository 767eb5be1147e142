"""The production order screens: the list, an order with its actions, and its form.

As on the work order screens, the use cases and the API's schemas decide; a refused form or
action shows the page again with the problem in the form's words and the API's status.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline.db import utcnow
from taktline.errors import Problem
from taktline.http import SessionDep, encode_cursor
from taktline.orders import production, reading
from taktline.orders.lifecycle import (
    ACCEPTS_WORK_ORDERS,
    OPEN_STATES,
    ProductionOrderView,
    Punctuality,
    State,
    decide_or_refuse,
    punctuality,
)
from taktline.orders.models import ProductionOrder, ProductionOrderItem, WorkOrder
from taktline.orders.registry import ON_PRODUCTION_ORDERS
from taktline.orders.schemas import (
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ProductionOrderOut,
    ProductionOrderUpdate,
)
from taktline.permissions import authorize
from taktline.portal import forms, queries
from taktline.portal.action_routes import Attempt, add_action_routes
from taktline.portal.format import decimal_text, local_input, timeline
from taktline.portal.forms import LABELS, Filters, Labels, form_errors
from taktline.portal.web import FormDep, PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)


def order_late(po: ProductionOrderOut, latest_end: datetime | None, now: datetime) -> bool:
    """Late as work is late (`orders.lifecycle.punctuality`): the order's due date against
    the latest planned end of its open work orders."""
    return punctuality(po.state, po.due_date, latest_end, now) is Punctuality.LATE


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFlags:
    late: bool
    on_hold: int


@router.get("/production-orders")
def production_order_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    f = Filters(request.query_params, user.zone)
    states = f.states()
    owner_id = f.ident("owner_id")
    due_before = f.day("due_before")
    q = f.text("q")
    after, limit = f.page()
    customers = queries.customer_options(session, user.actor.org_id)
    rows: list[ProductionOrderOut] = []
    next_cursor = None
    if not f.errors:
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
    work = queries.open_work(session, [po.id for po in rows if po.state in OPEN_STATES])
    now = utcnow()
    flags = {}
    for po in rows:
        open_work = work.get(po.id)
        end = open_work.latest_end if open_work else None
        flags[po.id] = OrderFlags(order_late(po, end, now), open_work.on_hold if open_work else 0)
    messages = f.messages()
    return render(
        request,
        "production_orders/list.html",
        user,
        status_code=422 if f.errors else 200,
        orders=rows,
        customers=dict(customers),
        customer_options=customers,
        flags=flags,
        filters=f.raw,
        chosen_states=request.query_params.getlist("state"),
        errors=messages.fields,
        sentences=dict(messages.summary),
        states=tuple(State),
        next_url=f.next_url("/production-orders", next_cursor),
        first_url=f.first_url("/production-orders"),
        may_plan=user.may_plan,
        hints={
            po.id: [a for a in po.allowed_actions if user.may(a, "production_order")] for po in rows
        },
    )


# --- the form: new and edit --------------------------------------------------------------------


@router.get("/production-orders/new")
def production_order_new(request: Request, session: SessionDep, user: UserDep) -> Response:
    return _order_form(request, session, user, None, {"priority": "50"})


@router.post("/production-orders/new")
def production_order_create(
    request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    try:
        body = forms.validated(ProductionOrderCreate, forms.body_of(fields, user.zone))
        po = production.create_production_order(session, user.actor, body)
    except Problem as problem:
        return _order_form(request, session, user, None, forms.kept(fields), problem)
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
    # A role that may not edit is refused before the lifecycle is asked, as the use case does.
    authorize(user.actor, "production_order.update")
    po = reading.get_production_order(session, user.actor, po_id)
    live = queries.live_work_orders(session, po.id)
    # The lifecycle says whether it may still be edited, with its reason when not.
    view = ProductionOrderView(po.state, tuple(wo.state for wo in live))
    decide_or_refuse(view, "update", "production order", po.number)
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
    return _order_form(request, session, user, po, values, live=live)


@router.post("/production-orders/{po_id}/edit")
def production_order_update(
    po_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep, fields: FormDep
) -> Response:
    po: ProductionOrder | None = None
    try:
        version = forms.read_version(fields)
        po = reading.get_production_order(session, user.actor, po_id)
        data = forms.patch_body(fields, user.zone, ProductionOrderUpdate.nullable)
        data.setdefault("items", [])  # the form shows every item: none left means none
        required = forms.blank_required(fields, ["priority"])
        body = forms.validated(ProductionOrderUpdate, data, required)
        if body.items is not None and _same_items(body.items, po.items):
            del data["items"]  # unchanged: not replaced, not in the audit trail
            body = forms.validated(ProductionOrderUpdate, data)
        po = production.update_production_order(session, user.actor, po_id, body, version)
    except Problem as problem:
        if po is None:
            raise
        return _order_form(request, session, user, po, forms.kept(fields), problem)
    return redirect(f"/production-orders/{po.id}", f"Production order {po.number} saved.")


def _same_items(new: Sequence[ProductionOrderItemIn], old: Sequence[ProductionOrderItem]) -> bool:
    return len(new) == len(old) and all(
        (a.item_id, a.quantity, a.unit or b.unit) == (b.item_id, b.quantity, b.unit)
        for a, b in zip(new, old, strict=True)
    )


def _order_form(
    request: Request,
    session: Session,
    user: PortalUser,
    po: ProductionOrder | None,
    values: dict[str, str],
    problem: Problem | None = None,
    *,
    live: Sequence[WorkOrder] | None = None,
) -> Response:
    # The form is shown (again) only to a role that may send it: the use case's own refusal.
    authorize(user.actor, "production_order.create" if po is None else "production_order.update")
    org = user.actor.org_id
    wo_rows = forms.count_rows(values, "work_orders.")
    line_rows = [
        forms.count_rows(values, f"work_orders.{w}.line_items.") for w in range(wo_rows + 1)
    ]
    existing = []
    if po is not None:
        found = live if live is not None else queries.live_work_orders(session, po.id)
        existing = reading.present_work_orders(session, found)
    failure = form_errors(problem, LABELS, values)
    return render(
        request,
        "production_orders/form.html",
        user,
        status_code=problem.status if problem else 200,
        po=po,
        values=values,
        errors=failure.fields,
        failure=failure,
        problem=problem,
        item_rows=forms.count_rows(values, "items.") + 1,
        wo_rows=wo_rows + 1,
        line_rows=[n + 1 for n in line_rows],
        customer_options=queries.customer_options(session, org),
        item_options=queries.item_options(session, org),
        resource_options=queries.resource_options(session, org),
        existing_work_orders=existing,
        item_names=queries.items_by_id(session, (wo.item_id for wo in existing)),
    )


# --- an order and its actions ------------------------------------------------------------------

_ACTION_LABELS: dict[str, Labels] = {
    "schedule": LABELS.but(start="start from"),
    "cancel": LABELS.but(reason="reason for canceling"),
}
_DONE = {
    "schedule": "Production order {number} scheduled.",
    "cancel": "Production order {number} canceled.",
    "delete": "Production order {number} deleted.",
    "generate": "Work orders of {number} generated from its bills of material.",
}


def _order_page(
    request: Request,
    session: Session,
    user: PortalUser,
    po_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    failed: str | None = None,
    posted: Mapping[str, str] | None = None,
    labels: Labels = LABELS,
) -> Response:
    actor = user.actor
    po = reading.get_production_order(session, actor, po_id)
    (out,) = reading.present_production_orders(session, [po])
    events = reading.production_order_history(session, actor, po_id)
    briefs = out.work_orders or []
    subjects: dict[uuid.UUID, tuple[str, str | None]] = {
        wo_id: (number, f"/work-orders/{wo_id}")
        for wo_id, number in queries.work_order_numbers(session, po.id).items()
    }
    subjects[po.id] = (po.number, None)
    owner = queries.customer(session, actor.org_id, po.owner_id) if po.owner_id else None
    items = queries.items_by_id(
        session, [*(i.item_id for i in out.items), *(b.item_id for b in briefs)]
    )
    ends = [b.planned_end for b in briefs if b.state in OPEN_STATES and b.planned_end]
    actions = [a for a in out.allowed_actions if a != "update" and user.may(a, "production_order")]
    # Not a move of its lifecycle: a DRAFT order's work orders made from its BOMs.
    if po.state is State.DRAFT and user.may("generate", "production_order"):
        actions.append("generate")
    failure = form_errors(problem, labels, posted)
    return render(
        request,
        "production_orders/detail.html",
        user,
        status_code=problem.status if problem else 200,
        po=out,
        owner=owner,
        items=items,
        late={b.id for b in briefs if b.punctuality is Punctuality.LATE},
        order_late=order_late(out, max(ends, default=None), utcnow()),
        actions=actions,
        can_edit="update" in out.allowed_actions and user.may("update", "production_order"),
        can_add_work_order=po.state in ACCEPTS_WORK_ORDERS and user.may("create"),
        timeline=timeline(events, user.zone, subjects),
        problem=problem,
        failure=failure,
        failed=failed,
        posted=posted or {},
        errors=failure.fields,
    )


def _taken(_: Session, attempt: Attempt, po: ProductionOrder, body: BaseModel | None) -> Response:
    where = "/production-orders" if po.state is State.DELETED else f"/production-orders/{po.id}"
    name = attempt.action.name
    done = _DONE.get(name, f"Production order {{number}}: {name} done.")
    return redirect(where, done.format(number=po.number))


def _refused(
    request: Request, session: Session, user: PortalUser, attempt: Attempt, problem: Problem
) -> Response:
    name = attempt.action.name
    return _order_page(
        request,
        session,
        user,
        attempt.record_id,
        problem=problem,
        failed=name,
        posted=attempt.posted,
        labels=_ACTION_LABELS.get(name, LABELS),
    )


add_action_routes(
    router,
    ON_PRODUCTION_ORDERS.values(),
    "/production-orders/{production_order_id}",
    "production_order_id",
    _taken,
    _refused,
)
