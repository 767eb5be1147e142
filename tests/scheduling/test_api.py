"""The scheduling API: POST /schedule/preview, POST /schedule/apply, GET /bottlenecks.
Roles, tenancy, bad input, and the shape of the answers. (The scheduling rules themselves
are in test_service.py.)"""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import API, Tenant, assert_problem, db_counts, error_fields
from tests.scheduling.shop import H0, Json, Shop, at, iso, ok, parse, planned


def test_only_planners_and_admins_may_preview_or_apply(
    client: TestClient, tenant: Tenant, app: FastAPI
) -> None:
    """Issue 8: a preview solves, which takes the CPU for its time limit; viewers and
    operators may no longer ask for one (they could before)."""
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource(), 60)])
    proposal = shop.preview(role="planner")
    before = db_counts(app.state.engine)

    for role in ("viewer", "operator"):
        previewed = client.post(
            f"{API}/schedule/preview",
            json={"horizon_start": H0.isoformat(), "time_limit_seconds": 1},
            headers=tenant.headers(role),
        )
        assert assert_problem(previewed, 403, "forbidden")["detail"] == (
            f"The {role} role may not preview schedules."
        )
        refused = client.post(
            f"{API}/schedule/apply", json={"proposal": proposal}, headers=tenant.headers(role)
        )
        problem = assert_problem(refused, 403, "forbidden")
        assert role in problem["detail"]

    assert db_counts(app.state.engine) == before
    assert shop.get(wo)["state"] == "DRAFT"
    assert shop.preview(role="admin")["work_orders"] == proposal["work_orders"]
    applied = ok(
        client.post(
            f"{API}/schedule/apply", json={"proposal": proposal}, headers=tenant.headers("admin")
        )
    )
    assert applied["scheduled"] == [wo["number"]]


def test_the_proposal_says_what_moves_and_what_becomes_late(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    bl1 = shop.resource("BL1")
    urgent = shop.work_order([shop.line(bl1, 120)], due=at(2), priority=90)
    later = shop.work_order([shop.line(bl1, 60)], due=at(30))
    shop.act(
        later,
        "schedule",
        {
            "line_items": [
                {"id": later["line_items"][0]["id"], "planned_start": iso(0), "planned_end": iso(1)}
            ]
        },
    )
    tight = shop.work_order([shop.line(bl1, 60)], due=at(2.5), priority=10)

    proposal = shop.preview()

    assert proposal["objective"] == "weighted_tardiness"
    assert parse(proposal["horizon_start"]) == at(0)
    for field in ("value", "bound", "gap", "optimal", "seconds", "method", "status"):
        assert field in proposal
    assert proposal["bound"] <= proposal["value"]
    assert planned(proposal, urgent)["action"] == "schedule"
    assert parse(planned(proposal, urgent)["planned_start"]) == at(0)
    moved = planned(proposal, later)
    assert moved["action"] == "reschedule"
    assert (parse(moved["previous_start"]), parse(moved["previous_end"])) == (at(0), at(1))
    assert moved["line_items"][0]["moved"]
    assert parse(moved["planned_start"]) >= at(2)
    late = planned(proposal, tight)
    assert late["late"]
    assert late["becomes_late"]
    assert late["lateness_minutes"] == 30
    assert proposal["summary"] == {
        "work_orders": 3,
        "line_items": 3,
        "to_schedule": 2,
        "to_reschedule": 1,
        "unchanged": 0,
        "fixed": 0,
        "skipped": 0,
        "late": 1,
        "becomes_late": 1,
    }


def test_a_proposal_round_trips_through_apply_unchanged(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource(), 60)])
    proposal = shop.preview()

    applied = shop.apply(proposal=proposal)

    assert applied["proposal"] == proposal
    after = shop.get(wo)
    assert after["state"] == "SCHEDULED"
    assert (
        after["line_items"][0]["planned_start"]
        == planned(proposal, wo)["line_items"][0]["planned_start"]
    )


def test_solve_and_apply_in_one_step(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    wos = [shop.work_order([shop.line(shop.resource(), 60)]) for _ in range(2)]

    applied = shop.apply(objective="makespan", work_order_ids=[wos[0]["id"]])

    assert applied["proposal"]["objective"] == "makespan"
    assert applied["scheduled"] == [wos[0]["number"]]
    assert shop.get(wos[1])["state"] == "DRAFT"


def test_another_organisations_work_is_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, app: FastAPI
) -> None:
    mine, theirs = Shop.open(client, tenant), Shop.open(client, other_tenant)
    mine.work_order([mine.line(mine.resource(), 60)])
    their_wo = theirs.work_order([theirs.line(theirs.resource(), 60)])
    their_po = theirs.production_order(
        [theirs.work_order_body([theirs.line(theirs.resource(), 30)])]
    )
    their_proposal = theirs.preview()
    before = db_counts(app.state.engine)

    for body in (
        {"work_order_ids": [their_wo["id"]]},
        {"production_order_ids": [their_po["id"]]},
    ):
        for path in ("/schedule/preview", "/schedule/apply"):
            problem = assert_problem(mine.request("POST", path, body), 404, "not-found")
            assert problem["detail"].startswith("No ")
    stolen = mine.request("POST", "/schedule/apply", {"proposal": their_proposal})

    assert_problem(stolen, 404, "not-found")
    assert db_counts(app.state.engine) == before
    assert theirs.get(their_wo)["state"] == "DRAFT"


def test_only_open_work_can_be_scheduled(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource(), 60)])
    shop.act(wo, "cancel", {"reason": "not needed"})

    problem = assert_problem(
        shop.request("POST", "/schedule/preview", {"work_order_ids": [wo["id"]]}), 409, "conflict"
    )

    assert f"{wo['number']} is CANCELED" in problem["detail"]


def test_bad_requests_are_refused_field_by_field(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    proposal = shop.preview()
    cases = {
        "body.time_limit_seconds": {"time_limit_seconds": 301},
        "body.objective": {"objective": "fastest"},
        "body.seed": {"seed": -1},
        "body.horizon_start": {"horizon_start": "2030-01-07T12:00:00"},
        "body.work_order_ids.0": {"work_order_ids": ["WO-000001"]},
        "body.surprise": {"surprise": True},
    }
    for loc, body in cases.items():
        problem = assert_problem(
            shop.request("POST", "/schedule/preview", body), 422, "validation-error"
        )
        assert error_fields(problem) == [loc], problem
    assert error_fields(
        assert_problem(shop.request("POST", "/schedule/preview", {"time_limit_seconds": True}), 422)
    ) == ["body.time_limit_seconds"]
    both = shop.request("POST", "/schedule/apply", {"proposal": proposal, "seed": 2})
    assert "not both" in assert_problem(both, 422, "validation-error")["detail"]


def test_an_impossible_problem_is_a_problem_json_422(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource("BL9"), 0, "Rinsing")])

    response = shop.request("POST", "/schedule/apply", {"time_limit_seconds": 1})

    problem = assert_problem(response, 422, "unschedulable")
    assert problem["work_order_id"] == wo["id"]
    assert problem["line_item_id"] == wo["line_items"][0]["id"]
    assert "it takes no time on BL9" in problem["reason"]


# --- bottlenecks ---------------------------------------------------------------------------


def test_bottlenecks_over_the_bookings_name_the_busiest_resource_and_why_work_is_late(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    bl1, lb1 = shop.resource("BL1"), shop.resource("LB1")
    first = shop.work_order([shop.line(bl1, 240)], due=at(8))
    second = shop.work_order([shop.line(bl1, 120), shop.line(lb1, 60, "Labeling")], due=at(5))
    shop.apply(work_order_ids=[first["id"]], objective="makespan")
    shop.act(
        second,
        "schedule",
        {
            "line_items": [
                {
                    "id": second["line_items"][0]["id"],
                    "planned_start": iso(4),
                    "planned_end": iso(6),
                },
                {
                    "id": second["line_items"][1]["id"],
                    "planned_start": iso(6),
                    "planned_end": iso(7),
                },
            ]
        },
    )

    report = ok(
        client.get(
            f"{API}/bottlenecks",
            params={"from": iso(0), "to": iso(24 * 5)},
            headers=tenant.headers("viewer"),
        )
    )

    loads = {load["resource"]["code"]: load for load in report["resources"]}
    assert loads["BL1"]["available_minutes"] == 5 * 8 * 60
    assert loads["BL1"]["booked_minutes"] == 360
    assert loads["BL1"]["utilisation"] == round(360 / 2400, 4)
    assert loads["LB1"]["booked_minutes"] == 60
    assert [b["code"] for b in report["bottlenecks"]] == ["BL1"]
    (late,) = report["late_work_orders"]
    assert late["number"] == second["number"]
    assert late["lateness_minutes"] == 120
    assert late["resource"]["code"] == "BL1"
    assert late["line_item"]["sequence"] == 1
    assert late["waited_minutes"] == 240
    assert [h["work_order_number"] for h in late["held_up_by"]] == [first["number"]]
    assert first["number"] in late["reason"]
    assert report["late_count"] == 1


def test_bottlenecks_list_the_first_limit_late_work_orders_and_count_them_all(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant, hours=None)
    bl1 = shop.resource("BL1")
    late = []
    for k in range(3):
        wo = shop.work_order([shop.line(bl1, 60)], due=at(k))
        window = {"id": wo["line_items"][0]["id"], "planned_start": iso(k + 1)}
        window["planned_end"] = iso(k + 2)
        late.append(shop.act(wo, "schedule", {"line_items": [window]}))
    window = {"from": iso(0), "to": iso(24)}

    every = ok(client.get(f"{API}/bottlenecks", params=window, headers=tenant.headers("viewer")))
    first = ok(
        client.get(
            f"{API}/bottlenecks", params={**window, "limit": 1}, headers=tenant.headers("viewer")
        )
    )
    refused = [
        client.get(f"{API}/bottlenecks", params={**window, "limit": n}, headers=tenant.headers())
        for n in (0, 501)
    ]

    assert every["late_count"] == first["late_count"] == 3
    assert len(every["late_work_orders"]) == 3
    assert first["late_work_orders"] == every["late_work_orders"][:1]
    for answer in refused:
        assert error_fields(assert_problem(answer, 422, "validation-error")) == ["query.limit"]


def test_bottlenecks_default_to_the_next_week_and_check_their_window(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    shop.resource()

    default = ok(client.get(f"{API}/bottlenecks", headers=tenant.headers("viewer")))
    backwards = client.get(
        f"{API}/bottlenecks", params={"from": iso(2), "to": iso(1)}, headers=tenant.headers()
    )
    too_long = client.get(
        f"{API}/bottlenecks",
        params={"from": iso(0), "to": (H0 + timedelta(days=400)).isoformat()},
        headers=tenant.headers(),
    )

    assert parse(default["end"]) - parse(default["start"]) == timedelta(days=7)
    assert default["late_work_orders"] == []
    assert error_fields(assert_problem(backwards, 422, "validation-error")) == ["query.to"]
    assert error_fields(assert_problem(too_long, 422, "validation-error")) == ["query.to"]


def test_bottlenecks_count_work_late_by_the_one_definition_of_late(
    client: TestClient, tenant: Tenant
) -> None:
    """Late is open and either planned to end after the due date or past the due date
    (orders.lifecycle.punctuality), in the report as on every page: work booked to end
    seconds before its due date is on time, however the analysis rounds to minutes, and
    work still open after its due date is late even though its planned end was before it."""
    shop = Shop.open(client, tenant, hours=None)
    bl1 = shop.resource("BL1")
    now = datetime.now(UTC).replace(microsecond=0)

    def booked(start: datetime, end: datetime, due: datetime) -> Json:
        wo = shop.work_order([shop.line(bl1, 60)], due=due)
        window = {"id": wo["line_items"][0]["id"], "planned_start": start.isoformat()}
        window["planned_end"] = end.isoformat()
        return shop.act(wo, "schedule", {"line_items": [window]})

    day = now.replace(hour=0, minute=0, second=0) + timedelta(days=2)
    on_time = booked(
        day + timedelta(hours=1),
        day + timedelta(hours=2, seconds=10),
        day + timedelta(hours=2, seconds=40),
    )
    overdue = booked(now - timedelta(hours=5), now - timedelta(hours=4), now - timedelta(hours=3))

    report = ok(
        client.get(
            f"{API}/bottlenecks",
            params={
                "from": (now - timedelta(hours=6)).isoformat(),
                "to": (now + timedelta(days=4)).isoformat(),
            },
            headers=tenant.headers("viewer"),
        )
    )

    late = {w["number"]: w for w in report["late_work_orders"]}
    assert on_time["number"] not in late
    assert shop.get(on_time)["punctuality"] == "AT_RISK"  # 30 seconds to spare
    assert late[overdue["number"]]["reason"] == "its due date has passed and it is still SCHEDULED"
    assert late[overdue["number"]]["lateness_minutes"] >= 180
    assert shop.get(overdue)["punctuality"] == "LATE"
