"""Thin routes over the scheduling service.

POST /schedule/preview   a proposal, nothing changes (every role of the organisation)
POST /schedule/apply     apply a proposal, or solve and apply in one step (PLAN)
GET  /bottlenecks        loads, the bottleneck and why work is late (every role)
"""

from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime

from taktline.api.deps import ActorDep
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

router = APIRouter(tags=["scheduling"])


@router.post("/schedule/preview")
def preview_schedule(
    session: SessionDep, actor: ActorDep, body: ScheduleRequest | None = None
) -> ProposalOut:
    """Places the work on its resources and answers the proposal: for every line item its
    resource and window, what moves, what becomes late, the objective, the bound and the
    gap. Changes nothing. An impossible problem is a 422 naming the line item and why."""
    return propose.preview(session, actor, body or ScheduleRequest()).out


@router.post("/schedule/apply")
def apply_schedule(
    session: SessionDep, actor: ActorDep, body: ApplyRequest | None = None
) -> ApplyOut:
    """Applies a proposal sent back as `preview` answered it (412 if its work orders changed
    since, 409 if it no longer fits the plant), or solves and applies in one step. One
    transaction: all of it or nothing."""
    return apply.apply(session, actor, body or ApplyRequest()).out


@router.get("/bottlenecks")
def get_bottlenecks(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Defaults to now.")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(alias="to", description="Defaults to 7 days after from.")
    ] = None,
) -> BottleneckOut:
    """Each resource's working time, booked time and utilisation over [from, to), the
    bottleneck resource(s), and the booked work orders that end after their due date, each
    with the resource and the work that held it up."""
    return bottlenecks.bottlenecks(session, actor, start, end)
