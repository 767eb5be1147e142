"""Facilities over the API: /api/v1/facilities."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.helpers import API, Tenant, assert_problem, bodies, create, db_counts, error_fields
from tests.helpers.contract import RecordContract, RecordSpec


def _facility(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    return bodies.facility()


class TestFacilitiesFollowTheRecordContract(RecordContract):
    spec = RecordSpec(
        path="/facilities",
        make_body=_facility,
        natural_key="name",
        required="timezone",
        new_value=lambda: "Europe/Amsterdam",
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "CST", "", "America/Chicago/"])
def test_a_time_zone_that_is_not_iana_answers_422_naming_timezone(
    client: TestClient, tenant: Tenant, session: Session, zone: str
) -> None:
    before = db_counts(session)

    response = client.post(
        f"{API}/facilities", json=bodies.facility(timezone=zone), headers=tenant.headers()
    )

    problem = assert_problem(response, 422, "validation-error")
    assert "body.timezone" in error_fields(problem)
    assert db_counts(session) == before


def test_patch_to_a_time_zone_that_is_not_iana_answers_422_and_changes_nothing(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    facility = create(client, tenant, "/facilities", bodies.facility())
    before = db_counts(session)

    response = client.patch(
        f"{API}/facilities/{facility['id']}",
        json={"timezone": "Atlantis/Capital"},
        headers=tenant.headers(),
    )

    assert "body.timezone" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before
    got = client.get(f"{API}/facilities/{facility['id']}", headers=tenant.headers())
    assert got.json()["timezone"] == "America/Chicago"
