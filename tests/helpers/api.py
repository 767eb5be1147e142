"""Small helpers for calling the API in tests and checking its answers."""

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers.tenants import Tenant

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, type_slug: str | None = None) -> Any:
    """Checks a problem+json answer (RFC 9457) of that status (and type); returns its body."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    for field in ("type", "title", "status", "detail"):
        assert field in body, f"problem without {field}: {body}"
    assert body["status"] == status
    if type_slug is not None:
        assert body["type"] == f"/problems/{type_slug}", body
    return body


def error_fields(problem: Mapping[str, Any]) -> list[str]:
    """The offending fields of a validation problem, as dotted paths: ["body.sku", ...]."""
    return [".".join(str(part) for part in error["loc"]) for error in problem.get("errors", [])]


def create(
    client: TestClient,
    tenant: Tenant,
    path: str,
    body: Mapping[str, Any],
    role: str = "planner",
) -> Any:
    """POSTs a create under /api/v1 and returns the created record (asserting 201)."""
    response = client.post(f"{API}{path}", json=dict(body), headers=tenant.headers(role))
    assert response.status_code == 201, response.text
    return response.json()


def list_all(client: TestClient, tenant: Tenant, path: str, **params: Any) -> list[Any]:
    """Every record of a list (as the viewer), following next_cursor page by page. `params`
    are the list's query parameters; `limit` (the page size) defaults to 500."""
    params.setdefault("limit", 500)
    records: list[Any] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"{API}{path}", params=query, headers=tenant.headers("viewer"))
        assert response.status_code == 200, response.text
        page = response.json()
        records.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return records
