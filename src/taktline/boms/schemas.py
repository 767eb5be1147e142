"""What the bills of material API takes and answers."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from taktline.boms.models import BomType, VersionStatus
from taktline.orders.schemas import MAX_ALTERNATIVES, AlternativeIn, Notes
from taktline.schemas import (
    Code,
    Minutes,
    Name,
    NonNegativeQuantity,
    PatchBody,
    PositiveQuantity,
    RecordOut,
    RequestBody,
    ResponseBody,
    Unit,
    VersionNumber,
)

MAX_INPUTS = 200
MAX_OPERATIONS = 50


class InputIn(RequestBody):
    item_id: uuid.UUID
    quantity: PositiveQuantity = Field(description="Per batch, in `unit`.")
    unit: Unit | None = Field(
        default=None, description="Defaults to the item's unit; another one needs a conversion."
    )
    loss_percent: NonNegativeQuantity = Field(
        default=Decimal(0), le=1000, description="Scrap allowance: needed on top, in %."
    )


class OperationIn(RequestBody):
    sequence: int | None = Field(default=None, ge=1, le=10_000, strict=True)
    operation: Name
    resource_id: uuid.UUID | None = None
    setup_minutes: Minutes = Decimal(0)
    run_minutes_per_unit: Minutes = Decimal(0)
    interruptible: bool = Field(default=False, strict=True)
    alternatives: list[AlternativeIn] = Field(default_factory=list, max_length=MAX_ALTERNATIVES)

    @model_validator(mode="after")
    def _other_resources(self) -> Self:
        # An alternative is another resource, each once (the database holds one row of each).
        resources = [alt.resource_id for alt in self.alternatives]
        if self.resource_id in resources or len(set(resources)) < len(resources):
            raise ValueError(
                "an alternative is another resource than the operation's own, each one once"
            )
        return self


def _check_operations(operations: list[OperationIn] | None) -> None:
    sequences = [op.sequence or i for i, op in enumerate(operations or [], start=1)]
    if len(set(sequences)) < len(sequences):
        raise ValueError("two operations have the same sequence")


class VersionContent(RequestBody):
    """A version's batch, inputs and routing."""

    batch_quantity: PositiveQuantity = Field(description="What one batch makes: 1000.")
    batch_unit: Unit | None = Field(default=None, description="Defaults to the item's unit.")
    output_loss_percent: NonNegativeQuantity = Field(default=Decimal(0), le=1000)
    notes: Notes | None = None
    inputs: list[InputIn] = Field(default_factory=list, max_length=MAX_INPUTS)
    operations: list[OperationIn] = Field(default_factory=list, max_length=MAX_OPERATIONS)

    @model_validator(mode="after")
    def _sequences(self) -> Self:
        _check_operations(self.operations)
        return self


class VersionCreate(RequestBody):
    """A new DRAFT version: a copy of version `copy_of`, or what `content` says."""

    copy_of: VersionNumber | None = None
    content: VersionContent | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.copy_of is None) == (self.content is None):
            raise ValueError("give either copy_of (a version number) or content, not both")
        return self


class VersionUpdate(PatchBody):
    """Only while DRAFT. `inputs` and `operations`, when given, replace the whole list."""

    nullable = frozenset({"notes"})

    batch_quantity: PositiveQuantity | None = None
    batch_unit: Unit | None = None
    output_loss_percent: NonNegativeQuantity | None = Field(default=None, le=1000)
    notes: Notes | None = None
    inputs: list[InputIn] | None = Field(default=None, max_length=MAX_INPUTS)
    operations: list[OperationIn] | None = Field(default=None, max_length=MAX_OPERATIONS)

    @model_validator(mode="after")
    def _sequences(self) -> Self:
        _check_operations(self.operations)
        return self


class BomCreate(RequestBody):
    code: Code
    name: Name
    item_id: uuid.UUID = Field(description="The item it makes.")
    type: BomType
    owner_id: uuid.UUID | None = Field(default=None, description="The brand whose recipe it is.")
    version: VersionContent | None = Field(
        default=None, description="Its first version, as a DRAFT."
    )


class BomUpdate(PatchBody):
    nullable = frozenset({"owner_id"})

    code: Code | None = None
    name: Name | None = None
    type: BomType | None = None
    owner_id: uuid.UUID | None = None


class InputOut(ResponseBody):
    id: uuid.UUID
    position: int
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    loss_percent: Decimal


class OperationAlternativeOut(ResponseBody):
    resource_id: uuid.UUID
    setup_minutes: Decimal
    run_minutes_per_unit: Decimal


class OperationOut(ResponseBody):
    id: uuid.UUID
    sequence: int
    operation: str
    resource_id: uuid.UUID | None
    setup_minutes: Decimal
    run_minutes_per_unit: Decimal
    interruptible: bool
    alternatives: list[OperationAlternativeOut]


class VersionOut(RecordOut):
    bom_id: uuid.UUID
    number: int
    status: VersionStatus
    batch_quantity: Decimal
    batch_unit: str
    output_loss_percent: Decimal
    notes: str | None
    activated_at: datetime | None
    retired_at: datetime | None
    inputs: list[InputOut]
    operations: list[OperationOut]


class VersionBrief(ResponseBody):
    id: uuid.UUID
    number: int
    status: VersionStatus


class BomOut(RecordOut):
    code: str
    name: str
    item_id: uuid.UUID
    type: BomType
    owner_id: uuid.UUID | None
    versions: list[VersionBrief] = Field(description="Every version, the first first.")


class Difference(ResponseBody):
    """One change from version `against` to this one: a field of the batch, an input (by
    item) or an operation (by sequence), before and after (null: absent)."""

    part: str = Field(description="batch, input or operation")
    key: str = Field(description="The field, the input's item id or the operation's sequence.")
    before: dict[str, str | None] | None
    after: dict[str, str | None] | None


class DiffOut(ResponseBody):
    version: int
    against: int
    differences: list[Difference]


# --- explosion and generation (the body of /generate, GenerateRequest, is a production
# order's: taktline.orders.schemas) -------------------------------------------------------


class RequirementOut(ResponseBody):
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    bom_input_id: uuid.UUID | None


class PlannedOut(ResponseBody):
    """A work order the explosion would make; `key` is its place, `depends_on` keys."""

    key: int
    level: int
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    bom_id: uuid.UUID
    bom_version: int
    operations: list[str]
    resource_ids: list[uuid.UUID | None]
    materials: list[RequirementOut]
    depends_on: list[int]


class ExplosionOut(ResponseBody):
    item_id: uuid.UUID
    quantity: Decimal
    work_orders: list[PlannedOut]


class MaterialOut(ResponseBody):
    position: int
    item_id: uuid.UUID
    quantity: Decimal
    unit: str
    bom_input_id: uuid.UUID | None


class WhereUsedOut(ResponseBody):
    """A BOM version that uses the item, and how deep: 1 directly, 2 through one BOM..."""

    bom_id: uuid.UUID
    bom_code: str
    item_id: uuid.UUID = Field(description="What that BOM makes.")
    version: int
    status: VersionStatus
    level: int


# --- CSV import ----------------------------------------------------------------------------


class ImportedBomOut(ResponseBody):
    """A bill of material of the file, and the DRAFT version the import made (or, in a dry
    run, would make) of it."""

    code: str
    bom_id: uuid.UUID | None = Field(description="null: a new BOM, in a dry run.")
    created: bool = Field(description="A new BOM; false: a new version of one that exists.")
    version: int = Field(description="The number of its new DRAFT version.")
    first_row: int = Field(description="Its first row in the file (the header is row 1).")
    rows: int
    inputs: int
    operations: int


class ImportOut(ResponseBody):
    dry_run: bool = Field(description="true: nothing was written.")
    rows: int = Field(description="The rows read, the header not counted.")
    boms: list[ImportedBomOut] = Field(description="In the order of their first rows.")
