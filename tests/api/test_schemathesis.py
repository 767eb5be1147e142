"""The API against its own OpenAPI document, with requests Schemathesis generates from it.

The document is the one the application serves (`GET /api/v1/openapi.json`). Every operation
is sent generated requests, valid and invalid, on each database, with an admin's token (the
role that may do everything, so the requests reach the use cases); ids in the path are those
of records made for the run, so the bodies meet real work orders, not only 404s. An answer
fails the test when it is a 5xx, when its status or content type is not documented for the
operation, when its body or headers do not match the documented schema.

Bounded: MAX_EXAMPLES generated requests per operation (plus Schemathesis's explicit examples
and coverage cases), each within DEADLINE; the whole run takes a few minutes on both
databases. `pytest -k schemathesis` runs it alone.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taktline.app import create_app
from taktline.config import Settings
from tests.api.conftest import Builder
from tests.helpers import API, Tenant, create_tenant

# A longer hunt: TAKTLINE_FUZZ_EXAMPLES=500 pytest -k schemathesis (random, not derandomized)
HUNT = os.environ.get("TAKTLINE_FUZZ_EXAMPLES")
MAX_EXAMPLES = int(HUNT) if HUNT else 20
DEADLINE = timedelta(seconds=10)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# The document as served: loaded over ASGI from an application on a database it never
# touches (serving the document needs none); the requests go to the test's application.
_SERVING = create_app(Settings(database_url="sqlite://"))
schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", _SERVING)


@dataclass
class Targets:
    """The ids of records made for the run, by the path parameter that names them."""

    headers: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)
    line_items: dict[str, list[str]] = field(default_factory=dict)

    def aim(self, case: Any) -> None:
        """Puts real ids where the generated path has well-formed ones (a malformed id is
        left as generated: that the API refuses it is part of the test)."""
        params = case.path_parameters or {}
        for name, value in list(params.items()):
            choices = self.ids.get(name)
            if not choices or not _is_uuid(value):
                continue
            params[name] = choices[uuid.UUID(str(value)).int % len(choices)]
        work_order = params.get("work_order_id")
        if "line_item_id" in params and _is_uuid(params["line_item_id"]):
            lines = self.line_items.get(str(work_order), [])
            if lines:
                params["line_item_id"] = lines[
                    uuid.UUID(str(params["line_item_id"])).int % len(lines)
                ]


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def targets(app: FastAPI) -> Iterator[Targets]:
    """One organisation with a few records of every kind, work orders in every open state."""
    tenant: Tenant = create_tenant(app.state.session_factory)
    with TestClient(app) as client:
        b = Builder(client, tenant)
        facility = b.facility()
        resource = b.resource(facility["id"], parallel_capacity=1000)
        b.ok("PUT", f"/resources/{resource['id']}/calendar", {"shifts": []})
        work_orders = [b.wo_in(state) for state in ("DRAFT", "SCHEDULED", "IN_PROCESS", "READY")]
        po = b.production_order(work_orders=2)
        exception = b.ok(
            "POST",
            f"/facilities/{facility['id']}/calendar/exceptions",
            {
                "kind": "HOLIDAY",
                "starts_at": "2031-12-25T00:00:00+00:00",
                "ends_at": "2031-12-26T00:00:00+00:00",
                "reason": "Christmas",
            },
        )
        lot = b.ok(
            "POST",
            "/receipts",
            {"item_id": b.shared_item["id"], "facility_id": facility["id"], "quantity": "100"},
        )
        all_work_orders = work_orders + [
            b.get(f"/work-orders/{brief['id']}") for brief in po["work_orders"]
        ]
        yield Targets(
            headers=tenant.headers("admin"),
            ids={
                "facility_id": [facility["id"]],
                "resource_id": [resource["id"]],
                "item_id": [b.shared_item["id"]],
                "customer_id": [po["owner_id"]],
                "production_order_id": [po["id"]],
                "work_order_id": [wo["id"] for wo in all_work_orders],
                "exception_id": [exception["id"]],
                "lot_id": [lot["id"]],
            },
            line_items={wo["id"]: [li["id"] for li in wo["line_items"]] for wo in all_work_orders},
        )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    derandomize=not HUNT,
    print_blob=True,
)
def test_the_api_answers_as_its_document_says(case: Any, app: FastAPI, targets: Targets) -> None:
    targets.aim(case)
    case.call_and_validate(app=app, headers=targets.headers, checks=CHECKS)
