"""Every action on an order, once: its name, what its body is, and the use case it runs.

The API routes and the portal's action routes (the shop floor included) are made from this
registry, so that an action means the same wherever it is taken: the same body, the same
use case, the same permission (which the use case checks).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline.boms import generation
from taktline.orders import actions, production
from taktline.orders.schemas import (
    CompleteRequest,
    GenerateRequest,
    ReasonRequest,
    ReportRequest,
    ReverseReportRequest,
    ScheduleOrderRequest,
    ScheduleWorkOrderRequest,
)
from taktline.permissions import Actor

# (session, actor, record id, line item id or None, body or None, expected version) -> record
Run = Callable[[Session, Actor, uuid.UUID, uuid.UUID | None, Any, int | None], Any]


@dataclass(frozen=True)
class Action:
    name: str
    # "work_order" or "production_order": the record it acts on, and its permission's prefix
    record: str
    run: Run
    summary: str
    body: type[BaseModel] | None = None
    # An optional body may be left out (the API) or empty (a portal button without a form).
    body_required: bool = False
    on_line_item: bool = False
    method: str = "POST"
    # Takes an `Idempotency-Key` (an action whose retry would do it again: a generation
    # makes new work orders each time).
    idempotent: bool = False

    @property
    def permission(self) -> str:
        return f"{self.record}.{self.name}"


def _li(line_item_id: uuid.UUID | None) -> uuid.UUID:
    assert line_item_id is not None, "a line item action needs its line item"
    return line_item_id


ON_WORK_ORDERS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "schedule",
            "work_order",
            lambda s, a, wo, _, body, v: actions.schedule(
                s,
                a,
                wo,
                start=(body or ScheduleWorkOrderRequest()).start,
                windows=(body or ScheduleWorkOrderRequest()).line_items,
                expected_version=v,
            ),
            "Books its line items: on their windows, or laid out from `start`.",
            body=ScheduleWorkOrderRequest,
        ),
        Action(
            "unschedule",
            "work_order",
            lambda s, a, wo, _, body, v: actions.unschedule(s, a, wo, v),
            "Back to DRAFT, its bookings released.",
        ),
        Action(
            "start",
            "work_order",
            lambda s, a, wo, _, body, v: actions.start(s, a, wo, v),
            "Into production: IN_PROCESS, with its actual start.",
        ),
        Action(
            "pause",
            "work_order",
            lambda s, a, wo, _, body, v: actions.pause(s, a, wo, body.reason, v),
            "On hold, with the reason.",
            body=ReasonRequest,
            body_required=True,
        ),
        Action(
            "resume",
            "work_order",
            lambda s, a, wo, _, body, v: actions.resume(s, a, wo, v),
            "Off hold.",
        ),
        Action(
            "complete",
            "work_order",
            lambda s, a, wo, _, body, v: actions.complete(s, a, wo, body or CompleteRequest(), v),
            "COMPLETED, with its final quantities; its bookings released.",
            body=CompleteRequest,
        ),
        Action(
            "cancel",
            "work_order",
            lambda s, a, wo, _, body, v: actions.cancel(s, a, wo, body.reason, v),
            "CANCELED, with the reason; its bookings released.",
            body=ReasonRequest,
            body_required=True,
        ),
        Action(
            "delete",
            "work_order",
            lambda s, a, wo, _, body, v: actions.delete_(s, a, wo, v),
            "Moves the work order to DELETED: a tombstone kept for the audit trail.",
            method="DELETE",
        ),
        Action(
            "report",
            "work_order",
            lambda s, a, wo, li, body, v: actions.report(s, a, wo, _li(li), body, v),
            "Adds quantities to a line item; the first report starts it, `done` finishes it.",
            body=ReportRequest,
            body_required=True,
            on_line_item=True,
        ),
        Action(
            "reverse_report",
            "work_order",
            lambda s, a, wo, li, body, v: actions.reverse_report(s, a, wo, _li(li), body, v),
            "Undoes a report of the line item by a reversal, with the reason.",
            body=ReverseReportRequest,
            body_required=True,
            on_line_item=True,
        ),
        Action(
            "skip",
            "work_order",
            lambda s, a, wo, li, body, v: actions.skip(s, a, wo, _li(li), body.reason, v),
            "Skips a PENDING line item, with the reason.",
            body=ReasonRequest,
            body_required=True,
            on_line_item=True,
        ),
    )
}

ON_PRODUCTION_ORDERS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "schedule",
            "production_order",
            lambda s, a, po, _, body, v: production.schedule(
                s, a, po, start=body.start if body else None, expected_version=v
            ),
            "Schedules every DRAFT work order of the order, all or none.",
            body=ScheduleOrderRequest,
        ),
        Action(
            "cancel",
            "production_order",
            lambda s, a, po, _, body, v: production.cancel(s, a, po, body.reason, v),
            "Cancels every work order that is not final yet; completed ones stay.",
            body=ReasonRequest,
            body_required=True,
        ),
        Action(
            "generate",
            "production_order",
            lambda s, a, po, _, body, v: generation.generate(
                s, a, po, body or GenerateRequest(), v
            ),
            "Makes a DRAFT order's work orders from the bills of material of its items, "
            "replacing those generated before while they are all DRAFT. A retry with the "
            "same `Idempotency-Key` returns the first answer and generates nothing again.",
            body=GenerateRequest,
            idempotent=True,
        ),
        Action(
            "delete",
            "production_order",
            lambda s, a, po, _, body, v: production.delete_(s, a, po, v),
            "Moves the order and its work orders to DELETED: tombstones kept for the audit.",
            method="DELETE",
        ),
    )
}
