"""Health needs no token; everything else under /api/v1 does."""

from fastapi.testclient import TestClient

from tests.helpers import API, assert_problem


def test_health_needs_no_token_and_reports_the_database_ok(client: TestClient) -> None:
    response = client.get(f"{API}/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_api_without_a_token_answers_401_problem_json(client: TestClient) -> None:
    response = client.get(f"{API}/items")

    problem = assert_problem(response, 401, "unauthorized")
    assert "Bearer" in problem["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_api_with_an_unknown_token_answers_401(client: TestClient) -> None:
    response = client.get(f"{API}/items", headers={"Authorization": "Bearer tkl_not-a-token"})

    assert_problem(response, 401, "unauthorized")


def test_api_with_another_scheme_than_bearer_answers_401(client: TestClient) -> None:
    response = client.get(f"{API}/items", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_problem(response, 401, "unauthorized")
