"""Customers (the brand owners of production orders) over the API: /api/v1/customers."""

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import API, Tenant, bodies, create
from tests.helpers.contract import RecordContract, RecordSpec


def _customer(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    return bodies.customer()


class TestCustomersFollowTheRecordContract(RecordContract):
    spec = RecordSpec(
        path="/customers",
        make_body=_customer,
        natural_key="name",
        required="name",
        new_value=lambda: bodies.customer()["name"],
    )


def test_code_is_optional(client: TestClient, tenant: Tenant) -> None:
    body = bodies.customer()
    del body["code"]

    assert create(client, tenant, "/customers", body)["code"] is None


def test_code_may_be_cleared_with_null(client: TestClient, tenant: Tenant) -> None:
    customer = create(client, tenant, "/customers", bodies.customer())

    response = client.patch(
        f"{API}/customers/{customer['id']}", json={"code": None}, headers=tenant.headers()
    )

    assert response.status_code == 200, response.text
    assert response.json()["code"] is None
    assert response.json()["version"] == 2
