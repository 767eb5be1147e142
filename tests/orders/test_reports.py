"""Reports on line items: no more than can reach a line item (the work order's quantity for
the first, what the line item before completed for the next, plus the organisation's
over-production tolerance, 0 % unless it says otherwise); a mistaken report is corrected by
a reversal with a reason, never by an edit, and the reversal is in the timeline."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import (
    Json,
    Plant,
    expect,
    get_work_order,
    make_plant,
    work_order_events,
    work_order_in_state,
)
from tests.helpers import API, Tenant, assert_problem, db_counts, error_fields


def _in_process(client: TestClient, tenant: Tenant) -> tuple[Plant, Json]:
    plant = make_plant(client, tenant)
    return plant, work_order_in_state(client, tenant, plant, "IN_PROCESS")


def _report(
    client: TestClient, tenant: Tenant, wo: Json, index: int, role: str = "operator", **body
):
    li = wo["line_items"][index]["id"]
    return client.post(
        f"{API}/work-orders/{wo['id']}/line-items/{li}/report",
        json=body,
        headers=tenant.headers(role),
    )


def _reports(client: TestClient, tenant: Tenant, wo: Json) -> list[Json]:
    reports: list[Json] = expect(
        client.get(f"{API}/work-orders/{wo['id']}/reports", headers=tenant.headers("viewer"))
    )
    return reports


def _reverse(
    client: TestClient,
    tenant: Tenant,
    wo: Json,
    index: int,
    report_id: str,
    role: str = "operator",
    reason: str = "typed one zero too many",
):
    li = wo["line_items"][index]["id"]
    return client.post(
        f"{API}/work-orders/{wo['id']}/line-items/{li}/reverse_report",
        json={"report_id": report_id, "reason": reason},
        headers=tenant.headers(role),
    )


def test_the_first_line_item_takes_no_more_than_the_work_order_is_for(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    _, wo = _in_process(client, tenant)
    before = db_counts(app.state.engine)

    refused = _report(client, tenant, wo, 0, quantity_completed="99999999")

    problem = assert_problem(refused, 422, "validation-error")
    assert error_fields(problem) == ["body.quantity_completed"]
    message = problem["errors"][0]["msg"]
    assert "99,999,999" in message
    assert "100" in message
    assert "the work order is for" in message
    assert db_counts(app.state.engine) == before
    assert get_work_order(client, tenant, wo["id"])["line_items"][0]["quantity_completed"] == "0"


def test_the_next_line_item_takes_no_more_than_the_one_before_completed(
    client: TestClient, tenant: Tenant
) -> None:
    _, wo = _in_process(client, tenant)
    expect(_report(client, tenant, wo, 0, quantity_completed="60"))
    expect(_report(client, tenant, wo, 1, quantity_completed="50", quantity_scrapped="10"))

    refused = _report(client, tenant, wo, 1, quantity_completed="1")

    problem = assert_problem(refused, 422, "validation-error")
    message = problem["errors"][0]["msg"]
    assert "61" in message
    assert "line item 1" in message
    assert "completed 60" in message
    assert get_work_order(client, tenant, wo["id"])["line_items"][1]["quantity_completed"] == "50"


def test_the_organisation_allows_a_tolerance_and_only_its_admin_sets_it(
    client: TestClient, tenant: Tenant
) -> None:
    _, wo = _in_process(client, tenant)
    refused = client.patch(
        f"{API}/organisation",
        json={"over_production_tolerance_percent": "5"},
        headers=tenant.headers("planner"),
    )
    assert_problem(refused, 403, "forbidden")
    too_much = client.patch(
        f"{API}/organisation",
        json={"over_production_tolerance_percent": "500"},
        headers=tenant.headers("admin"),
    )
    assert error_fields(assert_problem(too_much, 422)) == ["body.over_production_tolerance_percent"]
    changed = expect(
        client.patch(
            f"{API}/organisation",
            json={"over_production_tolerance_percent": "5"},
            headers=tenant.headers("admin"),
        )
    )
    assert changed["over_production_tolerance_percent"] == "5"
    assert (
        expect(client.get(f"{API}/organisation", headers=tenant.headers("viewer")))[
            "over_production_tolerance_percent"
        ]
        == "5"
    )

    expect(_report(client, tenant, wo, 0, quantity_completed="105"))
    over = _report(client, tenant, wo, 0, quantity_completed="1")
    message = assert_problem(over, 422)["errors"][0]["msg"]
    assert "5 % over-production tolerance" in message
    assert "105" in message


def test_a_mistaken_report_is_reversed_with_a_reason_and_stays_in_the_timeline(
    client: TestClient, tenant: Tenant
) -> None:
    _, wo = _in_process(client, tenant)
    expect(
        _report(client, tenant, wo, 0, quantity_completed="80", quantity_scrapped="5", done=True)
    )
    (first,) = _reports(client, tenant, wo)

    after = expect(_reverse(client, tenant, wo, 0, first["id"]))

    line = after["line_items"][0]
    assert (line["quantity_completed"], line["quantity_scrapped"]) == ("0", "0")
    assert line["status"] == "IN_PROCESS"  # a done report reversed opens the line item again
    assert after["quantity_produced"] == "0"
    original, reversal = _reports(client, tenant, wo)
    assert original["id"] == first["id"]
    assert original["reversed"] is True
    assert (original["quantity_completed"], original["quantity_scrapped"]) == ("80", "5")
    assert reversal["reverses_id"] == first["id"]
    assert (reversal["quantity_completed"], reversal["quantity_scrapped"]) == ("-80", "-5")
    assert reversal["note"] == "typed one zero too many"
    event = work_order_events(client, tenant, wo["id"])[-1]
    assert event["action"] == "reverse_report"
    assert event["reason"] == "typed one zero too many"
    assert event["changes"]["reverses"] == first["id"]

    again = _reverse(client, tenant, wo, 0, first["id"])
    assert_problem(again, 409, "conflict")
    not_a_report = _reverse(client, tenant, wo, 0, reversal["id"])
    assert error_fields(assert_problem(not_a_report, 422)) == ["body.report_id"]
    no_reason = _reverse(client, tenant, wo, 0, first["id"], reason="")
    assert error_fields(assert_problem(no_reason, 422)) == ["body.reason"]


def test_a_reversal_may_not_take_back_what_the_next_line_item_worked_on(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    _, wo = _in_process(client, tenant)
    expect(_report(client, tenant, wo, 0, quantity_completed="100"))
    expect(_report(client, tenant, wo, 1, quantity_completed="90"))
    (first, _) = _reports(client, tenant, wo)
    before = db_counts(app.state.engine)

    refused = _reverse(client, tenant, wo, 0, first["id"])

    message = assert_problem(refused, 422)["errors"][0]["msg"]
    assert "line item 2" in message
    assert "correct line item 2 first" in message
    assert db_counts(app.state.engine) == before


def test_operators_reverse_their_own_reports_and_planners_anyones(
    client: TestClient, tenant: Tenant
) -> None:
    _, wo = _in_process(client, tenant)
    expect(_report(client, tenant, wo, 0, role="planner", quantity_completed="10"))
    expect(_report(client, tenant, wo, 0, role="operator", quantity_completed="20"))
    by_planner, by_operator = _reports(client, tenant, wo)

    refused = _reverse(client, tenant, wo, 0, by_planner["id"], role="operator")
    assert "only its own reports" in assert_problem(refused, 403, "forbidden")["detail"]
    viewer = _reverse(client, tenant, wo, 0, by_operator["id"], role="viewer")
    assert_problem(viewer, 403, "forbidden")

    expect(_reverse(client, tenant, wo, 0, by_operator["id"], role="operator"))
    done = expect(_reverse(client, tenant, wo, 0, by_planner["id"], role="planner"))
    assert done["line_items"][0]["quantity_completed"] == "0"


def test_reports_are_refused_outside_in_process_work(client: TestClient, tenant: Tenant) -> None:
    plant = make_plant(client, tenant)
    wo = work_order_in_state(client, tenant, plant, "COMPLETED")
    (report, *_) = _reports(client, tenant, wo)

    refused = _reverse(client, tenant, wo, 0, report["id"], role="planner")

    assert_problem(refused, 409, "invalid-transition")
