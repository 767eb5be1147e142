"""Thin routes over the scheduling service.

POST /schedule/preview   a proposal, nothing changes (PLAN)
POST /schedule/apply     apply a proposal, or solve and apply in one step (PLAN)
GET  /bottlenecks        loads, the bottleneck and why work is late (every role)

A solve while another of the organisation's is under way is a 429 with Retry-After.
"""

from typing import Annotated

from fastapi import Query, Request, Response

from taktline.api.deps import ActorDep
from taktline.api.problems import problem_response
from taktline.api.routing import APIRouter
from taktline.http import SessionDep
from taktline.scheduling import apply, bottlenecks, propose
from taktline.scheduling.schemas import (
    ApplyOut,
    ApplyRequest,
    BottleneckOut,
    ProposalOut,
    ScheduleRequest,
)
from taktline.scheduling.solving import SolverBusy
from taktline.schemas import Timestamp

router = APIRouter(tags=["scheduling"])


def _busy(problem: SolverBusy, request: Request) -> Response:
    response = problem_response(problem, request)
    response.headers["Retry-After"] = str(problem.retry_after_seconds)
    return response


@router.post("/schedule/preview", response_model=ProposalOut)
def preview_schedule(
    request: Request, session: SessionDep, actor: ActorDep, body: ScheduleRequest | None = None
) -> ProposalOut | Response:
    """Places the work on its resources and answers the proposal: for every line item its
    resource and window, what moves, what becomes late, the objective, the bound and the
    gap. Changes nothing. An impossible problem is a 422 naming the line item and why; work
    orders without line items are left out (`skipped`, with the reason). Planners and
    admins only; one solve per organisation at a time (else 429 with Retry-After)."""
    try:
        return propose.preview(session, actor, body or ScheduleRequest()).out
    except SolverBusy as busy:
        return _busy(busy, request)


@router.post("/schedule/apply", response_model=ApplyOut)
def apply_schedule(
    request: Request, session: SessionDep, actor: ActorDep, body: ApplyRequest | None = None
) -> ApplyOut | Response:
    """Applies a proposal sent back as `preview` answered it (412 if its work orders changed
    since, 409 if it no longer fits the plant), or solves and applies in one step (429 with
    Retry-After while another solve of the organisation is under way). One transaction: all
    of it or nothing."""
    try:
        return apply.apply(session, actor, body or ApplyRequest()).out
    except SolverBusy as busy:
        return _busy(busy, request)


@router.get("/bottlenecks")
def get_bottlenecks(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[Timestamp | None, Query(alias="from", description="Defaults to now.")] = None,
    end: Annotated[
        Timestamp | None, Query(alias="to", description="Defaults to 7 days after from.")
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=bottlenecks.MAX_LATE_LIMIT,
            description="How many of the late work orders to list (and explain).",
        ),
    ] = bottlenecks.LATE_LIMIT,
) -> BottleneckOut:
    """Each resource's working time, booked time and utilisation over [from, to), the
    bottleneck resource(s), and the booked work orders that end after their due date (the
    first `limit`, the most weighted lateness first, and how many there are), each with the
    resource and the work that held it up."""
    return bottlenecks.bottlenecks(session, actor, start, end, late_limit=limit)
