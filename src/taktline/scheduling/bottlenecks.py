"""The bottleneck analysis of the current bookings: loads per resource over a window, the
bottleneck resource(s), and why work is late."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from taktline.db import transaction, utcnow
from taktline.errors import (
    FieldError,
    ValidationProblem,
)
from taktline.orders.lifecycle import is_late
from taktline.permissions import Actor, authorize
from taktline.scheduling import load
from taktline.scheduling.schemas import (
    BottleneckOut,
    LateWorkOrderOut,
    LineItemBrief,
    ResourceBrief,
    ResourceLoadOut,
)
from taktline.scheduling.snapshots import (
    MAX_BOTTLENECK_SPAN,
    LineItemSnap,
    WorkOrderSnap,
    ceil_minutes,
    floor_minutes,
)
from taktline.solver import bottleneck as core_bottleneck

# --- the bottleneck ------------------------------------------------------------------------


def bottlenecks(
    session: Session, actor: Actor, start: datetime | None = None, end: datetime | None = None
) -> BottleneckOut:
    """Loads of every active resource over [start, end) (default: the next 7 days) from the
    current bookings, the bottleneck resource(s), and the booked work orders that end after
    their due date, each with the resource and the work that held it up. Fixed queries."""
    authorize(actor, "bottleneck.read")
    start = (start or utcnow()).astimezone(UTC).replace(second=0, microsecond=0)
    end = end.astimezone(UTC) if end is not None else start + timedelta(days=7)
    if end <= start:
        raise ValidationProblem([FieldError(["query", "to"], "must be after from")])
    if end - start > MAX_BOTTLENECK_SPAN:
        raise ValidationProblem([FieldError(["query", "to"], "at most 366 days after from")])
    with transaction(session):
        booked = load.load_booked(session, actor.org_id, start, end)
    resources, ops, problem = booked.resources, booked.ops, booked.problem
    assignments, snaps = booked.assignments, booked.work_orders
    report = core_bottleneck.analyse(problem, assignments, 0, floor_minutes(end, start))
    brief = {r.code: ResourceBrief(id=r.id, code=r.code, name=r.name) for r in resources}

    def line(oid: str) -> LineItemBrief:
        wo, li = ops[oid]
        return LineItemBrief(
            work_order_id=wo.id,
            work_order_number=wo.number,
            line_item_id=li.id,
            sequence=li.sequence,
            operation=li.operation,
        )

    # One definition of late (orders.lifecycle): the analysis explains the work that its
    # bookings make late; work past its due date yet planned to end before it is late too.
    now = utcnow()
    late_now = {s.number: s for s in snaps if is_late(s.state, s.due_date, s.planned_end, now)}
    late = []
    for lj in report.late_jobs:
        wo = late_now.pop(lj.job, None)
        if wo is None:
            continue  # later than due only by the rounding to whole minutes
        assert wo.due_date is not None
        assert wo.planned_end is not None
        held = [line(o) for o in lj.held_up_by]
        late.append(
            LateWorkOrderOut(
                id=wo.id,
                number=wo.number,
                due_date=wo.due_date,
                planned_end=wo.planned_end,
                lateness_minutes=lj.lateness,
                weighted_lateness=lj.weighted_lateness,
                resource=brief.get(lj.resource) if lj.resource else None,
                line_item=line(lj.operation) if lj.operation else None,
                waited_minutes=lj.waited,
                held_up_by=held,
                reason=_late_reason(lj, ops, held),
            )
        )
    for wo in late_now.values():
        assert wo.due_date is not None
        minutes = ceil_minutes(now, wo.due_date)
        late.append(
            LateWorkOrderOut.model_validate(
                {
                    **{k: getattr(wo, k) for k in ("id", "number", "due_date", "planned_end")},
                    "lateness_minutes": minutes,
                    "weighted_lateness": minutes * max(1, wo.priority),
                    "reason": f"its due date has passed and it is still {wo.state}",
                }
            )
        )
    return BottleneckOut(
        start=start,
        end=end,
        resources=[
            ResourceLoadOut(
                resource=brief[rl.resource],
                available_minutes=rl.available,
                booked_minutes=rl.booked,
                utilisation=None if math.isinf(rl.utilisation) else round(rl.utilisation, 4),
            )
            for rl in report.loads
        ],
        bottlenecks=[brief[code] for code in report.bottlenecks],
        late_work_orders=late,
    )


def _late_reason(
    lj: core_bottleneck.LateJob,
    ops: dict[str, tuple[WorkOrderSnap, LineItemSnap]],
    held: Iterable[LineItemBrief],
) -> str:
    if lj.operation is None:
        return lj.reason.replace("job(s)", "work order(s)")
    _, li = ops[lj.operation]
    holders = ", ".join(f"{h.work_order_number} ({h.operation})" for h in held)
    text = f"line item {li.sequence} ({li.operation}) waited {lj.waited} minutes for {lj.resource}"
    return text + (f", busy with {holders}" if holders else "")
