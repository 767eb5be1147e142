"""The bill of material screens in the system's Chromium over real HTTP (see conftest.py):

- A planner finds the BOMs in the main navigation (on one line at 1280 px), opens a DRAFT in
  the editor, adds and removes rows with the page's buttons, sends a form with a mistake, gets
  it back as typed with the message next to the field, corrects it and saves.
- The BOM list, a BOM with the differences between two versions, the editor, an item's page
  and a production order's preview tree fit 768 and 1280 px without sideways scroll, with a
  clean console.

Its own BOMs, built through the API (never the demo's). Screenshots under
test-output/screenshots/.
"""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import LAPTOP, TABLET, Tab
from tests.helpers import Tenant
from tests.portal.conftest import set_password
from tests.portal.test_bom_pages import Plant

OpenTab = Callable[..., Tab]


@pytest.fixture
def plant(client: TestClient, tenant: Tenant) -> Plant:
    return Plant(client, tenant)


def no_sideways_scroll(tab: Tab) -> None:
    scroll, width = tab.page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= width, f"{tab.path} scrolls sideways at {tab.viewport}"


def test_a_planner_edits_a_draft_in_the_browser_and_a_mistake_comes_back_as_typed(
    browser_tab: OpenTab, client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom(activate=False)
    email = set_password(client, tenant, "planner")
    tab = browser_tab("bom-editor")
    tab.sign_in(email)

    nav_tops = tab.page.eval_on_selector_all(
        "nav[aria-label=Main] a", "links => links.map(a => a.getBoundingClientRect().top)"
    )
    assert len(set(nav_tops)) == 1, f"the navigation wraps at 1280 px: {nav_tops}"
    tab.nav("BOMs")
    assert tab.path == "/boms"
    tab.page.get_by_role("link", name=bom["code"]).click()
    tab.page.get_by_role("link", name="Edit version 1").click()
    assert tab.path == f"/boms/{bom['id']}/versions/1/edit"

    page = tab.page
    # the spare input row is #2; one more, then the spare one removed again
    page.get_by_role("button", name="Add input").click()
    assert page.locator("[name='inputs.3.quantity']").count() == 1
    focused = page.evaluate("document.activeElement.name")
    assert focused == "inputs.3.item_id"
    page.locator("#bom-inputs [data-row]").nth(2).get_by_role("button").click()
    assert page.locator("[name='inputs.2.quantity']").count() == 0
    page.select_option("[name='inputs.3.item_id']", plant.glass["id"])
    page.fill("[name='inputs.3.quantity']", "-2")
    # a second operation (the spare block), with an alternative resource
    page.fill("[name='operations.1.operation']", "Filtering")
    page.locator("details.alternatives").nth(1).locator("summary").click()
    page.select_option("[name='operations.1.alternatives.0.resource_id']", plant.line["id"])
    page.locator("[data-add-row='alts-1']").click()
    assert page.locator("[name='operations.1.alternatives.1.resource_id']").count() == 1
    page.get_by_role("button", name="Add operation").click()
    assert page.locator("[name='operations.2.operation']").count() == 1
    assert page.locator("[name='operations.2.alternatives.0.resource_id']").count() == 1
    tab.shot("typed")

    with page.expect_navigation():
        page.get_by_role("button", name="Save version 1").click()

    # the row removed is gone, the glass moved up to input 3, its message next to it
    quantity = page.locator("[name='inputs.2.quantity']")
    assert quantity.input_value() == "-2"
    assert quantity.get_attribute("aria-invalid") == "true"
    assert page.locator("#f-inputs-2-quantity-error").inner_text() == (
        "Quantity must be more than 0"
    )
    assert page.locator("[name='operations.1.operation']").input_value() == "Filtering"
    assert (
        page.locator("[name='operations.1.alternatives.0.resource_id']").input_value()
        == plant.line["id"]
    )
    assert page.locator("[name='inputs.4.quantity']").count() == 0
    tab.shot("refused")
    tab.assert_console_clean(allow_refused=True)

    quantity.fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Save version 1").click()
    assert tab.flash() == "Version 1 saved."
    saved = plant.version(bom, 1)
    assert [i["item_id"] for i in saved["inputs"]] == [
        plant.concentrate["id"],
        plant.water["id"],
        plant.glass["id"],
    ]
    assert [op["operation"] for op in saved["operations"]] == ["Pressing", "Filtering"]
    assert [a["resource_id"] for a in saved["operations"][1]["alternatives"]] == [plant.line["id"]]
    tab.assert_console_clean()


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["laptop", "tablet"])
def test_the_bom_pages_fit_a_laptop_and_a_tablet(
    browser_tab: OpenTab,
    client: TestClient,
    tenant: Tenant,
    plant: Plant,
    database_url: str,
    viewport: dict[str, int],
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("layout does not depend on the database")
    juice = plant.juice_bom()
    plant.bottle_bom()
    plant.api("POST", f"/boms/{juice['id']}/versions", {"copy_of": 1})
    po = plant.order("10000")
    email = set_password(client, tenant, "planner")
    tab = browser_tab("bom-pages", viewport=viewport)
    tab.sign_in(email)
    for name, url in (
        ("list", "/boms"),
        ("diff", f"/boms/{juice['id']}?version=2&against=1"),
        ("editor", f"/boms/{juice['id']}/versions/2/edit"),
        ("item", f"/items/{plant.concentrate['id']}"),
        ("preview", f"/production-orders/{po['id']}/preview"),
    ):
        tab.goto(url)
        no_sideways_scroll(tab)
        tab.shot(name)
    assert tab.page.locator(".wo-tree .wo-node").count() == 5
    tab.assert_console_clean()
