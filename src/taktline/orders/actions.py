"""The lifecycle actions of work orders: schedule, unschedule, start, pause, resume,
report, skip, complete, cancel, delete, and the scheduler's reschedule.

Each public function is one transaction. It checks the actor's permission, locks what it
will change (in the one lock order of `locks`), asks the pure lifecycle whether the action
may be taken, applies it, moves the production order with it and writes the events. The
`*_locked` variants do the same inside a caller's transaction, on rows it has locked.
"""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from taktline.db import new_id, transaction, utcnow
from taktline.errors import Conflict, FieldError, InvalidTransition, NotFound, ValidationProblem
from taktline.events import service as events
from taktline.inventory import allocating, producing
from taktline.orders import locks
from taktline.orders.booking import (
    BookingLedger,
    apply_windows,
    check_can_lay_out,
    earliest_planned_start,
    refresh_planned_window,
    release_bookings,
    windows_of,
)
from taktline.orders.lifecycle import (
    FINISHED_LINE_ITEM,
    Decision,
    LineItemStatus,
    State,
    WorkOrderView,
    allowed_actions,
    decide_or_refuse,
    derive_state,
    line_item_after_report,
    schedule_problems,
)
from taktline.orders.models import LineItem, LineItemReport, ProductionOrder, WorkOrder
from taktline.orders.quantities import LineItemCount, output_index, produced, report_refusal
from taktline.orders.reading import WORK_ORDER_COLUMNS, line_item_view, work_order_view
from taktline.orders.schemas import (
    CompleteRequest,
    LineItemWindow,
    ReportRequest,
    ReverseReportRequest,
)
from taktline.orgs.models import Organisation
from taktline.permissions import Actor, authorize, authorize_reversal

ENTITY = "work_order"
WORK_ORDERS = cast(Table, WorkOrder.__table__)
LINE_ITEMS = cast(Table, LineItem.__table__)
REPORTS = cast(Table, LineItemReport.__table__)
PRODUCTION_ORDERS = cast(Table, ProductionOrder.__table__)
PRODUCTION_ORDER = "production_order"

# The statements of the floor's actions in SQL (start, report, complete), built once: one
# built for every request costs more to build and to find in the compiled cache than to
# run. An UPDATE sets the columns its parameters name; the rest are named by role.
_UPDATE_LINE_ITEM = update(LINE_ITEMS).where(LINE_ITEMS.c.id == bindparam("line_item_id"))
_INSERT_REPORT = insert(REPORTS)
_STATES_OF_ITS_WORK_ORDERS = select(WorkOrder.id, WorkOrder.state).where(
    WorkOrder.production_order_id == bindparam("po_id")
)
_UPDATE_WORK_ORDER = (
    update(WORK_ORDERS)
    .where(WORK_ORDERS.c.id == bindparam("wo_id"))
    .returning(
        *WORK_ORDER_COLUMNS,
        bindparam("order_state_after", type_=ProductionOrder.state.type).label(
            "production_order_state"
        ),
    )
)
_UPDATE_PRODUCTION_ORDER = update(PRODUCTION_ORDERS).where(
    PRODUCTION_ORDERS.c.id == bindparam("po_id")
)


def schedule(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    *,
    start: datetime | None = None,
    windows: Sequence[LineItemWindow] = (),
    expected_version: int | None = None,
) -> WorkOrder:
    authorize(actor, "work_order.schedule")
    with transaction(session):
        wo, po = locks.work_order(session, actor, wo_id, expected_version)
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
    _decide(wo, _state(po), "schedule")
    if windows:
        apply_windows(session, actor, wo, windows, ["body"])
    if start is not None:
        check_can_lay_out(wo)
    else:
        problems = schedule_problems([line_item_view(li) for li in wo.line_items])
        if problems:
            _refuse(wo, _state(po), "schedule", "; ".join(problems))
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
    refresh_planned_window(wo)
    _transition(session, actor, wo, _state(po), "schedule", changes=windows_of(wo))


def unschedule(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    authorize(actor, "work_order.unschedule")
    with transaction(session):
        wo, po = locks.work_order(session, actor, wo_id, expected_version)
        _transition(session, actor, wo, _state(po), "unschedule")
        _let_go(session, actor, [wo.id], "unscheduled")
        _follow(session, actor, po, wo, "unscheduled")
    return wo


def start(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> Row[Any]:
    """IN_PROCESS, from now; its production order with it. Written in SQL on rows, as the
    floor's other frequent actions are (see `report`)."""
    authorize(actor, "work_order.start")
    with transaction(session):
        wo, po, lines = locks.work_order_rows(session, actor, wo_id, expected_version, "start")
        decision = decide_or_refuse(_view_of(wo, lines), "start", "work order", wo.number)
        now = utcnow()
        answer = _write_transition(
            session, actor, wo, po, decision, now, f"{wo.number} started", actual_start=now
        )
    return answer


def pause(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> WorkOrder:
    authorize(actor, "work_order.pause")
    with transaction(session):
        wo, _, po_state = locks.work_order_for(session, actor, wo_id, expected_version, "pause")
        _transition(session, actor, wo, po_state, "pause", reason=reason)
        wo.on_hold = True
        wo.hold_reason = reason
    return wo


def resume(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    authorize(actor, "work_order.resume")
    with transaction(session):
        wo, _, po_state = locks.work_order_for(session, actor, wo_id, expected_version, "resume")
        _transition(session, actor, wo, po_state, "resume", reason=wo.hold_reason)
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
) -> Row[Any]:
    """Adds to a line item's quantities (reports add up, they never overwrite), no more than
    can reach it; the first report starts the line item and `done` finishes it. The report
    is kept as it was given, so that it can be reversed.

    The floor's most frequent action, so it is written in SQL on rows rather than through
    the unit of work (which cost a report a third of its time): the same rules decide, on
    the same locked rows; the answer is the work order's row (`reading.WORK_ORDER_COLUMNS`,
    returned by its UPDATE)."""
    authorize(actor, "work_order.report")
    with transaction(session):
        wo, _, lines = locks.work_order_rows(session, actor, wo_id, expected_version, "report")
        index = next((i for i, li in enumerate(lines) if li.id == line_item_id), None)
        if index is None:
            raise NotFound("line item", line_item_id)
        li = lines[index]
        decision = decide_or_refuse(_view_of(wo, lines), "report", "work order", wo.number)
        if li.status in FINISHED_LINE_ITEM:
            raise Conflict(
                f"Line item {li.sequence} ({li.operation}) of {wo.number} is already {li.status};"
                " it takes no more reports."
            )
        counts = [
            LineItemCount(
                line.sequence,
                line.operation,
                line.status is LineItemStatus.SKIPPED,
                line.quantity_completed,
                line.quantity_scrapped,
            )
            for line in lines
        ]
        _check_counts(
            session, actor, counts, index, wo.quantity, body.quantity_completed,
            body.quantity_scrapped,
        )  # fmt: skip
        now = utcnow()
        status = line_item_after_report(li.status, body.done)
        completed = li.quantity_completed + body.quantity_completed
        scrapped = li.quantity_scrapped + body.quantity_scrapped
        counts[index] = replace(counts[index], completed=completed, scrapped=scrapped)
        work_produced, work_scrapped = produced(counts)
        makes_output = output_index(counts) == index
        if body.lot_code is not None and not makes_output:
            raise ValidationProblem(
                [FieldError(["body", "lot_code"], "a lot code is given on the last line item only")]
            )
        sql = session.connection()  # (Core on the tables: no ORM work per statement)
        sql.execute(
            _UPDATE_LINE_ITEM,
            {
                "line_item_id": li.id,
                "status": status,
                "quantity_completed": completed,
                "quantity_scrapped": scrapped,
                "actual_start": li.actual_start or now,
                **({"actual_end": now} if body.done else {}),
            },
        )
        report_id = new_id()
        sql.execute(
            _INSERT_REPORT,
            {
                "id": report_id,
                "org_id": actor.org_id,
                "work_order_id": wo.id,
                "line_item_id": li.id,
                "quantity_completed": body.quantity_completed,
                "quantity_scrapped": body.quantity_scrapped,
                "done": body.done,
                "note": body.note,
                "actor_id": actor.user_id,
                "actor_email": actor.email,
                "at": now,
            },
        )
        if makes_output and body.quantity_completed > 0:
            producing.produce(
                session, actor, wo, li.id, body.quantity_completed, body.lot_code, now
            )
        answer = _write_transition(
            session,
            actor,
            wo,
            None,
            decision,
            now,
            "",
            reason=body.note,
            changes={
                "report_id": str(report_id),
                "line_item": li.sequence,
                "operation": li.operation,
                "quantity_completed": str(body.quantity_completed),
                "quantity_scrapped": str(body.quantity_scrapped),
                "status": status.value,
            },
            quantity_produced=work_produced,
            quantity_scrapped=work_scrapped,
        )
        _forget(session, (LineItem, li.id))
    return answer


def _let_go(session: Session, actor: Actor, wo_ids: Sequence[uuid.UUID], why: str) -> None:
    """What work that no longer runs holds: its resource bookings and its allocated stock
    (unscheduled, completed, canceled, deleted)."""
    release_bookings(session, wo_ids)
    allocating.release_work_orders(session, actor, wo_ids, why)


def _forget(session: Session, *records: tuple[type[Any], uuid.UUID]) -> None:
    """Expires what the session holds of records changed in SQL, so that a caller reading
    them through this session afterwards reads them anew."""
    for model, record_id in records:
        held = session.identity_map.get(identity_key(model, record_id))
        if held is not None:
            session.expire(held)


def _view_of(wo: Row[Any], lines: Sequence[locks.LockedLineItem]) -> WorkOrderView:
    """What the rules need to know of a work order locked as rows (`locks.work_order_rows`)."""
    return WorkOrderView(
        state=wo.state,
        on_hold=wo.on_hold,
        line_items=tuple(line_item_view(li) for li in lines),
        production_order_state=wo.production_order_state,
    )


def _write_transition(
    session: Session,
    actor: Actor,
    wo: Row[Any],
    po: Row[Any] | None,
    decision: Decision,
    now: datetime,
    cause: str,
    *,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    **sets: Any,
) -> Row[Any]:
    """`_transition` and `_follow` in SQL for a work order locked as rows: its new state and
    `sets`, a version step (every change shows in its ETag, the state staying or not), its
    event; then its production order's state, when it was locked (`po`), as its work orders
    now imply, with an event that says why (`cause`). Returns the work order's row as a
    list reads it (`reading.WORK_ORDER_COLUMNS`), with its order's state after."""
    sql = session.connection()
    order_state = wo.production_order_state
    if po is not None:
        states = [
            decision.to_state if wo_id == wo.id else state
            for wo_id, state in sql.execute(_STATES_OF_ITS_WORK_ORDERS, {"po_id": po.id})
        ]
        order_state = derive_state(po.state, states)
    answer = sql.execute(
        _UPDATE_WORK_ORDER,
        {
            "wo_id": wo.id,
            "order_state_after": order_state,
            "state": decision.to_state,
            "version": wo.version + 1,
            "updated_at": now,
            **sets,
        },
    ).one()
    events.record_many(
        session,
        actor,
        ENTITY,
        decision.action,
        [events.Change(wo.id, changes or {}, parent_id=wo.production_order_id)],
        from_state=decision.from_state,
        to_state=decision.to_state,
        reason=reason,
    )
    if po is not None and order_state is not po.state:
        sql.execute(
            _UPDATE_PRODUCTION_ORDER,
            {"po_id": po.id, "state": order_state, "version": po.version + 1, "updated_at": now},
        )
        events.record_many(
            session,
            actor,
            PRODUCTION_ORDER,
            "follow",
            [events.Change(po.id)],
            from_state=po.state,
            to_state=order_state,
            reason=cause,
        )
        _forget(session, (ProductionOrder, po.id))
    _forget(session, (WorkOrder, wo.id))
    return answer


def reverse_report(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    line_item_id: uuid.UUID,
    body: ReverseReportRequest,
    expected_version: int | None = None,
) -> WorkOrder:
    """Undoes a report by a reversal: a report of its own that subtracts the first one's
    quantities, with the reason; the first stays as it was. A `done` report reversed opens
    its line item again. Operators reverse their own reports, planners anyone's."""
    authorize(actor, "work_order.reverse_report")
    with transaction(session):
        wo, _, po_state = locks.work_order_for(session, actor, wo_id, expected_version, "report")
        li = _line_item(wo, line_item_id)
        # A reversal is a report (of negative quantities): the same states allow it.
        _decide(wo, po_state, "report")
        original = session.scalars(
            select(LineItemReport).where(
                LineItemReport.id == body.report_id,
                LineItemReport.line_item_id == li.id,
                LineItemReport.org_id == actor.org_id,
            )
        ).first()
        if original is None or original.reverses_id is not None:
            raise ValidationProblem(
                [
                    FieldError(
                        ["body", "report_id"], f"no report of line item {li.sequence} with this id"
                    )
                ]
            )
        authorize_reversal(actor, original.actor_id)
        if session.scalar(
            select(LineItemReport.id).where(LineItemReport.reverses_id == original.id)
        ):
            raise Conflict(f"That report of line item {li.sequence} is reversed already.")
        if li.status is LineItemStatus.SKIPPED:
            raise Conflict(f"Line item {li.sequence} ({li.operation}) was skipped.")
        completed, scrapped = -original.quantity_completed, -original.quantity_scrapped
        _check_quantities(session, actor, wo, li, completed, scrapped)
        if completed and output_index(_counts(wo)) == wo.line_items.index(li):
            producing.take_back(session, actor, wo, li.id, -completed, utcnow())
        li.quantity_completed += completed
        li.quantity_scrapped += scrapped
        if original.done:
            li.status, li.actual_end = LineItemStatus.IN_PROCESS, None
        _roll_up_quantities(wo)
        reversal = LineItemReport(
            org_id=actor.org_id,
            work_order_id=wo.id,
            line_item_id=li.id,
            quantity_completed=completed,
            quantity_scrapped=scrapped,
            done=False,
            note=body.reason,
            reverses_id=original.id,
            actor_id=actor.user_id,
            actor_email=actor.email,
        )
        session.add(reversal)
        session.flush()
        _transition(
            session,
            actor,
            wo,
            po_state,
            "report",
            recorded_as="reverse_report",
            reason=body.reason,
            changes={
                "report_id": str(reversal.id),
                "reverses": str(original.id),
                "line_item": li.sequence,
                "operation": li.operation,
                "quantity_completed": str(completed),
                "quantity_scrapped": str(scrapped),
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
    authorize(actor, "work_order.skip")
    with transaction(session):
        wo, _, po_state = locks.work_order_for(session, actor, wo_id, expected_version, "skip")
        li = _line_item(wo, line_item_id)
        _decide(wo, po_state, "skip")
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
            po_state,
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
) -> Row[Any]:
    """COMPLETED, with its final quantities; its bookings released; its production order
    completed with its last open work. Written in SQL on rows (see `report`)."""
    authorize(actor, "work_order.complete")
    with transaction(session):
        wo, po, lines = locks.work_order_rows(session, actor, wo_id, expected_version, "complete")
        decision = decide_or_refuse(_view_of(wo, lines), "complete", "work order", wo.number)
        produced = _final_quantity(wo.quantity_produced, body.quantity_produced, "produced")
        scrapped = _final_quantity(wo.quantity_scrapped, body.quantity_scrapped, "scrapped")
        _let_go(session, actor, [wo.id], "completed")
        now = utcnow()
        answer = _write_transition(
            session,
            actor,
            wo,
            po,
            decision,
            now,
            f"{wo.number} completed",
            changes={"quantity_produced": str(produced), "quantity_scrapped": str(scrapped)},
            quantity_produced=produced,
            quantity_scrapped=scrapped,
            actual_end=now,
        )
    return answer


def cancel(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> WorkOrder:
    authorize(actor, "work_order.cancel")
    with transaction(session):
        wo, po = locks.work_order(session, actor, wo_id, expected_version)
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
        _transition(session, actor, wo, _state(po), "cancel", reason=reason)
        wo.on_hold = False
        wo.hold_reason = None
    _let_go(session, actor, [wo.id for wo in work_orders], "canceled")


def delete_(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None = None
) -> WorkOrder:
    authorize(actor, "work_order.delete")
    with transaction(session):
        wo, po = locks.work_order(session, actor, wo_id, expected_version)
        delete_locked(session, actor, [wo], po)
        _follow(session, actor, po, wo, "deleted")
    return wo


def delete_locked(
    session: Session, actor: Actor, work_orders: Sequence[WorkOrder], po: ProductionOrder | None
) -> None:
    for wo in work_orders:
        _transition(session, actor, wo, _state(po), "delete")
    _let_go(session, actor, [wo.id for wo in work_orders], "deleted")


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


# --- internals -----------------------------------------------------------------------------


def _state(po: ProductionOrder | None) -> State | None:
    return po.state if po else None


def _decide(wo: WorkOrder, po_state: State | None, action: str) -> None:
    decide_or_refuse(work_order_view(wo, po_state), action, "work order", wo.number)


def _refuse(wo: WorkOrder, po_state: State | None, action: str, reason: str) -> None:
    view = work_order_view(wo, po_state)
    raise InvalidTransition(
        "work order", wo.number, action, wo.state, allowed_actions(view), reason
    )


def _transition(
    session: Session,
    actor: Actor,
    wo: WorkOrder,
    po_state: State | None,
    action: str,
    *,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    recorded_as: str | None = None,
) -> None:
    """Takes `action` by the lifecycle and records it (as `recorded_as` when the event names
    a more particular action than the lifecycle's, e.g. a reversal, which is a report)."""
    decision = decide_or_refuse(work_order_view(wo, po_state), action, "work order", wo.number)
    wo.state = decision.to_state
    # Touching the row bumps its version even when the state stays (a hold, a report), so
    # every change is visible in the ETag.
    wo.updated_at = utcnow()
    events.record(
        session,
        actor,
        ENTITY,
        wo.id,
        recorded_as or action,
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


def _counts(wo: WorkOrder) -> list[LineItemCount]:
    return [
        LineItemCount(
            li.sequence,
            li.operation,
            li.status is LineItemStatus.SKIPPED,
            li.quantity_completed,
            li.quantity_scrapped,
        )
        for li in wo.line_items
    ]


def _check_quantities(
    session: Session,
    actor: Actor,
    wo: WorkOrder,
    li: LineItem,
    completed: Decimal,
    scrapped: Decimal,
) -> None:
    _check_counts(
        session, actor, _counts(wo), wo.line_items.index(li), wo.quantity, completed, scrapped
    )


def _check_counts(
    session: Session,
    actor: Actor,
    counts: list[LineItemCount],
    index: int,
    ordered: Decimal,
    completed: Decimal,
    scrapped: Decimal,
) -> None:
    """Refuses, with the numbers, quantities that could not have reached the line item."""
    # A tolerance only ever allows more: what passes without one passes with any, so the
    # organisation's is read only for a report that needs it (and for the refusal's words).
    why = report_refusal(counts, index, ordered, Decimal(0), completed, scrapped)
    if why is not None:
        tolerance = session.scalar(
            select(Organisation.over_production_tolerance_percent).where(
                Organisation.id == actor.org_id
            )
        )
        why = report_refusal(counts, index, ordered, tolerance or Decimal(0), completed, scrapped)
    if why is not None:
        field = "quantity_completed" if completed else "quantity_scrapped"
        raise ValidationProblem([FieldError(["body", field], why)])


def _roll_up_quantities(wo: WorkOrder) -> None:
    """The work order has produced what its last operation has completed; scrap adds up."""
    wo.quantity_produced, wo.quantity_scrapped = produced(_counts(wo))


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


def follow_work_orders(session: Session, actor: Actor, po: ProductionOrder, cause: str) -> None:
    """Moves `po` to the state its work orders imply, with an event that says why."""
    states = session.scalars(
        select(WorkOrder.state).where(WorkOrder.production_order_id == po.id)
    ).all()
    new_state = derive_state(po.state, states)
    if new_state is po.state:
        return
    old_state = po.state
    po.state = new_state
    events.record(
        session,
        actor,
        PRODUCTION_ORDER,
        po.id,
        "follow",
        from_state=old_state,
        to_state=new_state,
        reason=cause,
    )
