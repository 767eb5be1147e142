"""Request and response bodies of the scheduler: which work, the proposal, the bottlenecks.

A proposal is answered by `preview` and may be sent back to `apply` as it is: its models
refuse unknown fields in both directions, so a proposal that went through a client and back
is exactly what was previewed (and is then checked against the plant as it is now).
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

from taktline.orders.lifecycle import State
from taktline.schemas import RequestBody, ResponseBody, Text, Timestamp
from taktline.solver.problem import Method, Objective

# A preview is a request that waits for its answer, and holds the organisation's solving
# slot while it solves (scheduling.solving): at most a minute of the solver's time (reading
# the work and shaping the answer add a little). The CLI takes the same limit.
MAX_TIME_LIMIT_SECONDS = 60
DEFAULT_TIME_LIMIT_SECONDS = 10.0
MAX_IDS = 5000


def _number(value: Any) -> Any:
    # JSON numbers only: `true` and "10" are not a time limit.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("a number of seconds")
    return value


Seconds = Annotated[
    float,
    BeforeValidator(_number),
    Field(gt=0, le=MAX_TIME_LIMIT_SECONDS, allow_inf_nan=False),
]


class ScheduleRequest(RequestBody):
    """Which work to schedule and how. Without production_order_ids and work_order_ids: all
    open work (DRAFT and SCHEDULED work orders that are not pinned; work IN_PROCESS and
    pinned work stay where they are and are worked around)."""

    production_order_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="Schedule the DRAFT and SCHEDULED work orders of these production orders.",
    )
    work_order_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_IDS, description="Schedule these work orders."
    )
    horizon_start: Timestamp | None = Field(
        default=None, description="Nothing moves to before this; defaults to now."
    )
    objective: Objective = Field(
        default=Objective.WEIGHTED_TARDINESS,
        description="weighted_tardiness: least total lateness weighted by priority, then the "
        "earliest end of all work; makespan: the earliest end of all work only.",
    )
    time_limit_seconds: Seconds = Field(
        default=DEFAULT_TIME_LIMIT_SECONDS,
        description=f"Seconds the solver may take; at most {MAX_TIME_LIMIT_SECONDS}.",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, strict=True)


# --- the proposal --------------------------------------------------------------------------


class PlannedLineItem(RequestBody):
    id: uuid.UUID
    sequence: int
    operation: Text
    resource_id: uuid.UUID
    resource_code: Text
    planned_start: Timestamp
    planned_end: Timestamp
    previous_resource_id: uuid.UUID | None
    previous_start: Timestamp | None
    previous_end: Timestamp | None
    moved: bool = Field(description="Its resource or window changes.")


class PlannedWorkOrder(RequestBody):
    id: uuid.UUID
    number: Text
    version: int = Field(description="The version the proposal was made from.")
    state: State
    action: Literal["schedule", "reschedule", "keep"] = Field(
        description="schedule: DRAFT to SCHEDULED; reschedule: SCHEDULED, moves; keep: "
        "SCHEDULED, stays."
    )
    production_order_id: uuid.UUID | None
    due_date: Timestamp | None
    priority: int
    planned_start: Timestamp
    planned_end: Timestamp
    previous_start: Timestamp | None
    previous_end: Timestamp | None
    late: bool
    lateness_minutes: int
    was_late: bool = Field(description="Its current plan (if any) ends after its due date.")
    becomes_late: bool = Field(description="Late with this proposal and not before.")
    line_items: list[PlannedLineItem]


class HeldWorkOrder(RequestBody):
    """Work the proposal works around (fixed) or leaves out (skipped), and why."""

    id: uuid.UUID
    number: Text
    state: State
    reason: Text


class ProposalSummary(RequestBody):
    work_orders: int
    line_items: int
    to_schedule: int
    to_reschedule: int
    unchanged: int
    fixed: int
    skipped: int
    late: int
    becomes_late: int


class ProposalOut(RequestBody):
    horizon_start: Timestamp
    objective: Objective
    production_order_ids: list[uuid.UUID]
    work_order_ids: list[uuid.UUID]
    time_limit_seconds: float
    seed: int
    value: int = Field(
        description="What the objective minimises: minutes of lateness x priority, or the "
        "makespan in minutes from horizon_start."
    )
    bound: int = Field(description="A proven lower bound on value.")
    gap: float = Field(description="(value - bound) / value; 0 when proven optimal.")
    optimal: bool
    status: Text
    method: Method
    note: Text
    seconds: float
    heuristic_value: int | None
    weighted_tardiness: int
    makespan_minutes: int
    work_end: Timestamp | None = Field(description="When all the work ends.")
    summary: ProposalSummary
    work_orders: list[PlannedWorkOrder]
    fixed: list[HeldWorkOrder]
    skipped: list[HeldWorkOrder]


class ApplyRequest(ScheduleRequest):
    """Either a proposal from `preview`, sent back as it came, or the fields of a preview
    request, to solve and apply in one step."""

    proposal: ProposalOut | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.proposal is not None:
            others = self.model_fields_set - {"proposal"}
            if others:
                raise ValueError(
                    "give either a proposal or what to schedule, not both "
                    f"(also given: {', '.join(sorted(others))})"
                )
        return self


class ApplyOut(ResponseBody):
    proposal: ProposalOut
    scheduled: list[str] = Field(description="Work orders moved from DRAFT to SCHEDULED.")
    rescheduled: list[str] = Field(description="SCHEDULED work orders that moved.")
    unchanged: list[str]


# --- bottlenecks ---------------------------------------------------------------------------


class ResourceBrief(ResponseBody):
    id: uuid.UUID
    code: str
    name: str


class ResourceLoadOut(ResponseBody):
    resource: ResourceBrief
    available_minutes: int = Field(description="Working minutes in the horizon x capacity.")
    booked_minutes: int
    utilisation: float | None = Field(
        description="booked / available; null when it has no working time but work booked."
    )


class LineItemBrief(ResponseBody):
    work_order_id: uuid.UUID
    work_order_number: str
    line_item_id: uuid.UUID
    sequence: int
    operation: str


class MaterialShortOut(ResponseBody):
    item_sku: str
    unit: str
    short: Decimal = Field(description="What the stock lacks for it, in the item's unit.")


class LateWorkOrderOut(ResponseBody):
    id: uuid.UUID
    number: str
    due_date: datetime
    planned_end: datetime
    lateness_minutes: int
    weighted_lateness: int
    reason: str
    resource: ResourceBrief | None = Field(
        default=None, description="The resource it waited for longest."
    )
    line_item: LineItemBrief | None = Field(default=None, description="Its line item that waited.")
    waited_minutes: int = 0
    held_up_by: list[LineItemBrief] = Field(
        default_factory=list, description="Other work on that resource meanwhile."
    )
    short_materials: list[MaterialShortOut] = Field(
        default_factory=list,
        description="Materials it will wait for: the stock does not cover them once the work "
        "that needs them earlier took its share.",
    )


class BottleneckOut(ResponseBody):
    start: datetime
    end: datetime
    resources: list[ResourceLoadOut] = Field(description="Highest utilisation first.")
    bottlenecks: list[ResourceBrief]
    late_work_orders: list[LateWorkOrderOut] = Field(
        description="Most weighted lateness first: the first `limit` of `late_count`."
    )
    late_count: int = Field(
        description="How many booked work orders overlapping the window are late in all."
    )
