"""Valid request bodies for the simple records, unique per call: start from one of these and
change the field a test is about."""

import itertools
from typing import Any

_serial = itertools.count(1)


def _n() -> int:
    return next(_serial)


def item(**changes: Any) -> dict[str, Any]:
    n = _n()
    body = {"sku": f"SKU-{n:05d}", "name": f"Item {n}", "unit": "ea", "type": "FINISHED_GOOD"}
    return {**body, **changes}


def facility(**changes: Any) -> dict[str, Any]:
    return {"name": f"Plant {_n()}", "timezone": "America/Chicago", **changes}


def customer(**changes: Any) -> dict[str, Any]:
    n = _n()
    return {"name": f"Customer {n}", "code": f"C{n:05d}", **changes}


def resource(facility_id: str, **changes: Any) -> dict[str, Any]:
    n = _n()
    body = {
        "code": f"RES-{n:05d}",
        "name": f"Line {n}",
        "kind": "LINE",
        "facility_id": facility_id,
        "capacity_min": "0",
        "capacity_max": "1000",
        "capacity_unit": "gal",
        "parallel_capacity": 1,
        "active": True,
    }
    return {**body, **changes}
