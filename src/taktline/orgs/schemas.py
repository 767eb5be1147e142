from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from taktline.schemas import Code, Name, PatchBody, RecordOut, RequestBody


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as America/Chicago") from None
    return value


TimeZone = Annotated[str, AfterValidator(_iana_zone)]


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
