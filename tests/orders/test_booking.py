"""Bookings: how long a line item takes is one rule, the same when a planner lays work out
by hand and when the scheduler places it (setup plus run time per unit times the quantity,
rounded up to whole minutes)."""

from decimal import Decimal

from fastapi.testclient import TestClient

from taktline.orders.booking import duration_minutes
from tests.helpers import Tenant
from tests.scheduling.shop import H0, Shop, iso, parse, planned


def test_the_duration_is_whole_minutes_rounded_up() -> None:
    assert duration_minutes(Decimal(0), Decimal("0.5"), Decimal(101)) == 51
    assert duration_minutes(Decimal("10"), Decimal("0.25"), Decimal(8)) == 12
    assert duration_minutes(Decimal("0.01"), Decimal(0), Decimal(1)) == 1
    assert duration_minutes(Decimal(0), Decimal(0), Decimal(5)) == 0


def test_a_hand_laid_schedule_and_the_scheduler_agree_on_how_long_a_line_item_takes(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant, hours=None)
    bl1 = shop.resource("BL1")
    line = shop.line(bl1, 0, setup_minutes="0", run_minutes_per_unit="0.5")
    by_hand = shop.work_order([line], quantity="101")
    by_scheduler = shop.work_order([line], quantity="101")

    laid_out = shop.act(by_hand, "schedule", {"start": iso(0)})
    proposal = shop.preview(work_order_ids=[by_scheduler["id"]])

    (hand,) = laid_out["line_items"]
    (solved,) = planned(proposal, by_scheduler)["line_items"]
    hand_minutes = (parse(hand["planned_end"]) - parse(hand["planned_start"])).total_seconds() / 60
    solved_minutes = (
        parse(solved["planned_end"]) - parse(solved["planned_start"])
    ).total_seconds() / 60
    assert hand_minutes == solved_minutes == 51
    assert parse(hand["planned_start"]) == H0
