"""Production resources over the API: /api/v1/resources."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.helpers import (
    API,
    Tenant,
    assert_problem,
    bodies,
    create,
    db_counts,
    error_fields,
    list_all,
)
from tests.helpers.contract import RecordContract, RecordSpec


def _facility_id(client: TestClient, tenant: Tenant) -> str:
    return str(create(client, tenant, "/facilities", bodies.facility())["id"])


def _resource(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    return bodies.resource(_facility_id(client, tenant))


class TestResourcesFollowTheRecordContract(RecordContract):
    spec = RecordSpec(
        path="/resources",
        make_body=_resource,
        natural_key="code",
        required="name",
        new_value=lambda: bodies.resource("unused")["name"],
    )


def test_a_facility_that_does_not_exist_answers_422_naming_facility_id(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    before = db_counts(session)

    response = client.post(
        f"{API}/resources", json=bodies.resource(str(uuid.uuid4())), headers=tenant.headers()
    )

    assert "body.facility_id" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before


def test_a_facility_of_another_organisation_answers_422_naming_facility_id(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, session: Session
) -> None:
    theirs = _facility_id(client, other_tenant)
    before = db_counts(session)

    response = client.post(
        f"{API}/resources", json=bodies.resource(theirs), headers=tenant.headers()
    )

    assert "body.facility_id" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before


def test_patch_to_a_facility_of_another_organisation_answers_422_and_changes_nothing(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, session: Session
) -> None:
    resource = create(client, tenant, "/resources", _resource(client, tenant))
    theirs = _facility_id(client, other_tenant)
    before = db_counts(session)

    response = client.patch(
        f"{API}/resources/{resource['id']}", json={"facility_id": theirs}, headers=tenant.headers()
    )

    assert "body.facility_id" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before
    got = client.get(f"{API}/resources/{resource['id']}", headers=tenant.headers()).json()
    assert got == resource


def test_patch_moves_a_resource_to_another_facility_of_its_organisation(
    client: TestClient, tenant: Tenant
) -> None:
    resource = create(client, tenant, "/resources", _resource(client, tenant))
    other_plant = _facility_id(client, tenant)

    response = client.patch(
        f"{API}/resources/{resource['id']}",
        json={"facility_id": other_plant},
        headers=tenant.headers(),
    )

    assert response.status_code == 200, response.text
    assert response.json()["facility_id"] == other_plant


def test_capacities_travel_as_numbers_or_strings_and_come_back_as_exact_strings(
    client: TestClient, tenant: Tenant
) -> None:
    body = _resource(client, tenant) | {"capacity_min": 0.5, "capacity_max": "1000.125"}

    resource = create(client, tenant, "/resources", body)

    assert resource["capacity_min"] == "0.5"
    assert resource["capacity_max"] == "1000.125"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("capacity_min", "-1"),
        ("capacity_max", "-0.5"),
        ("parallel_capacity", 0),
        ("kind", "SPACESHIP"),
        ("capacity_max", "1.0000001"),
    ],
)
def test_a_bad_value_answers_422_naming_the_field(
    client: TestClient, tenant: Tenant, session: Session, field: str, value: Any
) -> None:
    body = _resource(client, tenant) | {field: value}
    before = db_counts(session)

    response = client.post(f"{API}/resources", json=body, headers=tenant.headers())

    assert f"body.{field}" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before


def test_capacity_max_below_capacity_min_answers_422(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    body = _resource(client, tenant) | {"capacity_min": "10", "capacity_max": "5"}
    before = db_counts(session)

    response = client.post(f"{API}/resources", json=body, headers=tenant.headers())

    problem = assert_problem(response, 422, "validation-error")
    assert "capacity_max" in problem["detail"]
    assert db_counts(session) == before


def test_patch_that_puts_capacity_max_below_capacity_min_answers_422_and_changes_nothing(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    resource = create(client, tenant, "/resources", _resource(client, tenant))
    before = db_counts(session)

    response = client.patch(
        f"{API}/resources/{resource['id']}", json={"capacity_min": "5000"}, headers=tenant.headers()
    )

    assert "capacity_max" in assert_problem(response, 422, "validation-error")["detail"]
    assert db_counts(session) == before
    got = client.get(f"{API}/resources/{resource['id']}", headers=tenant.headers()).json()
    assert got == resource


def test_list_filters_by_facility_kind_active_and_text(client: TestClient, tenant: Tenant) -> None:
    plant_a, plant_b = _facility_id(client, tenant), _facility_id(client, tenant)
    line = create(client, tenant, "/resources", bodies.resource(plant_a, name="Bottling Line 1"))
    crew = create(
        client,
        tenant,
        "/resources",
        bodies.resource(plant_b, name="Packaging Crew A", kind="PERSONNEL", active=False),
    )

    def ids(**params: Any) -> list[str]:
        return [r["id"] for r in list_all(client, tenant, "/resources", **params)]

    assert ids(facility_id=plant_a) == [line["id"]]
    assert ids(kind="PERSONNEL") == [crew["id"]]
    assert ids(active="false") == [crew["id"]]
    assert ids(q="bottling") == [line["id"]]
    assert ids() == [line["id"], crew["id"]]
