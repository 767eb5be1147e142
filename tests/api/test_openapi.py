"""The OpenAPI document says what the API answers: every problem response of every operation
as application/problem+json with the Problem schema (and the validation problem's `errors`),
no FastAPI validation shape left, schema names without module paths.

tests/api/test_schemathesis.py then checks the API against the document with generated
requests; here each kind of problem is provoked once on purpose and checked against it.
"""

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient

from taktline.api.openapi import PROBLEM_RESPONSES
from tests.api.conftest import (
    PUBLIC_OPERATIONS,
    WO,
    Builder,
    openapi_document,
    operations,
)
from tests.helpers import API, Tenant, assert_problem, bodies

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMAS = {"#/components/schemas/Problem", "#/components/schemas/ValidationProblem"}


def operation_of(key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    operation: dict[str, Any] = openapi_document()["paths"][path][method.lower()]
    return operation


def resolve(ref: str) -> Any:
    node: Any = openapi_document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def responses_of(key: str) -> dict[str, Any]:
    return {
        status: resolve(answer["$ref"]) if "$ref" in answer else answer
        for status, answer in operation_of(key)["responses"].items()
    }


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


# --- the document --------------------------------------------------------------------------


@pytest.mark.parametrize("key", operations())
def test_every_error_response_is_a_problem_in_problem_json(key: str) -> None:
    for status, response in responses_of(key).items():
        if not status.startswith(("4", "5")) or key == f"GET {API}/health":
            continue
        content = response["content"]
        assert set(content) == {PROBLEM_JSON}, (key, status, content)
        assert content[PROBLEM_JSON]["schema"]["$ref"] in PROBLEM_SCHEMAS, (key, status)
        example = content[PROBLEM_JSON]["example"]
        assert example["status"] == int(status)
        assert example["type"].startswith("/problems/")


def test_fastapis_validation_shape_is_gone() -> None:
    text = json.dumps(openapi_document())

    assert "HTTPValidationError" not in text
    assert '"#/components/schemas/ValidationError"' not in text
    schemas = openapi_document()["components"]["schemas"]
    assert set(schemas["ValidationProblem"]["properties"]) == {"errors"}
    assert schemas["ValidationProblem"]["allOf"] == [{"$ref": "#/components/schemas/Problem"}]
    field_error = schemas["FieldError"]
    assert set(field_error["required"]) == {"loc", "msg", "type"}
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}


def test_schema_names_carry_no_module_paths() -> None:
    names = list(openapi_document()["components"]["schemas"])

    assert [n for n in names if "__" in n or n.startswith("taktline")] == []
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9_]*", n) for n in names), names


def test_every_reference_resolves() -> None:
    for ref in set(refs(openapi_document())):
        assert ref.startswith("#/components/"), ref
        resolve(ref)


@pytest.mark.parametrize("key", operations())
def test_each_operation_documents_the_problems_it_can_give(key: str) -> None:
    method, path = key.split(" ", 1)
    operation = operation_of(key)
    documented = {int(s) for s in operation["responses"] if s.startswith("4")}
    headers = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}

    if key in PUBLIC_OPERATIONS:
        assert documented == set()
        return
    assert {401, 403} <= documented  # a token is needed; a role may be refused
    if "{" in path:
        assert 404 in documented
    if "requestBody" in operation:
        assert {400, 413, 422} <= documented
    if method != "GET":
        assert {409, 413} <= documented
    if "if-match" in headers:
        assert 412 in documented
    if operation.get("parameters") or "requestBody" in operation:
        assert 422 in documented


def test_a_401_documents_its_www_authenticate_header() -> None:
    _, unauthorized = PROBLEM_RESPONSES[401]
    assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


def test_solving_documents_the_429_of_a_busy_solver_with_retry_after() -> None:
    for key in (f"POST {API}/schedule/preview", f"POST {API}/schedule/apply"):
        busy = responses_of(key)["429"]
        assert busy["headers"]["Retry-After"]["required"] is True
        assert busy["content"][PROBLEM_JSON]["example"]["type"] == "/problems/schedule-busy"


def test_the_document_served_is_the_one_described(client: TestClient) -> None:
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(openapi_document()))


# --- every kind of problem, provoked, as documented ----------------------------------------


@pytest.fixture(scope="module")
def document_schema() -> Any:
    return schemathesis.openapi.from_dict(openapi_document())


def assert_documented(document_schema: Any, key: str, response: httpx.Response) -> None:
    """The answer's status is documented for the operation, and its body and content type
    are as documented (Schemathesis validates them against the document)."""
    method, path = key.split(" ", 1)
    documented = responses_of(key).get(str(response.status_code))
    assert documented is not None, (key, response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] in documented["content"], key
    document_schema[path][method].validate_response(response)


def test_each_kind_of_problem_is_answered_as_documented(
    client: TestClient, builder: Builder, tenant: Tenant, document_schema: Any
) -> None:
    item = builder.item()
    draft = builder.wo_in("DRAFT")
    headers = tenant.headers("planner")
    item_url = f"{API}/items/{item['id']}"
    cases: list[tuple[str, httpx.Response, int, str]] = [
        (
            f"POST {API}/items",
            client.post(
                f"{API}/items",
                content=b'{"sku": "A",',
                headers={**headers, "Content-Type": "application/json"},
            ),
            400,
            "malformed-request",
        ),
        (f"GET {API}/items", client.get(f"{API}/items"), 401, "unauthorized"),
        (
            f"POST {API}/items",
            client.post(f"{API}/items", json=bodies.item(), headers=tenant.headers("viewer")),
            403,
            "forbidden",
        ),
        (
            f"GET {API}/items/{{item_id}}",
            client.get(f"{API}/items/{uuid.uuid4()}", headers=headers),
            404,
            "not-found",
        ),
        (
            f"POST {WO}/{{work_order_id}}/start",
            client.post(f"{WO}/{draft['id']}/start", headers=headers),
            409,
            "invalid-transition",
        ),
        (
            f"PATCH {API}/items/{{item_id}}",
            client.patch(
                item_url, json={"name": "Renamed"}, headers={**headers, "If-Match": '"99"'}
            ),
            412,
            "version-mismatch",
        ),
        (
            f"POST {API}/items",
            client.post(
                f"{API}/items",
                content=b" " * (2 * 1024 * 1024),
                headers={**headers, "Content-Type": "application/json"},
            ),
            413,
            "payload-too-large",
        ),
        (
            f"POST {API}/items",
            client.post(f"{API}/items", json={"sku": ""}, headers=headers),
            422,
            "validation-error",
        ),
    ]

    for key, response, status, type_slug in cases:
        problem = assert_problem(response, status, type_slug)
        assert_documented(document_schema, key, response)
        if status == 422:
            assert problem["errors"], problem
