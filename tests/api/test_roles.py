"""Roles: who may call what. A matrix of every operation of the API by every role.

Viewers only read. Operators read and take the floor actions (start, pause, resume, report,
complete). Planners and admins may do everything. A refused call answers 403 (401 without a
valid token, with `WWW-Authenticate: Bearer`) and changes nothing.
"""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from taktline.auth.models import ApiToken, User
from tests.api.conftest import (
    PUBLIC_OPERATIONS,
    SCENARIOS,
    WO,
    Builder,
    observe,
    operations,
    scenario_for,
)
from tests.helpers import API, Tenant, assert_problem

# Which roles hold each permission, as the issue states it.
ALLOWED = {
    "read": {"viewer", "operator", "planner", "admin"},
    "operate": {"operator", "planner", "admin"},
    "plan": {"planner", "admin"},
    "administer": {"admin"},
}
PROTECTED = [op for op in operations() if op not in PUBLIC_OPERATIONS]


def test_operators_may_take_exactly_the_floor_actions() -> None:
    operate = {op for op, scenario in SCENARIOS.items() if scenario.needs == "operate"}

    assert operate == {
        f"POST {WO}/{{work_order_id}}/start",
        f"POST {WO}/{{work_order_id}}/pause",
        f"POST {WO}/{{work_order_id}}/resume",
        f"POST {WO}/{{work_order_id}}/complete",
        f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/report",
        # a mistaken report is reversed on the floor too (issue 8)
        f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/reverse_report",
        # the floor receives stock, pulls what the work uses and returns what is left
        f"POST {API}/receipts",
        f"POST {WO}/{{work_order_id}}/pulls",
        f"POST {WO}/{{work_order_id}}/pulls/{{pull_id}}/return",
    }
    reads = {op for op, scenario in SCENARIOS.items() if scenario.needs == "read"}
    # A schedule preview changes nothing, but solving is for planners (issue 8).
    # Every GET reads, except the list of API tokens: admins only.
    assert reads == {op for op in SCENARIOS if op.startswith("GET ")} - {f"GET {API}/tokens"}
    assert SCENARIOS[f"GET {API}/tokens"].needs == "administer"
    assert SCENARIOS[f"POST {API}/schedule/preview"].needs == "plan"


# Least privileged first: a refused call must leave the target as it was for the next role.
MATRIX_ROLES = ("viewer", "operator", "planner", "admin")
NO_VALID_TOKEN: tuple[dict[str, str], ...] = (
    {},
    {"Authorization": "Bearer tkl_not-a-token"},
    {"Authorization": "Bearer"},
)


@pytest.mark.parametrize("operation", PROTECTED)
def test_role_matrix(operation: str, client: TestClient, app: FastAPI, builder: Builder) -> None:
    """One row of the matrix: the operation without a valid token, then as each role.

    (One test per operation rather than per cell: every test pays for a new application.)
    """
    scenario = scenario_for(operation)
    call = scenario.build(builder)
    before = observe(client, app, call.watches)
    wrong: list[str] = []

    for headers in (*NO_VALID_TOKEN, {"Authorization": f"Basic {builder.tenant.token()}"}):
        response = call.send(client, headers)
        problem = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer", headers
        assert "token" in problem["detail"].lower()
    assert observe(client, app, call.watches) == before, "a 401 changed something"

    for role in MATRIX_ROLES:
        response = call.send(client, builder.headers(role))
        if role in ALLOWED[scenario.needs]:
            if response.status_code != call.success:
                wrong.append(f"{role}: expected {call.success}, got {response.text}")
            if scenario.needs != "read":  # the target has moved on: a fresh one for the next
                call = scenario.build(builder)
                before = observe(client, app, call.watches)
            continue
        if response.status_code != 403:
            wrong.append(f"{role}: expected 403, got {response.status_code} {response.text}")
            continue
        problem = assert_problem(response, 403, "forbidden")
        assert role in problem["detail"]
        if observe(client, app, call.watches) != before:
            wrong.append(f"{role}: the 403 changed something")

    assert wrong == []


def test_health_needs_no_token(client: TestClient) -> None:
    assert {f"GET {API}/health"} == PUBLIC_OPERATIONS
    assert client.get(f"{API}/health").status_code == 200


def test_a_revoked_token_or_a_deactivated_user_answers_401(
    client: TestClient, session: Session, tenant: Tenant
) -> None:
    planner, viewer = tenant.user("planner"), tenant.user("viewer")
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == planner.user_id)
        .values(revoked_at=ApiToken.created_at)
    )
    session.execute(update(User).where(User.id == viewer.user_id).values(active=False))
    session.commit()

    for role in ("planner", "viewer"):
        response = client.get(f"{API}/items", headers=tenant.headers(role))

        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get(f"{API}/items", headers=tenant.headers("operator")).status_code == 200
