"""Applying a schedule: the proposal checked against the plant as it is, under locks, with
the solver's checker, and written in one transaction: all of it or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from taktline.db import transaction
from taktline.errors import (
    Conflict,
    FieldError,
    PreconditionFailed,
    ValidationProblem,
)
from taktline.orders import actions, booking, locks, reading
from taktline.orders.actions import follow_work_orders
from taktline.orders.lifecycle import State
from taktline.orders.models import (
    WorkOrder,
)
from taktline.permissions import Actor, authorize
from taktline.scheduling import load, propose
from taktline.scheduling.schemas import (
    ApplyOut,
    ApplyRequest,
    ProposalOut,
)
from taktline.scheduling.snapshots import (
    Plan,
    Progress,
    Scope,
    line_item_label,
    op_id,
    quiet,
    whole_minute,
)
from taktline.solver.checker import check
from taktline.solver.problem import (
    Assignment,
    Objective,
)

# --- applying ------------------------------------------------------------------------------


@dataclass
class Applied:
    out: ApplyOut
    preview: propose.Preview | None  # when solved here


@dataclass(frozen=True)
class PlannedWork:
    """What applying needs of a proposal for one work order: the version it was made from
    and where each of its line items goes."""

    work_order_id: uuid.UUID
    version: int
    placements: tuple[booking.Placement, ...]


def planned_work(proposal: ProposalOut) -> list[PlannedWork]:
    return [
        PlannedWork(
            w.id,
            w.version,
            tuple(
                booking.Placement(li.id, li.resource_id, li.planned_start, li.planned_end)
                for li in w.line_items
            ),
        )
        for w in proposal.work_orders
    ]


def apply(
    session: Session, actor: Actor, body: ApplyRequest, progress: Progress = quiet
) -> Applied:
    """Applies a proposal (from `propose.preview`), or solves and applies in one step: in one
    transaction, DRAFT work orders are scheduled through the lifecycle and SCHEDULED ones
    that move are released and booked again (a `reschedule` event); all or nothing."""
    authorize(actor, "schedule.apply")
    solved: propose.Preview | None = None
    if body.proposal is None:
        solved = propose.preview(session, actor, body, progress)
        proposal = solved.out
    else:
        proposal = body.proposal
    progress("Applying the schedule")
    scheduled, rescheduled, unchanged = apply_planned(
        session, actor, proposal.horizon_start, proposal.objective, planned_work(proposal)
    )
    return Applied(
        ApplyOut(
            proposal=proposal, scheduled=scheduled, rescheduled=rescheduled, unchanged=unchanged
        ),
        solved,
    )


def apply_planned(
    session: Session,
    actor: Actor,
    origin: datetime,
    objective: Objective,
    work: Sequence[PlannedWork],
) -> tuple[list[str], list[str], list[str]]:
    """Applies planned windows (made from `origin`) in one transaction, or nothing: checks
    that the work orders are at the versions planned from and that the windows fit the
    plant as it is now (the core's checker), then schedules DRAFT work through the lifecycle
    and books moved SCHEDULED work again. Returns the numbers of the work orders scheduled,
    rescheduled and left as they were."""
    authorize(actor, "schedule.apply")
    with transaction(session):
        return _apply_locked(session, actor, origin, objective, work)


def _apply_locked(
    session: Session,
    actor: Actor,
    origin: datetime,
    objective: Objective,
    work: Sequence[PlannedWork],
) -> tuple[list[str], list[str], list[str]]:
    planned = {w.work_order_id: w for w in work}
    if not planned:
        return [], [], []
    wos, pos = locks.work_orders_by_id(session, actor, list(planned))
    stale = [
        f"{wo.number} is at version {wo.version}, not {planned[wo.id].version}"
        for wo in wos
        if wo.version != planned[wo.id].version
    ]
    if stale:
        raise PreconditionFailed(
            "The work changed since the proposal was made: "
            + "; ".join(stale)
            + ". propose.Preview again.",
            stale=stale,
        )
    if whole_minute(origin) != origin:
        raise ValidationProblem(
            [FieldError(["body", "proposal", "horizon_start"], "must be a whole minute")]
        )
    plan = load.build_plan(
        session, actor.org_id, Scope(work_order_ids=tuple(planned)), origin, objective
    )
    assignments = _assignments(plan, planned)
    violations = check(plan.problem, assignments)
    if violations:
        shown = "; ".join(violations[:5]) + ("; ..." if len(violations) > 5 else "")
        raise Conflict(
            f"The proposal does not fit the plant as it is now: {shown}. propose.Preview again.",
            violations=violations,
        )

    placements = {w.work_order_id: w.placements for w in work}
    drafts = [wo for wo in wos if wo.state is State.DRAFT]
    scheduled_moving = [
        wo for wo in wos if wo.state is State.SCHEDULED and _moves(wo, placements[wo.id])
    ]
    unchanged = [
        wo.number for wo in wos if wo.state is State.SCHEDULED and wo not in scheduled_moving
    ]
    booking.release_bookings(session, [wo.id for wo in scheduled_moving])
    session.flush()
    alternatives = reading.alternatives_of(
        session, [li.id for wo in [*drafts, *scheduled_moving] for li in wo.line_items]
    )
    changes = {
        wo.id: booking.place_locked(session, wo, placements[wo.id], alternatives)
        for wo in [*drafts, *scheduled_moving]
    }
    session.flush()
    ledger = booking.BookingLedger.load(session, actor, [*drafts, *scheduled_moving], origin)
    for wo in sorted([*drafts, *scheduled_moving], key=lambda w: w.number):
        po = pos.get(wo.production_order_id) if wo.production_order_id else None
        if wo.state is State.DRAFT:
            actions.schedule_locked(session, actor, wo, po, ledger=ledger)
        else:
            actions.reschedule_locked(
                session, actor, wo, ledger, changes[wo.id], reason="moved by the scheduler"
            )
    session.flush()
    for po in sorted(pos.values(), key=lambda p: p.id):
        follow_work_orders(session, actor, po, "the scheduler placed its work orders")
    return (
        sorted(wo.number for wo in drafts),
        sorted(wo.number for wo in scheduled_moving),
        sorted(unchanged),
    )


def _moves(wo: WorkOrder, placements: Sequence[booking.Placement]) -> bool:
    now = {li.id: (li.resource_id, li.planned_start, li.planned_end) for li in wo.line_items}
    return any(now.get(p.line_item_id) != (p.resource_id, p.start, p.end) for p in placements)


def _assignments(plan: Plan, planned: dict[uuid.UUID, PlannedWork]) -> list[Assignment]:
    """The planned windows as the core's assignments (fixed work as it is now)."""
    out = [Assignment(p.operation, p.resource, p.start, p.end) for p in plan.problem.pinned]
    movable = {s.id: s for s in plan.movable}
    others = {s.id: s for s, _ in [*plan.fixed, *plan.skipped]}
    problems: list[str] = []
    for wo_id, w in planned.items():
        snap = movable.get(wo_id)
        if snap is None:
            name = others[wo_id].number if wo_id in others else str(wo_id)
            problems.append(f"{name} is no longer work that may move")
            continue
        given = {p.line_item_id: p for p in w.placements}
        if set(given) != {li.id for li in snap.line_items} or len(given) != len(w.placements):
            problems.append(f"{snap.number} has other line items now")
            continue
        for li in snap.line_items:
            g = given[li.id]
            start, end = plan.minutes(g.start), plan.minutes(g.end)
            if plan.at(start) != g.start or plan.at(end) != g.end:
                problems.append(
                    f"{line_item_label(snap, li)} has a window of other than whole minutes"
                )
            code = plan.code_of.get(g.resource_id)
            if code is None:
                problems.append(f"{line_item_label(snap, li)} is on a resource it may not use")
                continue
            out.append(Assignment(op_id(snap, li), code, start, end))
    if problems:
        raise Conflict(
            "The proposal does not match the work as it is now: "
            + "; ".join(problems)
            + ". propose.Preview again.",
            violations=problems,
        )
    return out
