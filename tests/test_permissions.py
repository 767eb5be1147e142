"""Permissions: the one table, taktline.permissions.PERMISSIONS, is what the API and the CLI
answer. For every permission, every API operation that decides by it and every role: a role
of the rule is let through; any other role gets 403 with "The <role> role may not <what>."
(the rule's own words) and nothing changes. `taktline schedule --apply` answers the same.

ROUTES says which operations decide by which permission. A permission without operations
fails the suite unless it is listed as portal-only or CLI-only, and so does an operation
without a permission: neither can go untested. The requests themselves (method, path, body,
what to re-read) are the API tests' scenarios, one valid request per operation.

One tenant per database for the whole file: refused requests change nothing, and a target
that an allowed role has changed is built again for the next role.
"""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from taktline import cli
from taktline.app import create_app
from taktline.config import Settings
from taktline.permissions import PERMISSIONS, Role
from tests.api.conftest import (
    PO,
    PUBLIC_OPERATIONS,
    SCENARIOS,
    WO,
    Builder,
    observe,
    operations,
)
from tests.helpers import API, assert_problem, create_tenant, db_counts

FACILITY_CALENDAR = f"{API}/facilities/{{facility_id}}/calendar"
RESOURCE_CALENDAR = f"{API}/resources/{{resource_id}}/calendar"


def _simple_record(kind: str, collection: str) -> dict[str, tuple[str, ...]]:
    one = f"{API}/{collection}/{{{kind}_id}}"
    return {
        f"{kind}.read": (f"GET {API}/{collection}", f"GET {one}"),
        f"{kind}.create": (f"POST {API}/{collection}",),
        f"{kind}.update": (f"PATCH {one}",),
    }


# Permission -> the API operations ("METHOD /api/v1/path/{param}") that decide by it.
ROUTES: dict[str, tuple[str, ...]] = {
    **_simple_record("item", "items"),
    "item.read": (
        *_simple_record("item", "items")["item.read"],
        f"GET {API}/items/{{item_id}}/where-used",
    ),
    **_simple_record("facility", "facilities"),
    **_simple_record("customer", "customers"),
    **_simple_record("resource", "resources"),
    "calendar.read": tuple(
        f"GET {base}{suffix}"
        for base in (FACILITY_CALENDAR, RESOURCE_CALENDAR)
        for suffix in ("", "/exceptions")
    ),
    "calendar.update": tuple(
        f"{method} {base}{suffix}"
        for base in (FACILITY_CALENDAR, RESOURCE_CALENDAR)
        for method, suffix in (
            ("PUT", ""),
            ("DELETE", ""),
            ("POST", "/exceptions"),
            ("DELETE", "/exceptions/{exception_id}"),
        )
    ),
    "bom.read": (
        f"GET {API}/boms",
        f"GET {API}/boms/{{bom_id}}",
        f"GET {API}/boms/{{bom_id}}/explode",
        f"GET {API}/boms/{{bom_id}}/versions/{{number}}",
        f"GET {API}/boms/{{bom_id}}/versions/{{number}}/diff",
        f"GET {API}/boms/export",
        f"GET {API}/boms/{{bom_id}}/export",
    ),
    "bom.create": (f"POST {API}/boms", f"POST {API}/boms/import"),
    "bom.update": (
        f"PATCH {API}/boms/{{bom_id}}",
        f"POST {API}/boms/{{bom_id}}/versions",
        f"PATCH {API}/boms/{{bom_id}}/versions/{{number}}",
    ),
    "bom.activate": (f"POST {API}/boms/{{bom_id}}/versions/{{number}}/activate",),
    "bom.retire": (f"POST {API}/boms/{{bom_id}}/versions/{{number}}/retire",),
    "production_order.generate": (f"POST {PO}/{{production_order_id}}/generate",),
    "production_order.read": (
        f"GET {PO}",
        f"GET {PO}/{{production_order_id}}",
        f"GET {PO}/{{production_order_id}}/events",
    ),
    "production_order.create": (f"POST {PO}",),
    "production_order.update": (f"PATCH {PO}/{{production_order_id}}",),
    "production_order.schedule": (f"POST {PO}/{{production_order_id}}/schedule",),
    "production_order.cancel": (f"POST {PO}/{{production_order_id}}/cancel",),
    "production_order.delete": (f"DELETE {PO}/{{production_order_id}}",),
    "work_order.read": (
        f"GET {WO}/{{work_order_id}}/reports",
        f"GET {WO}",
        f"GET {WO}/{{work_order_id}}",
        f"GET {WO}/{{work_order_id}}/events",
        f"GET {WO}/{{work_order_id}}/materials",
    ),
    "work_order.create": (f"POST {WO}",),
    "work_order.update": (f"PATCH {WO}/{{work_order_id}}",),
    **{
        f"work_order.{action}": (f"POST {WO}/{{work_order_id}}/{action}",)
        for action in ("start", "pause", "resume", "complete", "schedule", "unschedule", "cancel")
    },
    "work_order.report": (f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/report",),
    "work_order.skip": (f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/skip",),
    "work_order.reverse_report": (
        f"POST {WO}/{{work_order_id}}/line-items/{{line_item_id}}/reverse_report",
    ),
    "organisation.read": (f"GET {API}/organisation",),
    "organisation.update": (f"PATCH {API}/organisation",),
    "work_order.delete": (f"DELETE {WO}/{{work_order_id}}",),
    "schedule.preview": (f"POST {API}/schedule/preview",),
    "schedule.apply": (f"POST {API}/schedule/apply",),
    "bottleneck.read": (f"GET {API}/bottlenecks",),
    "token.manage": (
        f"GET {API}/tokens",
        f"POST {API}/tokens",
        f"DELETE {API}/tokens/{{token_id}}",
    ),
    # stock
    "lot.read": (
        f"GET {API}/lots",
        f"GET {API}/lots/{{lot_id}}",
        f"GET {API}/lots/{{lot_id}}/entries",
        f"GET {API}/lots/{{lot_id}}/events",
        f"GET {API}/lots/{{lot_id}}/trace",
        f"GET {API}/lots/{{lot_id}}/recall",
        f"GET {API}/fsma204",
        f"GET {API}/materials/shortages",
    ),
    "lot.receive": (f"POST {API}/receipts",),
    **{
        f"lot.{action}": (f"POST {API}/lots/{{lot_id}}/{action}",)
        for action in ("release", "hold", "reject", "adjust", "scrap")
    },
    "work_order.allocate": (
        f"POST {WO}/{{work_order_id}}/allocate",
        f"POST {API}/materials/allocate",
    ),
    "work_order.release_allocation": (
        f"DELETE {WO}/{{work_order_id}}/allocations/{{allocation_id}}",
    ),
    "work_order.pull": (f"POST {WO}/{{work_order_id}}/pulls",),
    "work_order.return": (f"POST {WO}/{{work_order_id}}/pulls/{{pull_id}}/return",),
}
# Permissions that no API operation decides by, each with where it is tested instead.
PORTAL_ONLY: frozenset[str] = frozenset()
CLI_ONLY: frozenset[str] = frozenset()

# Least privileged first: the refused calls come before the target is changed.
ROLES = (Role.VIEWER, Role.OPERATOR, Role.PLANNER, Role.ADMIN)


@pytest.fixture(scope="module")
def app(database_url: str) -> Iterator[FastAPI]:
    """One application per database for this file (as for tests/api)."""
    application = create_app(Settings(database_url=database_url))
    application.state.test_sessions = []
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def builder(app: FastAPI, client: TestClient) -> Builder:
    """The one tenant of the file, per database, and its planner's builder."""
    return Builder(client, create_tenant(app.state.session_factory))


def test_every_permission_is_called_through_the_api_or_listed_where_it_is_used() -> None:
    untested = set(PERMISSIONS) - set(ROUTES) - PORTAL_ONLY - CLI_ONLY
    unknown = (set(ROUTES) | PORTAL_ONLY | CLI_ONLY) - set(PERMISSIONS)

    assert untested == set(), (
        f"{sorted(untested)}: no API operation in ROUTES of tests/test_permissions.py; add "
        "the operations that decide by it, or list it in PORTAL_ONLY or CLI_ONLY"
    )
    assert unknown == set(), f"{sorted(unknown)} are not in taktline.permissions.PERMISSIONS"
    assert not set(ROUTES) & (PORTAL_ONLY | CLI_ONLY)


def test_every_api_operation_decides_by_exactly_one_permission() -> None:
    claimed = [op for ops in ROUTES.values() for op in ops]
    protected = [op for op in operations() if op not in PUBLIC_OPERATIONS]

    assert sorted(op for op in protected if op not in claimed) == [], (
        "operations without a permission in ROUTES"
    )
    assert sorted(op for op in claimed if op not in protected) == [], "not operations of the API"
    assert sorted(op for op in set(claimed) if claimed.count(op) > 1) == []


@pytest.mark.parametrize("key", [key for key in PERMISSIONS if key in ROUTES])
def test_the_api_lets_through_exactly_the_roles_of_the_rule(
    key: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    rule = PERMISSIONS[key]
    refusal = {role: f"The {role} role may not {rule.what}." for role in Role}
    wrong: list[str] = []

    for operation in ROUTES[key]:
        scenario = SCENARIOS[operation]
        call = scenario.build(builder)
        before = observe(client, app, call.watches)
        for n, role in enumerate(ROLES):
            response = call.send(client, builder.headers(role))
            if role not in rule.roles:
                problem = assert_problem(response, 403, "forbidden")
                if problem["detail"] != refusal[role]:
                    wrong.append(f"{operation} as {role}: {problem['detail']!r}")
                if observe(client, app, call.watches) != before:
                    wrong.append(f"{operation} as {role}: the 403 changed something")
                continue
            if response.status_code != call.success:
                wrong.append(f"{operation} as {role}: {response.status_code} {response.text}")
            if call.method != "GET" and n < len(ROLES) - 1:  # it may have moved on
                call = scenario.build(builder)
                before = observe(client, app, call.watches)

    assert wrong == [], "\n".join(wrong)


def test_the_cli_refuses_to_apply_a_schedule_with_the_words_of_the_rule(
    database_url: str, app: FastAPI, builder: Builder
) -> None:
    rule = PERMISSIONS["schedule.apply"]
    refused = [role for role in ROLES if role not in rule.roles]
    builder.wo_in("DRAFT")  # open work that an apply would schedule
    before = db_counts(app.state.engine)

    for role in refused:
        result = CliRunner().invoke(
            cli.app,
            ["schedule", "--apply", "--time-limit", "1", "--as", builder.tenant.user(role).email],
            env={"TAKTLINE_DATABASE_URL": database_url},
        )

        assert result.exit_code == 1, result.output
        assert f"The {role} role may not {rule.what}." in result.output
    assert Role.VIEWER in refused
    assert db_counts(app.state.engine) == before
