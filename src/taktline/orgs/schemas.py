import uuid
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints

from taktline.inventory.rules import lot_code_pattern_problem
from taktline.schemas import (
    Code,
    Name,
    NonNegativeQuantity,
    NoNul,
    PatchBody,
    RecordOut,
    RequestBody,
    ResponseBody,
    Text,
)


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as America/Chicago") from None
    return value


TimeZone = Annotated[Text, AfterValidator(_iana_zone)]


class FacilityCreate(RequestBody):
    name: Name
    timezone: TimeZone


class FacilityUpdate(PatchBody):
    name: Name | None = None
    timezone: TimeZone | None = None


class FacilityOut(RecordOut):
    name: str
    timezone: str


class CustomerCreate(RequestBody):
    name: Name
    code: Code | None = None


class CustomerUpdate(PatchBody):
    nullable = frozenset({"code"})

    name: Name | None = None
    code: Code | None = None


class CustomerOut(RecordOut):
    name: str
    code: str | None


class OrganisationOut(ResponseBody):
    id: uuid.UUID
    name: str
    over_production_tolerance_percent: Decimal = Field(
        description="How much more than can reach it a line item may report, in percent."
    )
    lot_code_pattern: str = Field(
        description="The code of a lot made or received without one: {sku}, {yyddd}, "
        "{yyyymmdd} and {n} (counting up per item and day)."
    )
    material_variance_tolerance_percent: Decimal = Field(
        description="How far a completed work order's use of a material may differ from its "
        "BOM before its reconciliation flags it, in percent."
    )


def _lot_code_pattern(value: str) -> str:
    problem = lot_code_pattern_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class OrganisationUpdate(PatchBody):
    over_production_tolerance_percent: Annotated[NonNegativeQuantity, Field(le=100)] | None = None
    lot_code_pattern: (
        Annotated[
            str, StringConstraints(min_length=3, max_length=40), NoNul,
            AfterValidator(_lot_code_pattern),
        ]
        | None
    ) = None  # fmt: skip
    material_variance_tolerance_percent: Annotated[NonNegativeQuantity, Field(le=100)] | None = None
