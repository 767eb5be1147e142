"""Proposing a schedule: the problem loaded, solved by the pure solver, and presented as
what would move and what would be late. Nothing changes; the read transaction ends before
the solver starts, so that a long solve holds no lock. Only planners and admins solve, for
at most MAX_TIME_LIMIT_SECONDS, and each organisation solves one schedule at a time
(`solving`): the API, the portal and the CLI all come through here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from taktline.db import transaction, utcnow
from taktline.errors import (
    Unschedulable,
)
from taktline.orders.lifecycle import State, is_late
from taktline.permissions import Actor, authorize
from taktline.scheduling import load, solving
from taktline.scheduling.schemas import (
    HeldWorkOrder,
    PlannedLineItem,
    PlannedWorkOrder,
    ProposalOut,
    ProposalSummary,
    ScheduleRequest,
)
from taktline.scheduling.snapshots import (
    MAX_CALENDAR_SPAN,
    Plan,
    Progress,
    Scope,
    ceil_minutes,
    line_item_label,
    op_id,
    quiet,
    unschedulable,
    whole_minute,
)
from taktline.solver.problem import (
    Assignment,
    Method,
    NoEligibleResource,
    OperationDoesNotFit,
    Proposal,
    SchedulingError,
)
from taktline.solver.solve import solve

# --- solving and proposing -----------------------------------------------------------------


@dataclass
class Preview:
    """A solved plan: the core's proposal and the answer's body."""

    plan: Plan
    proposal: Proposal
    out: ProposalOut


def scope_of(body: ScheduleRequest) -> Scope:
    return Scope(tuple(body.production_order_ids), tuple(body.work_order_ids))


def preview(
    session: Session, actor: Actor, body: ScheduleRequest, progress: Progress = quiet
) -> Preview:
    """Solves the work of `body` and proposes a schedule; changes nothing.

    Holds one of the organisation's solving slots throughout (429 `SolverBusy` when another
    solve has them all). The database is read in one short transaction, ended before the
    solver starts: the solve holds no transaction."""
    authorize(actor, "schedule.preview")
    origin = whole_minute(body.horizon_start or utcnow())
    scope = scope_of(body)
    with solving.slot(session, actor.org_id):
        progress("Reading the work to schedule")
        span: timedelta | None = None
        while True:
            with transaction(session):
                plan = load.build_plan(
                    session, actor.org_id, scope, origin, body.objective, calendar_span=span
                )
            progress(
                f"Solving {len(plan.movable)} work orders "
                f"({sum(len(s.line_items) for s in plan.movable)} line items) on "
                f"{len(plan.resources)} resources, {len(plan.fixed)} fixed, "
                f"time limit {body.time_limit_seconds:g} s"
            )
            try:
                proposal = _solve(plan, body)
                break
            except OperationDoesNotFit as exc:
                span = plan.calendar_until - origin
                if span >= MAX_CALENDAR_SPAN or all(c is None for c in plan.calendars.values()):
                    raise _core_error(plan, exc) from None
                # The work ran past the end of the expanded calendars: look further ahead.
                span = min(MAX_CALENDAR_SPAN, span * 2)
            except SchedulingError as exc:
                raise _core_error(plan, exc) from None
    return Preview(plan, proposal, _present(plan, proposal, body))


def _solve(plan: Plan, body: ScheduleRequest) -> Proposal:
    if not plan.movable:
        return Proposal(
            assignments=tuple(
                Assignment(p.operation, p.resource, p.start, p.end) for p in plan.problem.pinned
            ),
            objective=body.objective, value=0, bound=0, gap=0.0, optimal=True, makespan=0,
            weighted_tardiness=0, seconds=0.0, status="OPTIMAL", method=Method.HEURISTIC,
            note="nothing to schedule", heuristic_value=None,
        )  # fmt: skip
    return solve(
        plan.problem,
        time_limit_s=float(body.time_limit_seconds),
        seed=body.seed,
        objective=body.objective,
    )


_OP_ID = re.compile(r"[^\s,()]+/\d+")


def _core_error(plan: Plan, exc: SchedulingError) -> Unschedulable:
    """The core's error as a 422 that names the line item the way the plant does."""
    if isinstance(exc, NoEligibleResource | OperationDoesNotFit) and exc.operation in plan.ops:
        wo, li = plan.ops[exc.operation]
        return unschedulable(wo, li, exc.reason)

    def readable(match: re.Match[str]) -> str:
        found = plan.ops.get(match.group(0))
        return line_item_label(*found) if found else match.group(0)

    return Unschedulable(f"The work cannot be scheduled: {_OP_ID.sub(readable, str(exc))}.")


def _present(plan: Plan, proposal: Proposal, body: ScheduleRequest) -> ProposalOut:
    placed = {a.operation: a for a in proposal.assignments}
    planned: list[PlannedWorkOrder] = []
    for snap in plan.movable:
        lines = []
        for li in snap.line_items:
            a = placed[op_id(snap, li)]
            start, end = plan.at(a.start), plan.at(a.end)
            resource_id = plan.id_of_code[a.resource]
            lines.append(
                PlannedLineItem(
                    id=li.id,
                    sequence=li.sequence,
                    operation=li.operation,
                    resource_id=resource_id,
                    resource_code=a.resource,
                    planned_start=start,
                    planned_end=end,
                    previous_resource_id=li.resource_id,
                    previous_start=li.planned_start,
                    previous_end=li.planned_end,
                    moved=(resource_id, start, end)
                    != (li.resource_id, li.planned_start, li.planned_end),
                )
            )
        end = max(line.planned_end for line in lines)
        # One definition of late (orders.lifecycle), seen from the horizon start.
        late = is_late(State.SCHEDULED, snap.due_date, end, plan.origin)
        was_late = snap.state is State.SCHEDULED and is_late(
            snap.state, snap.due_date, snap.planned_end, plan.origin
        )
        moved = any(line.moved for line in lines)
        planned.append(
            PlannedWorkOrder(
                id=snap.id,
                number=snap.number,
                version=snap.version,
                state=snap.state,
                action="schedule"
                if snap.state is State.DRAFT
                else ("reschedule" if moved else "keep"),
                production_order_id=snap.production_order_id,
                due_date=snap.due_date,
                priority=snap.priority,
                planned_start=min(line.planned_start for line in lines),
                planned_end=end,
                previous_start=snap.planned_start,
                previous_end=snap.planned_end,
                late=late,
                lateness_minutes=ceil_minutes(end, snap.due_date) if late and snap.due_date else 0,
                was_late=was_late,
                becomes_late=late and not was_late,
                line_items=lines,
            )
        )
    fixed = [
        HeldWorkOrder(id=s.id, number=s.number, state=s.state, reason=r) for s, r in plan.fixed
    ]
    skipped = [
        HeldWorkOrder(id=s.id, number=s.number, state=s.state, reason=r) for s, r in plan.skipped
    ]
    movable_ends = [w.planned_end for w in planned]
    return ProposalOut(
        horizon_start=plan.origin,
        objective=proposal.objective,
        production_order_ids=list(plan.scope.production_order_ids),
        work_order_ids=list(plan.scope.work_order_ids),
        time_limit_seconds=float(body.time_limit_seconds),
        seed=body.seed,
        value=proposal.value,
        bound=proposal.bound,
        gap=proposal.gap,
        optimal=proposal.optimal,
        status=proposal.status,
        method=proposal.method,
        note=proposal.note,
        seconds=round(proposal.seconds, 3),
        heuristic_value=proposal.heuristic_value,
        weighted_tardiness=proposal.weighted_tardiness,
        makespan_minutes=proposal.makespan,
        work_end=max(movable_ends) if movable_ends else None,
        summary=ProposalSummary(
            work_orders=len(planned),
            line_items=sum(len(w.line_items) for w in planned),
            to_schedule=sum(1 for w in planned if w.action == "schedule"),
            to_reschedule=sum(1 for w in planned if w.action == "reschedule"),
            unchanged=sum(1 for w in planned if w.action == "keep"),
            fixed=len(fixed),
            skipped=len(skipped),
            late=sum(1 for w in planned if w.late),
            becomes_late=sum(1 for w in planned if w.becomes_late),
        ),
        work_orders=planned,
        fixed=fixed,
        skipped=skipped,
    )
