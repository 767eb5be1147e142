"""Request and response bodies of production orders."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from taktline.schemas import (
    PatchBody,
    PositiveQuantity,
    Priority,
    RecordOut,
    RequestBody,
    ResponseBody,
    Timestamp,
    Unit,
)
from taktline.work_orders.lifecycle import State
from taktline.work_orders.schemas import WorkOrderFields

Reference = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
MAX_WORK_ORDERS = 500


class ProductionOrderItemIn(RequestBody):
    item_id: uuid.UUID
    quantity: PositiveQuantity
    unit: Unit | None = Field(default=None, description="Defaults to the item's unit.")


class ProductionOrderCreate(RequestBody):
    """A production order, with its items and, if given, its work orders: all or nothing."""

    owner_id: uuid.UUID | None = None
    reference: Reference | None = None
    due_date: Timestamp | None = None
    priority: Priority = 50
    notes: Notes | None = None
    items: list[ProductionOrderItemIn] = Field(min_length=1, max_length=100)
    work_orders: list[WorkOrderFields] = Field(default_factory=list, max_length=MAX_WORK_ORDERS)


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
