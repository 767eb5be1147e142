"""Request and response bodies of production orders, work orders and their line items."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from taktline.boms.explosion import Split
from taktline.orders.lifecycle import LineItemStatus, Punctuality, State
from taktline.schemas import (
    Code,
    Minutes,
    Name,
    NonNegativeQuantity,
    NoNul,
    PatchBody,
    PositiveQuantity,
    Priority,
    Reason,
    RecordOut,
    RequestBody,
    ResponseBody,
    Timestamp,
    Unit,
    VersionNumber,
)

Instructions = Annotated[str, StringConstraints(max_length=10_000), NoNul]
MAX_LINE_ITEMS = 100
MAX_ALTERNATIVES = 20
MAX_DEPENDENCIES = 100
MAX_MATERIALS = 200


def _window_end(end: datetime | None, info: ValidationInfo) -> datetime | None:
    """Checks planned_end against planned_start, so that the error points at planned_end."""
    start = info.data.get("planned_start")
    if "planned_start" not in info.data:
        return end  # planned_start itself was invalid and is reported already
    if (start is None) != (end is None):
        raise ValueError("give both planned_start and planned_end, or neither")
    if start is not None and end is not None and end <= start:
        raise ValueError("must be after planned_start")
    return end


class AlternativeIn(RequestBody):
    """Another resource the line item may run on, with its setup and run time there."""

    resource_id: uuid.UUID
    setup_minutes: Minutes = Decimal(0)
    run_minutes_per_unit: Minutes = Decimal(0)


class LineItemIn(RequestBody):
    sequence: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        strict=True,
        description="Order of the operation; defaults to position.",
    )
    operation: Name
    resource_id: uuid.UUID | None = None
    setup_minutes: Minutes = Decimal(0)
    run_minutes_per_unit: Minutes = Decimal(0)
    planned_start: Timestamp | None = None
    planned_end: Timestamp | None = Field(default=None, validate_default=True)
    interruptible: bool = Field(
        default=False,
        strict=True,
        description="May stretch over non-working time; if not, it must fit inside one "
        "working stretch of its resource.",
    )
    alternatives: list[AlternativeIn] = Field(
        default_factory=list,
        max_length=MAX_ALTERNATIVES,
        description="Other resources the scheduler may run it on, each with its own times.",
    )

    _end_after_start = field_validator("planned_end")(_window_end)


def _check_sequences(line_items: list[LineItemIn]) -> None:
    given = [li.sequence for li in line_items if li.sequence is not None]
    if given and len(given) != len(line_items):
        raise ValueError("give a sequence for every line item or for none")
    if len(set(given)) != len(given):
        raise ValueError("line item sequences must be unique")


class WorkOrderFields(RequestBody):
    """What a work order is made of, whether created alone or inside a production order."""

    item_id: uuid.UUID
    quantity: PositiveQuantity
    unit: Unit | None = Field(default=None, description="Defaults to the item's unit.")
    instructions: Instructions | None = None
    due_date: Timestamp | None = None
    priority: Priority = 50
    release_at: Timestamp | None = Field(
        default=None, description="The scheduler starts none of its line items before this."
    )
    pinned: bool = Field(
        default=False, strict=True, description="The scheduler leaves it where it is."
    )
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=MAX_LINE_ITEMS)

    @model_validator(mode="after")
    def _sequences(self) -> Self:
        _check_sequences(self.line_items)
        return self


DependsOn = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_DEPENDENCIES,
        description="Work orders of the same production order that must end before it starts.",
    ),
]


class WorkOrderCreate(WorkOrderFields):
    production_order_id: uuid.UUID | None = None
    depends_on: DependsOn = Field(default_factory=list)


class MaterialIn(RequestBody):
    """A material requirement of a work order, as a planner types it."""

    item_id: uuid.UUID
    quantity: PositiveQuantity = Field(
        description="In `unit`, with no more decimal places than the item's precision."
    )
    unit: Unit | None = Field(
        default=None,
        description="Defaults to the item's unit; another one must be a unit the item "
        "declares a conversion from.",
    )
    bom_input_id: uuid.UUID | None = Field(
        default=None,
        description="The line of the work order's BOM version it comes from (as GET "
        ".../materials shows it, to keep it when the list is sent back); null for a material "
        "typed by hand.",
    )


class WorkOrderUpdate(PatchBody):
    """Only while DRAFT, except `pinned` alone, which may change while the work order is
    DRAFT, SCHEDULED or IN_PROCESS. `line_items`, `materials` and `depends_on`, when given,
    replace the whole list."""

    nullable = frozenset({"instructions", "due_date", "unit", "release_at"})

    item_id: uuid.UUID | None = None
    quantity: PositiveQuantity | None = None
    unit: Unit | None = None
    instructions: Instructions | None = None
    due_date: Timestamp | None = None
    priority: Priority | None = None
    release_at: Timestamp | None = None
    pinned: bool | None = Field(default=None, strict=True)
    line_items: list[LineItemIn] | None = Field(default=None, max_length=MAX_LINE_ITEMS)
    materials: list[MaterialIn] | None = Field(
        default=None,
        max_length=MAX_MATERIALS,
        description="Its material requirements (GET .../materials), the whole list.",
    )
    depends_on: DependsOn | None = None

    @model_validator(mode="after")
    def _sequences(self) -> Self:
        if self.line_items is not None:
            _check_sequences(self.line_items)
        return self


class LineItemWindow(RequestBody):
    id: uuid.UUID
    planned_start: Timestamp
    planned_end: Timestamp
    resource_id: uuid.UUID | None = None

    _end_after_start = field_validator("planned_end")(_window_end)


class ScheduleWorkOrderRequest(RequestBody):
    """Either windows for the line items, or `start` to lay them out back to back from then,
    each at the earliest time its resource is free. With neither, the planned windows the
    line items already have are booked."""

    start: Timestamp | None = None
    line_items: list[LineItemWindow] = Field(default_factory=list, max_length=MAX_LINE_ITEMS)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.start is not None and self.line_items:
            raise ValueError("give either start or line_items windows, not both")
        return self


class ReasonRequest(RequestBody):
    reason: Reason


class CompleteRequest(RequestBody):
    quantity_produced: NonNegativeQuantity | None = Field(
        default=None, description="Defaults to what the last line item reported."
    )
    quantity_scrapped: NonNegativeQuantity | None = Field(
        default=None, description="Defaults to the scrap reported on the line items."
    )


class ReportRequest(RequestBody):
    quantity_completed: NonNegativeQuantity = Decimal(0)
    quantity_scrapped: NonNegativeQuantity = Decimal(0)
    done: bool = False
    note: Annotated[str, StringConstraints(max_length=2000), NoNul] | None = None
    lot_code: Code | None = Field(
        default=None,
        description="On the last line item: the code of the lot what was completed goes into "
        "(new, or one this work order made). When absent: its latest output lot, or a new one "
        "coded by the organisation's pattern.",
    )

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.done and self.quantity_completed == 0 and self.quantity_scrapped == 0:
            raise ValueError("report a quantity completed or scrapped, or done: true")
        return self


class ReverseReportRequest(RequestBody):
    report_id: uuid.UUID = Field(description="The report to reverse (GET .../reports).")
    reason: Reason


class LineItemReportOut(ResponseBody):
    id: uuid.UUID
    work_order_id: uuid.UUID
    line_item_id: uuid.UUID
    quantity_completed: Decimal
    quantity_scrapped: Decimal
    done: bool
    note: str | None
    reverses_id: uuid.UUID | None = Field(description="The report this one reverses.")
    reversed: bool = Field(default=False, description="Whether a later report reverses it.")
    actor_id: uuid.UUID | None = Field(description="The user who reported it.")
    actor_email: str | None
    at: datetime


class ResourceRef(ResponseBody):
    id: uuid.UUID
    code: str
    name: str


class AlternativeOut(ResponseBody):
    resource_id: uuid.UUID
    resource: ResourceRef | None = None
    setup_minutes: Decimal
    run_minutes_per_unit: Decimal


class LineItemOut(ResponseBody):
    id: uuid.UUID
    sequence: int
    operation: str
    resource_id: uuid.UUID | None
    resource: ResourceRef | None = None
    setup_minutes: Decimal
    run_minutes_per_unit: Decimal
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    quantity_completed: Decimal
    quantity_scrapped: Decimal
    status: LineItemStatus
    interruptible: bool
    alternatives: list[AlternativeOut] = Field(default_factory=list)


class WorkOrderOut(RecordOut):
    number: str
    state: State
    production_order_id: uuid.UUID | None
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    instructions: str | None
    due_date: datetime | None
    priority: int
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    quantity_produced: Decimal
    quantity_scrapped: Decimal
    on_hold: bool
    hold_reason: str | None
    release_at: datetime | None
    pinned: bool
    bom_version_id: uuid.UUID | None = Field(
        default=None, description="The BOM version it was generated from; null if typed."
    )
    depends_on: list[uuid.UUID] = Field(
        default_factory=list, description="Work orders that must end before it starts."
    )
    line_items: list[LineItemOut]
    resource_ids: list[uuid.UUID] = Field(description="The resources its line items run on.")
    allowed_actions: list[str] = Field(description="What may be done to it now.")
    punctuality: Punctuality | None = Field(
        default=None,
        description="LATE when open and planned to end after its due date or past it; AT_RISK "
        "when planned to end within 4 hours of it; ON_TIME otherwise; null without a due "
        "date or once closed.",
    )


# --- production orders ---------------------------------------------------------------------

Reference = Annotated[str, StringConstraints(min_length=1, max_length=100), NoNul]
Notes = Annotated[str, StringConstraints(max_length=10_000), NoNul]
MAX_WORK_ORDERS = 1000


class ProductionOrderItemIn(RequestBody):
    item_id: uuid.UUID
    quantity: PositiveQuantity
    unit: Unit | None = Field(default=None, description="Defaults to the item's unit.")


class GenerateRequest(RequestBody):
    """How the work orders are made from the BOMs of the production order's items."""

    split: Split = Field(
        default=Split.FULL,
        description="FULL: work orders of a resource's full capacity, then the remainder; "
        "EVEN: as many as needed, of equal size.",
    )
    round_up_to_minimum: bool = Field(
        default=False,
        strict=True,
        description="A work order below a resource's minimum capacity is made at the minimum "
        "instead of refused.",
    )
    versions: dict[uuid.UUID, VersionNumber] = Field(
        default_factory=dict,
        description="A version number to use for a BOM (by BOM id) instead of its ACTIVE one.",
        max_length=50,
    )


class ProductionOrderCreate(RequestBody):
    """A production order, with its items and either the work orders given or, with
    `generate`, those generated from the BOMs of its items: all or nothing."""

    owner_id: uuid.UUID | None = None
    reference: Reference | None = None
    due_date: Timestamp | None = None
    priority: Priority = 50
    notes: Notes | None = None
    items: list[ProductionOrderItemIn] = Field(min_length=1, max_length=100)
    generate: bool = Field(
        default=False,
        strict=True,
        description="Generates its work orders from the bills of material of its items in "
        "the same transaction, as POST .../generate does (then give no work_orders).",
    )
    generation: GenerateRequest | None = Field(
        default=None,
        description="How they are generated (the body of POST .../generate); only with "
        "generate: true. Default: full splits, no rounding up, the ACTIVE versions.",
    )
    work_orders: list[WorkOrderFields] = Field(default_factory=list, max_length=MAX_WORK_ORDERS)

    @field_validator("generation")
    @classmethod
    def _generation_only_when_generating(
        cls, generation: GenerateRequest | None, info: ValidationInfo
    ) -> GenerateRequest | None:
        if generation is not None and info.data.get("generate") is False:
            raise ValueError("only with generate: true")
        return generation

    @field_validator("work_orders")
    @classmethod
    def _given_or_generated(
        cls, work_orders: list[WorkOrderFields], info: ValidationInfo
    ) -> list[WorkOrderFields]:
        if work_orders and info.data.get("generate") is True:
            raise ValueError(
                "give work_orders or generate: true, not both (generated work orders come "
                "from the bills of material of the items)"
            )
        return work_orders


class ProductionOrderUpdate(PatchBody):
    """Only while DRAFT. `items`, when given, replaces the whole list."""

    nullable = frozenset({"owner_id", "reference", "due_date", "notes"})

    owner_id: uuid.UUID | None = None
    reference: Reference | None = None
    due_date: Timestamp | None = None
    priority: Priority | None = None
    notes: Notes | None = None
    items: list[ProductionOrderItemIn] | None = Field(default=None, min_length=1, max_length=100)


class ScheduleOrderRequest(RequestBody):
    """With `start`, every DRAFT work order is laid out from then, most urgent first, each line
    item at the earliest time its resource is free; without, their planned windows are booked."""

    start: Timestamp | None = None


class ProductionOrderItemOut(ResponseBody):
    id: uuid.UUID
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    quantity_produced: Decimal = Decimal(0)


class WorkOrderBrief(ResponseBody):
    id: uuid.UUID
    number: str
    state: State
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    quantity_produced: Decimal
    quantity_scrapped: Decimal
    planned_start: datetime | None
    planned_end: datetime | None
    on_hold: bool
    due_date: datetime | None = None
    punctuality: Punctuality | None = None


class WorkOrderSummary(ResponseBody):
    count: int
    by_state: dict[State, int]
    quantity_planned: Decimal = Field(description="The quantities of the order's items.")
    quantity_produced: Decimal = Field(
        description="What its work orders (not DELETED, CANCELED ones included) produced of them."
    )
    progress_percent: Decimal


class ProductionOrderOut(RecordOut):
    number: str
    state: State
    owner_id: uuid.UUID | None
    reference: str | None
    due_date: datetime | None
    priority: int
    notes: str | None
    items: list[ProductionOrderItemOut]
    work_orders: list[WorkOrderBrief] | None = Field(
        description="Its work orders (not DELETED); null in lists, where `summary` tells."
    )
    summary: WorkOrderSummary
    allowed_actions: list[str]
