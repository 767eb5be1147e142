"""The Schedule action of the board: a preview of what the scheduler would do (what moves,
what becomes late, how good the schedule is), and an Apply button.

Both go through the scheduling use cases exactly as the API does. The Apply form carries the
previewed windows (compactly: a large plan must fit in a form) with the versions they were
made from, so what is applied is what was shown, or nothing: the use case refuses work that
changed since (412) or windows that no longer fit the plant (409), with its own message.
"""

import json
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from taktline.errors import FieldError, Problem, ValidationProblem
from taktline.http import SessionDep
from taktline.orders.booking import Placement
from taktline.permissions import authorize
from taktline.portal import charts, forms
from taktline.portal.format import Fmt
from taktline.portal.web import FormDep, UserDep, redirect, render
from taktline.scheduling import apply, propose
from taktline.scheduling.schemas import MAX_TIME_LIMIT_SECONDS, ProposalOut, ScheduleRequest
from taktline.scheduling.solving import SolverBusy
from taktline.schemas import RequestBody, Timestamp
from taktline.solver.problem import Objective

router = APIRouter(include_in_schema=False)

TIME_LIMITS = (5, 10, 30, 60)
MOVES_SHOWN = 200


class PortalPlan(RequestBody):
    """The previewed windows, as the Apply form carries them."""

    horizon_start: Timestamp
    objective: Objective
    # [work order id, version, [[line item id, resource id, start, end], ...]]
    work_orders: list[
        tuple[uuid.UUID, int, list[tuple[uuid.UUID, uuid.UUID, Timestamp, Timestamp]]]
    ] = Field(max_length=50_000)


def plan_field(proposal: ProposalOut) -> str:
    """The proposal's changes as the Apply form's hidden `plan`: JSON without the work it
    keeps where it is, in short arrays."""
    return json.dumps(
        {
            "horizon_start": proposal.horizon_start.isoformat(),
            "objective": str(proposal.objective),
            "work_orders": [
                [
                    str(w.id),
                    w.version,
                    [
                        [
                            str(li.id),
                            str(li.resource_id),
                            li.planned_start.isoformat(),
                            li.planned_end.isoformat(),
                        ]
                        for li in w.line_items
                    ],
                ]
                for w in proposal.work_orders
                if w.action != "keep"
            ],
        },
        separators=(",", ":"),
    )


@router.get("/board/schedule", response_class=HTMLResponse)
def schedule_preview(
    request: Request,
    session: SessionDep,
    user: UserDep,
    objective: Objective = Objective.WEIGHTED_TARDINESS,
    time_limit: Annotated[int, Query(ge=1, le=MAX_TIME_LIMIT_SECONDS)] = 10,
) -> Response:
    """Solves all open work and shows the proposal; nothing changes until Apply."""
    # The page is the Apply form: refused early, as applying would be.
    authorize(user.actor, "schedule.apply")
    fmt = Fmt(user.zone)
    body = ScheduleRequest(objective=objective, time_limit_seconds=time_limit)
    try:
        proposal = propose.preview(session, user.actor, body).out
    except Problem as problem:
        page = render(
            request,
            "schedule_preview.html",
            user,
            status_code=problem.status,
            fmt=fmt,
            problem=problem,
            failure=forms.form_errors(problem),
            proposal=None,
            objective=objective,
            time_limit=time_limit,
            time_limits=TIME_LIMITS,
        )
        if isinstance(problem, SolverBusy):
            page.headers["Retry-After"] = str(problem.retry_after_seconds)
        return page
    changing = [w for w in proposal.work_orders if w.action != "keep"]
    changing.sort(key=lambda w: (not w.becomes_late, not w.late, w.planned_start, w.number))
    return render(
        request,
        "schedule_preview.html",
        user,
        fmt=fmt,
        problem=None,
        proposal=proposal,
        changing=changing[:MOVES_SHOWN],
        more=max(0, len(changing) - MOVES_SHOWN),
        late=[w for w in proposal.work_orders if w.late],
        plan=plan_field(proposal),
        objective=objective,
        time_limit=time_limit,
        time_limits=TIME_LIMITS,
        minutes=lambda m: fmt.duration(timedelta(minutes=m)),
    )


@router.post("/board/schedule/apply")
def schedule_apply(request: Request, session: SessionDep, user: UserDep, form: FormDep) -> Response:
    """Applies the previewed windows in one transaction, or nothing."""
    try:
        data = json.loads(form.get("plan", ""))
    except ValueError:
        raise ValidationProblem(
            [FieldError(["form", "plan"], "could not be read", "json_invalid")]
        ) from None
    plan = forms.validated(PortalPlan, data)
    work = [
        apply.PlannedWork(
            wo_id, version, tuple(Placement(li, r, s, e) for li, r, s, e in placements)
        )
        for wo_id, version, placements in plan.work_orders
    ]
    try:
        scheduled, rescheduled, _ = apply.apply_planned(
            session, user.actor, plan.horizon_start, plan.objective, work
        )
    except Problem as problem:
        return render(
            request,
            "schedule_preview.html",
            user,
            status_code=problem.status,
            fmt=Fmt(user.zone),
            problem=problem,
            failure=forms.form_errors(problem),
            proposal=None,
            objective=plan.objective,
            time_limit=10,
            time_limits=TIME_LIMITS,
        )
    first_day = charts.week_start(plan.horizon_start.astimezone(user.zone).date())
    return redirect(
        f"/board?zoom=week&from={first_day.isoformat()}",
        f"Schedule applied: {len(scheduled)} work orders scheduled, "
        f"{len(rescheduled)} rescheduled.",
    )
