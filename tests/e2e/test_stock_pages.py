"""Stock in the system's Chromium over real HTTP (see conftest.py): a planner of the demo
plant finds the inventory in the main navigation, receives a delivery of concentrate
through the form (a mistake first: it comes back as typed, with the message beside its
field, and nothing is received), lands on the new lot in QUARANTINE, releases it, and finds
it among the item's lots, AVAILABLE (SQLite and PostgreSQL). The stock pages' layout, labels
and keyboard path are checked with every main page in test_portal_flows.py.
"""

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select

from taktline.inventory.kinds import LotStatus
from taktline.inventory.models import Lot
from taktline.items.models import Item
from taktline.permissions import Role
from tests.e2e.conftest import DemoPlant, Tab
from tests.helpers.counts import db_counts

OpenTab = Callable[..., Tab]

CONCENTRATE = "AJC-70"  # the demo's: gal, 365 days of shelf life, new lots in QUARANTINE


def test_a_planner_receives_a_delivery_releases_it_and_finds_it_in_stock(
    browser_tab: OpenTab, demo_plant: DemoPlant
) -> None:
    plant = demo_plant
    with plant.app.state.session_factory() as session:
        item_id = session.scalar(
            select(Item.id).where(Item.org_id == plant.tenant.org_id, Item.sku == CONCENTRATE)
        )
        engine = session.get_bind()
    assert item_id is not None
    tab = browser_tab("stock")
    page = tab.page
    tab.sign_in(plant.email(Role.PLANNER))
    tab.nav("Inventory")
    assert tab.path == "/inventory"
    with page.expect_navigation():
        page.get_by_role("link", name="Receive stock").click()
    assert tab.path == "/receipts/new"

    page.get_by_label("Item", exact=True).select_option(str(item_id))
    page.get_by_label("Quantity (in the item's unit)").fill("-120")
    page.get_by_label("Lot code (optional)").fill("AJC70-E2E1")
    page.get_by_label("Supplier (optional)", exact=True).fill("Cascade Orchards Co-op")
    page.get_by_label("Reference document (optional)").fill("BOL-55120")
    before = db_counts(engine)
    with page.expect_navigation():
        page.get_by_role("button", name="Receive").click()
    assert page.get_by_role("alert").count() == 1
    quantity = page.get_by_label("Quantity (in the item's unit)")
    assert quantity.input_value() == "-120"
    assert quantity.get_attribute("aria-invalid") == "true"
    assert "more than 0" in page.locator("#f-quantity-error").inner_text()
    assert page.get_by_label("Lot code (optional)").input_value() == "AJC70-E2E1"
    assert db_counts(engine) == before
    tab.shot("refused")
    tab.assert_console_clean(allow_refused=True)

    quantity.fill("120")
    with page.expect_navigation():
        page.get_by_role("button", name="Receive").click()
    assert tab.path.startswith("/lots/")
    assert tab.flash() == "Received 120 gal into lot AJC70-E2E1."
    assert "QUARANTINE" in page.locator("h1").inner_text()
    assert "BOL-55120" in page.locator("main").inner_text()
    tab.shot("received")

    with page.expect_navigation():
        page.get_by_role("button", name="Release").click()
    assert "AVAILABLE" in page.locator("h1").inner_text()
    assert page.get_by_role("button", name="Release").count() == 0
    tab.shot("released")

    with plant.app.state.session_factory() as session:
        lot = session.scalars(
            select(Lot).where(Lot.org_id == plant.tenant.org_id, Lot.code == "AJC70-E2E1")
        ).one()
    assert (lot.status, lot.quantity_on_hand, lot.supplier) == (
        LotStatus.AVAILABLE,
        Decimal(120),
        "Cascade Orchards Co-op",
    )

    tab.goto(f"/lots?item_id={item_id}&status=AVAILABLE")
    assert page.get_by_role("link", name="AJC70-E2E1").count() == 1
    tab.assert_console_clean()
