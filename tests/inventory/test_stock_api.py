"""Stock through the API, on both databases: receipts make lots (codes by the organisation's
pattern, expiry from the shelf life, the item's starting status) and fill them through the
ledger; QA releases, holds and rejects; allocation takes AVAILABLE lots of the right owner
that last as long as the work, in the item's FEFO or FIFO order, and stops at the start;
pulls consume, returns give back, the last line item's reports make the output lot, and a
completed work order reconciles what it used against what its BOM expected. A refused
request changes nothing."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import API, Json, act_on_work_order, expect, get_work_order
from tests.helpers import Tenant, assert_problem, db_counts, error_fields
from tests.inventory.stock import Stock, days, make_stock


@pytest.fixture
def stock(client: TestClient, tenant: Tenant) -> Stock:
    return make_stock(client, tenant)


def _d(value: str) -> Any:
    """A quantity as the API answers it, to compare with numbers."""
    return Decimal(value)


# --- receiving and QA ------------------------------------------------------------------------


def test_a_receipt_makes_a_lot_coded_by_the_pattern_with_expiry_from_the_shelf_life(
    stock: Stock,
) -> None:
    cap = stock.material(sku="CAP-38", shelf_life_days=365)
    lot = stock.receive(cap, "5000", supplier="Closure Co", supplier_lot_code="CC-77",
                        reference="BOL-1234")  # fmt: skip
    assert lot["code"].startswith("CAP-38-")
    assert lot["code"].endswith("-1")
    assert lot["status"] == "AVAILABLE"
    assert _d(lot["quantity_on_hand"]) == 5000
    assert _d(lot["quantity_available"]) == 5000
    assert lot["supplier"] == "Closure Co"
    assert lot["supplier_lot_code"] == "CC-77"
    assert lot["expires_at"] is not None
    [entry] = stock.entries(lot["id"])
    assert entry["kind"] == "RECEIVE"
    assert _d(entry["on_hand_change"]) == 5000
    assert entry["reference"] == "BOL-1234"
    second = stock.receive(cap, "10")
    assert second["code"].endswith("-2")


def test_lots_of_an_item_that_awaits_qa_start_in_quarantine_and_are_released(
    stock: Stock,
) -> None:
    concentrate = stock.material(new_lot_status="QUARANTINE")
    lot = stock.receive(concentrate, "100", lot_code="AJC-1")
    assert lot["status"] == "QUARANTINE"
    assert lot["allowed_actions"] == ["release", "hold", "reject"]
    released = expect(stock.lot_action(lot, "release"))
    assert released["status"] == "AVAILABLE"
    problem = assert_problem(stock.lot_action(lot, "release"), 409)
    assert "AVAILABLE" in problem["detail"]


def test_hold_and_reject_need_a_reason_and_qa_is_for_planners(stock: Stock) -> None:
    lot = stock.receive(stock.material(), "10")
    assert error_fields(assert_problem(stock.lot_action(lot, "hold", {}), 422)) == ["body.reason"]
    assert_problem(stock.lot_action(lot, "hold", {"reason": "recall"}, role="operator"), 403)
    held = expect(stock.lot_action(lot, "hold", {"reason": "supplier recall 2026-11"}))
    trail = expect(
        stock.client.get(f"{API}/lots/{lot['id']}/events", headers=stock.tenant.headers("viewer"))
    )
    assert [(e["action"], e["to_state"], e["reason"]) for e in trail] == [
        ("receive", "AVAILABLE", None),
        ("hold", "HOLD", "supplier recall 2026-11"),
    ]
    assert held["status"] == "HOLD"
    assert held["status_reason"] == "supplier recall 2026-11"


def test_an_item_that_is_not_lot_tracked_keeps_one_balance_per_facility(stock: Stock) -> None:
    wrap = stock.material(tracking="NONE")
    first = stock.receive(wrap, "3")
    second = stock.receive(wrap, "4")
    assert first["id"] == second["id"]
    assert first["code"] is None
    assert _d(second["quantity_on_hand"]) == 7
    problem = assert_problem(
        stock.client.post(
            f"{API}/receipts",
            json={"item_id": wrap["id"], "facility_id": stock.plant.facility["id"],
                  "quantity": "1", "lot_code": "X"},
            headers=stock.tenant.headers("operator"),
        ),
        422,
    )  # fmt: skip
    assert error_fields(problem) == ["body.lot_code"]


def test_a_lot_code_is_unique_per_item(stock: Stock) -> None:
    cap = stock.material()
    stock.receive(cap, "1", lot_code="L-1")
    assert "already has a lot L-1" in stock.receive(cap, "1", lot_code="L-1", status=409)["detail"]


def test_a_customers_own_material_is_theirs_whoever_sends_it(stock: Stock) -> None:
    concentrate = stock.material(owner_id=stock.customer["id"])
    lot = stock.receive(concentrate, "50")
    assert lot["owner_id"] == stock.customer["id"]
    assert lot["owner_name"] == "Healthy Juices Inc."
    problem = stock.receive(concentrate, "5", owner_id=stock.other_customer["id"], status=422)
    assert error_fields(problem) == ["body.owner_id"]


def test_adjust_and_scrap_take_a_reason_and_never_go_below_zero(app: FastAPI, stock: Stock) -> None:
    lot = stock.receive(stock.material(), "10")
    down = expect(stock.lot_action(lot, "adjust", {"quantity": "-3", "reason": "counted 7"}))
    assert _d(down["quantity_on_hand"]) == 7
    before = db_counts(app.state.engine)
    problem = assert_problem(
        stock.lot_action(lot, "scrap", {"quantity": "8", "reason": "dropped"}), 409
    )
    assert "7 ea on hand" in problem["detail"]
    assert db_counts(app.state.engine) == before
    zero = stock.lot_action(lot, "adjust", {"quantity": "0", "reason": "x"})
    assert error_fields(assert_problem(zero, 422)) == ["body.quantity"]
    assert [e["kind"] for e in stock.entries(lot["id"])] == ["RECEIVE", "ADJUST"]


def test_receiving_is_for_the_floor_and_planners_not_viewers(stock: Stock) -> None:
    assert_problem(
        stock.client.post(
            f"{API}/receipts",
            json={"item_id": stock.material()["id"], "facility_id": stock.plant.facility["id"],
                  "quantity": "1"},
            headers=stock.tenant.headers("viewer"),
        ),
        403,
    )  # fmt: skip


def test_another_organisations_lot_is_not_found(stock: Stock, other_tenant: Tenant) -> None:
    lot = stock.receive(stock.material(), "1")
    assert_problem(stock.client.get(f"{API}/lots/{lot['id']}", headers=other_tenant.headers()), 404)
    assert_problem(
        stock.client.post(
            f"{API}/lots/{lot['id']}/hold", json={"reason": "x"}, headers=other_tenant.headers()
        ),
        404,
    )


# --- allocation ----------------------------------------------------------------------------


def _allocations(materials: list[Json]) -> list[tuple[Any, Any]]:
    return [(a["lot_code"], _d(a["quantity"])) for m in materials for a in m["allocations"]]


def test_auto_allocation_takes_the_earliest_expiry_first_and_shows_the_shortage(
    stock: Stock,
) -> None:
    bottle = stock.material()
    stock.receive(bottle, "60", lot_code="LATE", expires_at=days(400))
    stock.receive(bottle, "50", lot_code="SOON", expires_at=days(30))
    wo = stock.work_order([(bottle, "150")])
    materials = expect(stock.allocate(wo, {"auto": True}))
    assert _allocations(materials) == [("SOON", 50), ("LATE", 60)]
    assert _d(materials[0]["short"]) == 40


def test_fifo_items_take_the_earliest_received_first(stock: Stock) -> None:
    label = stock.material(allocation_strategy="FIFO")
    stock.receive(label, "10", lot_code="FIRST", expires_at=days(500), received_at=days(-30))
    stock.receive(label, "10", lot_code="SECOND", expires_at=days(100), received_at=days(-10))
    wo = stock.work_order([(label, "15")])
    assert _allocations(expect(stock.allocate(wo, {"auto": True}))) == [
        ("FIRST", 10),
        ("SECOND", 5),
    ]


def test_a_customers_lot_goes_only_into_that_customers_orders(stock: Stock) -> None:
    concentrate = stock.material()
    stock.receive(concentrate, "100", lot_code="HJ", owner_id=stock.customer["id"])
    stock.receive(concentrate, "100", lot_code="OURS")
    peak = stock.work_order([(concentrate, "150")], owner=stock.other_customer)
    assert _allocations(expect(stock.allocate(peak, {"auto": True}))) == [("OURS", 100)]
    healthy = stock.work_order([(concentrate, "100")], owner=stock.customer)
    assert _allocations(expect(stock.allocate(healthy, {"auto": True}))) == [("HJ", 100)]


def test_a_lot_given_by_hand_must_be_available_of_the_right_owner_and_last_the_work(
    app: FastAPI, stock: Stock
) -> None:
    cap = stock.material()
    held = stock.receive(cap, "10", lot_code="HELD")
    expect(stock.lot_action(held, "hold", {"reason": "QA"}))
    theirs = stock.receive(cap, "10", lot_code="THEIRS", owner_id=stock.other_customer["id"])
    old = stock.receive(cap, "10", lot_code="OLD", expires_at=days(-1))
    wo = stock.work_order([(cap, "30")], owner=stock.customer)
    before = db_counts(app.state.engine)
    problem = assert_problem(
        stock.allocate(
            wo,
            {"lots": [{"lot_id": lot["id"], "quantity": "5"} for lot in (held, theirs, old)]},
        ),
        422,
    )
    messages = [e["msg"] for e in problem["errors"]]
    assert "HOLD" in messages[0]
    assert "another customer" in messages[1]
    assert "before the work order ends" in messages[2]
    assert db_counts(app.state.engine) == before


def test_allocating_more_than_available_is_refused_with_the_numbers(stock: Stock) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10", lot_code="C-1")
    first = stock.work_order([(cap, "8")])
    expect(stock.allocate(first, {"lots": [{"lot_id": lot["id"], "quantity": "8"}]}))
    second = stock.work_order([(cap, "8")])
    problem = assert_problem(
        stock.allocate(second, {"lots": [{"lot_id": lot["id"], "quantity": "5"}]}), 409
    )
    assert "2 ea is available" in problem["detail"]


def test_allocations_stop_at_the_start_and_go_back_when_unscheduled(stock: Stock) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10")
    wo = stock.work_order([(cap, "4")])
    expect(stock.allocate(wo, {"auto": True}))
    scheduled = stock.act(wo, "schedule")
    assert _d(stock.lot(lot["id"])["quantity_allocated"]) == 4
    stock.act(scheduled, "unschedule")
    assert _d(stock.lot(lot["id"])["quantity_allocated"]) == 0
    assert stock.materials(wo)[0]["allocations"] == []
    expect(stock.allocate(wo, {"auto": True}))
    stock.act(wo, "schedule")
    started = stock.act(wo, "start")
    problem = assert_problem(stock.allocate(started, {"auto": True}), 409)
    assert "IN_PROCESS" in problem["detail"]


def test_allocating_is_for_planners(stock: Stock) -> None:
    wo = stock.work_order([(stock.material(), "1")])
    assert_problem(stock.allocate(wo, {"auto": True}, role="operator"), 403)


def test_a_rejected_lot_gives_its_allocations_back(stock: Stock) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10")
    wo = stock.work_order([(cap, "6")])
    expect(stock.allocate(wo, {"auto": True}))
    expect(stock.lot_action(lot, "reject", {"reason": "mould"}))
    assert _d(stock.materials(wo)[0]["short"]) == 6
    assert _d(stock.lot(lot["id"])["quantity_allocated"]) == 0


# --- pulls, production, reconciliation -----------------------------------------------------


def _in_process(stock: Stock, wo: Json) -> Json:
    stock.act(wo, "schedule")
    return stock.act(wo, "start")


def test_pulling_what_is_allocated_consumes_it(stock: Stock) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10")
    wo = stock.work_order([(cap, "6")])
    expect(stock.allocate(wo, {"auto": True}))
    _in_process(stock, wo)
    materials = expect(stock.pull(wo, {"allocated": True}), 201)
    assert _d(materials[0]["pulled"]) == 6
    assert materials[0]["allocations"] == []
    after = stock.lot(lot["id"])
    assert _d(after["quantity_on_hand"]) == 4
    assert _d(after["quantity_allocated"]) == 0


def test_a_lot_that_was_not_allocated_is_pulled_as_a_substitution_and_returned(
    stock: Stock,
) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10", lot_code="SUB-1")
    wo = _in_process(stock, stock.work_order([(cap, "6")]))
    materials = expect(stock.pull(wo, {"lot_code": "SUB-1", "quantity": "10"}), 201)
    [pull] = materials[0]["pulls"]
    assert pull["substitution"] is True
    assert _d(pull["quantity"]) == 10
    assert stock.lot(lot["id"])["status"] == "DEPLETED"
    returned = expect(
        stock.client.post(
            f"{API}/work-orders/{wo['id']}/pulls/{pull['id']}/return",
            json={"quantity": "4", "reason": "left over"},
            headers=stock.tenant.headers("operator"),
        )
    )
    assert _d(returned[0]["pulled"]) == 6
    assert stock.lot(lot["id"])["status"] == "AVAILABLE"
    assert _d(stock.lot(lot["id"])["quantity_on_hand"]) == 4


def test_pulls_are_refused_before_the_start_and_beyond_what_is_on_hand(
    app: FastAPI, stock: Stock
) -> None:
    cap = stock.material()
    stock.receive(cap, "5", lot_code="P-1")
    wo = stock.work_order([(cap, "6")])
    assert (
        "IN_PROCESS"
        in assert_problem(stock.pull(wo, {"lot_code": "P-1", "quantity": "1"}), 409)["detail"]
    )
    _in_process(stock, wo)
    before = db_counts(app.state.engine)
    problem = assert_problem(stock.pull(wo, {"lot_code": "P-1", "quantity": "6"}), 409)
    assert "5 ea on hand" in problem["detail"]
    assert db_counts(app.state.engine) == before
    other = stock.material()
    stock.receive(other, "5", lot_code="P-2")
    assert error_fields(
        assert_problem(stock.pull(wo, {"lot_code": "P-2", "quantity": "1"}), 422)
    ) == ["body.lot_code"]


def test_the_last_line_items_reports_make_the_output_lot(stock: Stock) -> None:
    wo = _in_process(stock, stock.work_order([]))
    last = len(wo["line_items"]) - 1
    for index in range(last):
        act_on_work_order(
            stock.client, stock.tenant, wo, "report", {"quantity_completed": "100", "done": True},
            line_item=index,
        )  # fmt: skip
    wo = get_work_order(stock.client, stock.tenant, wo["id"])
    act_on_work_order(
        stock.client, stock.tenant, wo, "report",
        {"quantity_completed": "60", "lot_code": "FG-1"}, line_item=last,
    )  # fmt: skip
    act_on_work_order(
        stock.client, stock.tenant, get_work_order(stock.client, stock.tenant, wo["id"]),
        "report", {"quantity_completed": "40"}, line_item=last,
    )  # fmt: skip
    made = expect(
        stock.client.get(
            f"{API}/lots", params={"work_order_id": wo["id"]}, headers=stock.tenant.headers()
        )
    )["items"]
    assert [(lot["code"], _d(lot["quantity_on_hand"]), lot["origin"]) for lot in made] == [
        ("FG-1", 100, "PRODUCED")
    ]


def test_a_lot_code_is_given_on_the_last_line_item_only(stock: Stock) -> None:
    wo = _in_process(stock, stock.work_order([]))
    problem = assert_problem(
        stock.client.post(
            f"{API}/work-orders/{wo['id']}/line-items/{wo['line_items'][0]['id']}/report",
            json={"quantity_completed": "1", "lot_code": "X"},
            headers=stock.tenant.headers("operator"),
        ),
        422,
    )
    assert error_fields(problem) == ["body.lot_code"]


def test_a_completed_work_order_reconciles_what_it_pulled_against_its_requirement(
    stock: Stock,
) -> None:
    cap, label = stock.material(), stock.material()
    stock.receive(cap, "200", lot_code="CAP")
    stock.receive(label, "200", lot_code="LBL")
    wo = _in_process(stock, stock.work_order([(cap, "100"), (label, "100")]))
    expect(stock.pull(wo, {"lot_code": "CAP", "quantity": "50"}), 201)
    expect(stock.pull(wo, {"lot_code": "LBL", "quantity": "60"}), 201)
    for index in range(len(wo["line_items"])):
        act_on_work_order(
            stock.client, stock.tenant, get_work_order(stock.client, stock.tenant, wo["id"]),
            "report", {"quantity_completed": "50", "done": True}, line_item=index,
        )  # fmt: skip
    stock.act(wo, "complete")
    cap_line, label_line = stock.materials(wo)
    # 50 of 100 made: 50 caps expected, 50 pulled; 60 labels pulled, 20 % over, flagged.
    assert (_d(cap_line["expected"]), _d(cap_line["variance"]), cap_line["flagged"]) == (
        50, 0, False
    )  # fmt: skip
    assert (_d(label_line["variance"]), _d(label_line["variance_percent"])) == (10, 20)
    assert label_line["flagged"] is True


def test_shortages_name_the_item_and_the_first_work_order_to_wait(stock: Stock) -> None:
    cap = stock.material(sku="CAP-SHORT")
    stock.receive(cap, "100")
    first = stock.work_order([(cap, "80")])
    stock.work_order([(cap, "80")])
    found = expect(stock.client.get(f"{API}/materials/shortages", headers=stock.tenant.headers()))
    [short] = [s for s in found if s["item_sku"] == "CAP-SHORT"]
    assert (_d(short["required"]), _d(short["available"]), _d(short["short"])) == (160, 100, 60)
    assert short["first_waiting_work_order_id"] != first["id"]


def test_many_work_orders_are_allocated_in_one_call(stock: Stock) -> None:
    cap = stock.material()
    stock.receive(cap, "100")
    work = [stock.work_order([(cap, "30")]) for _ in range(4)]
    answer = expect(
        stock.client.post(
            f"{API}/materials/allocate",
            json={"work_order_ids": [wo["id"] for wo in work]},
            headers=stock.tenant.headers(),
        )
    )
    assert answer == {"allocations": 4}
    shorts = [_d(stock.materials(wo)[0]["short"]) for wo in work]
    assert sorted(shorts) == [0, 0, 0, 20]


def test_the_late_work_explanation_names_the_material_it_will_wait_for(stock: Stock) -> None:
    cap = stock.material(sku="CAP-LATE")
    stock.receive(cap, "60")
    wo = stock.work_order([(cap, "100")])
    expect(
        stock.client.patch(
            f"{API}/work-orders/{wo['id']}",
            json={"due_date": days(0)},  # T0: before its planned end, T0 + 2 h
            headers={**stock.tenant.headers(), "If-Match": f'"{wo["version"]}"'},
        )
    )
    stock.act(wo, "schedule")
    report = expect(
        stock.client.get(
            f"{API}/bottlenecks",
            params={"from": days(0), "to": days(1)},
            headers=stock.tenant.headers("viewer"),
        )
    )
    [late] = [w for w in report["late_work_orders"] if w["id"] == wo["id"]]
    assert late["short_materials"] == [{"item_sku": "CAP-LATE", "unit": "ea", "short": "40"}]
    assert late["reason"].endswith("short of 40 ea of CAP-LATE")


def test_the_organisations_admin_sets_the_lot_code_pattern(stock: Stock) -> None:
    def set_pattern(pattern: str, role: str = "admin") -> Any:
        return stock.client.patch(
            f"{API}/organisation",
            json={"lot_code_pattern": pattern},
            headers=stock.tenant.headers(role),
        )

    assert error_fields(assert_problem(set_pattern("{sku}-only"), 422)) == ["body.lot_code_pattern"]
    assert_problem(set_pattern("L{yyyymmdd}-{n}", role="planner"), 403)
    expect(set_pattern("L{yyyymmdd}-{n}"))
    lot = stock.receive(stock.material(), "1")
    assert lot["code"].startswith("L20")
    assert lot["code"].endswith("-1")


def test_an_items_gtin_is_checked_and_kept_as_gtin_14(stock: Stock) -> None:
    good = stock.material(gtin="614141999996")
    assert good["gtin"] == "00614141999996"
    for wrong in ("00614141999997", "12345", "ABCDEFGHIJKL"):
        problem = assert_problem(
            stock.client.post(
                f"{API}/items",
                json={"sku": f"G-{wrong}", "name": "x", "unit": "ea", "gtin": wrong},
                headers=stock.tenant.headers(),
            ),
            422,
        )
        assert error_fields(problem) == ["body.gtin"]


def test_a_produced_lot_takes_its_items_shelf_life_and_starting_status(stock: Stock) -> None:
    expect(
        stock.client.patch(
            f"{API}/items/{stock.plant.item['id']}",
            json={"shelf_life_days": 3, "new_lot_status": "QUARANTINE"},
            headers={**stock.tenant.headers(), "If-Match": f'"{stock.plant.item["version"]}"'},
        )
    )
    wo = _in_process(stock, stock.work_order([]))
    for index in range(len(wo["line_items"])):
        act_on_work_order(
            stock.client, stock.tenant, get_work_order(stock.client, stock.tenant, wo["id"]),
            "report", {"quantity_completed": "10", "done": True}, line_item=index,
        )  # fmt: skip
    [made] = expect(
        stock.client.get(
            f"{API}/lots", params={"work_order_id": wo["id"]}, headers=stock.tenant.headers()
        )
    )["items"]
    assert made["status"] == "QUARANTINE"
    assert made["expires_at"] is not None


def test_canceled_work_gives_its_allocations_back(stock: Stock) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "10")
    wo = stock.work_order([(cap, "4")])
    expect(stock.allocate(wo, {"auto": True}))
    act_on_work_order(
        stock.client, stock.tenant, get_work_order(stock.client, stock.tenant, wo["id"]),
        "cancel", {"reason": "the customer called it off"},
    )  # fmt: skip
    assert _d(stock.lot(lot["id"])["quantity_allocated"]) == 0
    assert [e["kind"] for e in stock.entries(lot["id"])] == ["RECEIVE", "ALLOCATE", "RELEASE"]
