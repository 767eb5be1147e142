"""What a work order tells the scheduler: a release time, pinned, the work orders of its
production order it waits for, and per line item whether it may be interrupted and which
other resources (with their own times) it may run on. Created, changed and shown like
every other field, refused field by field."""

from fastapi.testclient import TestClient

from tests.helpers import Tenant, assert_problem, error_fields
from tests.scheduling.shop import Shop, at, iso, ok, parse


def test_the_scheduling_fields_are_created_and_shown(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    bl1, bl2 = shop.resource(), shop.resource()
    po = shop.production_order([shop.work_order_body([shop.line(bl1, 30)])])
    first = po["work_orders"][0]

    wo = shop.work_order(
        [shop.line(bl1, 60, interruptible=True, alternatives=[(bl2, 75)])],
        release_at=iso(2),
        pinned=True,
        production_order_id=po["id"],
        depends_on=[first["id"]],
    )

    assert parse(wo["release_at"]) == parse(iso(2))
    assert wo["pinned"] is True
    assert wo["depends_on"] == [first["id"]]
    li = wo["line_items"][0]
    assert li["interruptible"] is True
    assert li["alternatives"] == [
        {
            "resource_id": bl2["id"],
            "resource": {"id": bl2["id"], "code": bl2["code"], "name": bl2["name"]},
            "setup_minutes": "75",
            "run_minutes_per_unit": "0",
        }
    ]
    assert shop.get(wo) == wo
    plain = shop.get(first)
    assert (plain["release_at"], plain["pinned"], plain["depends_on"]) == (None, False, [])
    assert plain["line_items"][0]["interruptible"] is False


def test_an_alternative_is_another_resource_given_once(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    bl1, bl2 = shop.resource(), shop.resource()
    body = shop.work_order_body(
        [shop.line(bl1, 60, alternatives=[(bl2, 70), (bl1, 80), (bl2, 90)])]
    )

    problem = assert_problem(shop.request("POST", "/work-orders", body), 422, "validation-error")

    assert error_fields(problem) == [
        "body.line_items.0.alternatives.1.resource_id",
        "body.line_items.0.alternatives.2.resource_id",
    ]


def test_dependencies_stay_within_the_production_order_and_make_no_cycle(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    bl1 = shop.resource()
    po = shop.production_order([shop.work_order_body([shop.line(bl1, 30)])] * 2)
    a, b = po["work_orders"]
    elsewhere = shop.work_order([shop.line(bl1, 30)])
    ok(shop.request("PATCH", f"/work-orders/{b['id']}", {"depends_on": [a["id"]]}))

    cycle = shop.request("PATCH", f"/work-orders/{a['id']}", {"depends_on": [b["id"]]})
    itself = shop.request("PATCH", f"/work-orders/{a['id']}", {"depends_on": [a["id"]]})
    foreign = shop.request("PATCH", f"/work-orders/{a['id']}", {"depends_on": [elsewhere["id"]]})
    alone = shop.request("PATCH", f"/work-orders/{elsewhere['id']}", {"depends_on": [a["id"]]})

    assert "cycle" in assert_problem(cycle, 422)["detail"]
    assert error_fields(assert_problem(itself, 422)) == ["body.depends_on.0"]
    assert "same production order" in assert_problem(foreign, 422)["detail"]
    assert error_fields(assert_problem(alone, 422)) == ["body.depends_on"]
    assert shop.get(a)["depends_on"] == []
    cleared = ok(shop.request("PATCH", f"/work-orders/{b['id']}", {"depends_on": []}))
    assert cleared["depends_on"] == []


def test_pinned_alone_may_change_after_draft_everything_else_not(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource(), 60, planned_start=iso(0), planned_end=iso(1))])
    wo = shop.act(wo, "schedule")

    pinned = ok(shop.request("PATCH", f"/work-orders/{wo['id']}", {"pinned": True}))
    with_more = shop.request("PATCH", f"/work-orders/{wo['id']}", {"pinned": False, "priority": 3})
    started = shop.act(pinned, "start")
    unpinned = ok(shop.request("PATCH", f"/work-orders/{wo['id']}", {"pinned": False}))

    assert pinned["pinned"] is True
    assert pinned["version"] > wo["version"]
    assert_problem(with_more, 409, "invalid-transition")
    assert started["state"] == "IN_PROCESS"
    assert unpinned["pinned"] is False
    assert [e["action"] for e in shop.events(wo)][-1] == "update"


def test_release_at_may_be_cleared_with_null(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    wo = shop.work_order([shop.line(shop.resource(), 60)], release_at=iso(5))

    cleared = ok(shop.request("PATCH", f"/work-orders/{wo['id']}", {"release_at": None}))
    naive = shop.request("PATCH", f"/work-orders/{wo['id']}", {"release_at": "2030-01-07T08:00:00"})

    assert cleared["release_at"] is None
    assert error_fields(assert_problem(naive, 422)) == ["body.release_at"]


def test_replacing_the_line_items_replaces_their_alternatives(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    bl1, bl2, bl3 = shop.resource(), shop.resource(), shop.resource()
    wo = shop.work_order([shop.line(bl1, 60, alternatives=[(bl2, 70)])])

    changed = ok(
        shop.request(
            "PATCH",
            f"/work-orders/{wo['id']}",
            {"line_items": [shop.line(bl1, 60, alternatives=[(bl3, 65)]), shop.line(bl2, 5)]},
        )
    )

    assert [a["resource_id"] for a in changed["line_items"][0]["alternatives"]] == [bl3["id"]]
    assert changed["line_items"][1]["alternatives"] == []


def test_scheduling_an_order_from_a_start_lays_each_work_order_after_what_it_waits_for(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    press, line = shop.resource(), shop.resource()
    # The first in priority order (the bottling run) waits for the second (its batch), which
    # runs on another resource: laid out from the start alone, both would begin at once.
    po = shop.production_order(
        [
            shop.work_order_body([shop.line(line, 30, "Bottling")], priority=90),
            shop.work_order_body([shop.line(press, 120, "Blending")], priority=10),
        ]
    )
    bottling, batch = po["work_orders"]
    ok(shop.request("PATCH", f"/work-orders/{bottling['id']}", {"depends_on": [batch["id"]]}))

    ok(shop.request("POST", f"/production-orders/{po['id']}/schedule", {"start": iso(1)}))

    made, bottled = shop.get(batch)["line_items"][0], shop.get(bottling)["line_items"][0]
    assert parse(made["planned_start"]) == at(1)
    assert parse(bottled["planned_start"]) == parse(made["planned_end"]) == at(3)
