"""Pulling materials on the shop floor: on the card of work in process, the operator types a
lot code or scans a GS1-128 barcode (as the scanner types it: in brackets, or raw with the
group separator), the lot is found and its quantity offered ((37) the count on the label),
and the pull is confirmed; or everything allocated is pulled with one button. What is
refused says why in the operator's words and changes nothing.

Stock is built through the API; the floor is driven through its forms. Every test runs on
SQLite and on PostgreSQL.
"""

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.portal.pages.floor import read_scan
from tests.helpers import Tenant, db_counts
from tests.portal.conftest import signed_in
from tests.portal.test_inventory_pages import GTIN, Stock, form_actions, hour, part, text_of
from tests.portal.test_order_pages import followed, page, post, visible

Json = dict[str, Any]
GS = "\x1d"


# --- reading what was typed or scanned ---------------------------------------------------------


def test_a_gs1_scan_is_read_for_its_lot_count_gtin_and_expiry() -> None:
    printed = read_scan(f"(01){GTIN}(10)LOT123(17)271231(37)24")
    raw = read_scan(f"01{GTIN}10LOT123{GS}1727123137 24".replace(" ", ""))
    with_identifier = read_scan(f"]C101{GTIN}10LOT123{GS}17271231{GS}3724")

    for scan in (printed, raw, with_identifier):
        assert scan.problem is None
        assert scan.lot_code == "LOT123"
        assert scan.count == Decimal(24)
        assert scan.gtin == GTIN
        assert scan.expires_on == date(2027, 12, 31)
        assert scan.barcode


def test_typed_text_is_a_lot_code_first() -> None:
    typed = read_scan("  CAP-0042 ")
    assert (typed.lot_code, typed.barcode, typed.problem) == ("CAP-0042", False, None)
    # a code that a barcode reader would take for (10)00-A is a lot code as typed, and only
    # then (if no lot has it) read as a barcode without separators
    looks_like_gs1 = read_scan("1000-A")
    assert looks_like_gs1.lot_code == "1000-A"
    assert looks_like_gs1.fallback is not None
    assert looks_like_gs1.fallback.lot_code == "00-A"


def test_what_cannot_be_read_says_so_in_the_operators_words() -> None:
    assert read_scan("").problem == "Type a lot code or scan the lot's barcode."
    assert read_scan(f"(01){GTIN}(17)271231").problem == (
        "This barcode carries no lot number (10): scan the lot's own label, or type its lot code."
    )
    assert read_scan("(01)00614141999995(10)X").problem == (
        "The barcode's GTIN 00614141999995 has a wrong check digit: scan it again."
    )
    assert read_scan("(99").problem == (
        "This barcode could not be read: scan it again, or type the lot code."
    )


# --- the floor ---------------------------------------------------------------------------------


class Floor:
    """A work order in process on the line that needs 100 caps, and a lot of caps."""

    def __init__(self, stock: Stock, client: TestClient, tenant: Tenant) -> None:
        self.stock, self.client, self.tenant = stock, client, tenant
        self.cap = stock.item(
            name="Cap 38mm", unit="ea", precision=0, type="RAW_MATERIAL", gtin="00012345600012"
        )
        self.lot = stock.receive(
            self.cap, "500", lot_code="CAP-L1", expires_at=hour(24 * 200).isoformat()
        )
        self.wo = stock.work_order([(self.cap, "100")])
        self.path = f"/floor/{stock.line['id']}"
        self.actions = f"{self.path}/work-orders/{self.wo['id']}"

    def start(self) -> Json:
        self.wo = self.stock.started(self.wo)
        return self.wo

    def scan(self, text: str) -> Any:
        return post(
            self.client,
            f"{self.actions}/scan",
            {"scan": text, "line_item_id": self.wo["line_items"][0]["id"]},
        )

    def pulled(self) -> str:
        material: Json = self.stock.materials(self.wo)[0]
        return str(material["pulled"])


@pytest.fixture
def floor(client: TestClient, tenant: Tenant, stock: Stock) -> Floor:
    return Floor(stock, client, tenant)


@pytest.fixture
def stock(client: TestClient, tenant: Tenant) -> Stock:
    return Stock(client, tenant)


def confirm_form(text: str) -> str:
    return part(text, r'<form method="post" action="[^"]+/pull" class="confirm".*?</form>')


def field_value(form: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', form)
    assert found is not None, f"no {name} in the form"
    return found.group(1)


def test_the_card_of_work_in_process_shows_its_materials_and_the_pull_form(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    floor.stock.api("POST", f"/work-orders/{floor.wo['id']}/allocate", {"auto": True})
    floor.start()
    for role in ("operator", "planner", "admin"):
        signed_in(client, tenant, role)
        text = visible(page(client, floor.path))
        materials = text_of(part(text, r'<section class="floor-materials".*?</section>'))
        assert f"{floor.cap['sku']} Cap 38mm" in materials
        assert "0 of 100 ea pulled · allocated CAP-L1 100 exp." in materials
        assert {f"{floor.actions}/scan", f"{floor.actions}/pull-allocated"} <= form_actions(text)

    signed_in(client, tenant, "viewer")
    text = page(client, floor.path)
    assert "floor-materials" in text  # a viewer reads what it needs
    assert not any("/scan" in a or "/pull" in a for a in form_actions(text))


def test_a_gs1_scan_fills_the_lot_and_quantity_and_the_operator_confirms_the_pull(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    floor.start()
    signed_in(client, tenant, "operator")

    found = floor.scan("(01)00012345600012(10)CAP-L1(17)271231(37)24")

    assert found.status_code == 200, found.text
    form = confirm_form(visible(found.text))
    assert field_value(form, "lot_id") == floor.lot["id"]
    assert field_value(form, "quantity") == "24"
    assert "the label says 31 Dec 2027" in text_of(form)
    assert "not the lot's expiry: check the label" in text_of(form)  # its record says otherwise
    assert floor.pulled() == "0"  # nothing is pulled until it is confirmed

    done = post(
        client,
        f"{floor.actions}/pull",
        {
            "lot_id": field_value(form, "lot_id"),
            "quantity": field_value(form, "quantity"),
            "line_item_id": field_value(form, "line_item_id"),
        },
    )

    landed = visible(followed(client, done))
    assert f"{floor.wo['number']}: pulled 24 ea of lot CAP-L1 ({floor.cap['sku']})." in landed
    assert floor.pulled() == "24"
    pulls = floor.stock.materials(floor.wo)[0]["pulls"]
    assert pulls[0]["line_item_id"] == floor.wo["line_items"][0]["id"]
    assert pulls[0]["substitution"] is True  # it was not allocated


def test_a_raw_scan_and_a_typed_code_find_the_lot_too(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    floor.stock.api("POST", f"/work-orders/{floor.wo['id']}/allocate", {"auto": True})
    floor.start()
    signed_in(client, tenant, "operator")

    raw = confirm_form(visible(floor.scan(f"]C10100012345600012{GS}10CAP-L1{GS}3712").text))
    assert field_value(raw, "lot_id") == floor.lot["id"]
    assert field_value(raw, "quantity") == "12"
    # typed, the quantity offered is what is allocated of the lot
    typed = confirm_form(visible(floor.scan("CAP-L1").text))
    assert field_value(typed, "lot_id") == floor.lot["id"]
    assert field_value(typed, "quantity") == "100"


def test_the_gtin_of_a_scan_picks_the_item_when_two_items_share_a_lot_code(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    label = floor.stock.item(
        name="Label 16oz", unit="ea", precision=0, type="RAW_MATERIAL", gtin="00012345600029"
    )
    theirs = floor.stock.receive(label, "900", lot_code="CAP-L1")
    floor.stock.api(
        "PATCH",
        f"/work-orders/{floor.wo['id']}",
        {"materials": [{"item_id": floor.cap["id"], "quantity": "100"},
                       {"item_id": label["id"], "quantity": "100"}]},
    )  # fmt: skip
    floor.start()
    signed_in(client, tenant, "operator")

    by_gtin = confirm_form(visible(floor.scan("(01)00012345600029(10)CAP-L1").text))
    assert field_value(by_gtin, "lot_id") == theirs["id"]

    # typed, the code names two lots the work order needs: the operator chooses
    typed = confirm_form(visible(floor.scan("CAP-L1").text))
    options = re.findall(r'<option value="([^"]+)"', typed)
    assert sorted(options) == sorted([floor.lot["id"], theirs["id"]])
    assert "Lots of more than one item have this code" in typed


def test_pull_what_is_allocated_in_one_press(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    floor.stock.receive(floor.cap, "30", lot_code="CAP-L0", expires_at=hour(24 * 100).isoformat())
    floor.stock.api("POST", f"/work-orders/{floor.wo['id']}/allocate", {"auto": True})
    floor.start()
    signed_in(client, tenant, "operator")

    done = post(
        client,
        f"{floor.actions}/pull-allocated",
        {"line_item_id": floor.wo["line_items"][0]["id"]},
    )

    landed = visible(followed(client, done))
    assert f"{floor.wo['number']}: pulled what was allocated (2 lots)." in landed
    assert floor.pulled() == "100"
    assert floor.stock.materials(floor.wo)[0]["allocated"] == "0"


def test_what_the_floor_refuses_it_says_in_the_operators_words_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    held = floor.stock.receive(floor.cap, "50", lot_code="CAP-HELD")
    floor.stock.api("POST", f"/lots/{held['id']}/hold", {"reason": "recall"})
    floor.start()
    signed_in(client, tenant, "operator")
    engine = app.state.engine
    before = db_counts(engine)

    def refused(response: Any, status: int) -> str:
        assert response.status_code == status, response.text
        error = part(visible(response.text), r'<p class="error" role="alert"[^>]*>.*?</p>')
        return text_of(error)

    assert refused(floor.scan("NOPE-1"), 422) == (
        "No lot NOPE-1 is in stock here: check the code, or scan the label again."
    )
    assert refused(floor.scan("(01)00012345600012(17)271231"), 422) == (
        "This barcode carries no lot number (10): scan the lot's own label, or type its lot code."
    )
    wrong_item = refused(floor.scan("(01)00614141999996(10)CAP-L1"), 422)
    assert wrong_item == (
        "Lot CAP-L1 is not of the item of this barcode's GTIN 00614141999996: check the label."
    )

    def pull(lot: Json, quantity: str) -> Any:
        return post(client, f"{floor.actions}/pull", {"lot_id": lot["id"], "quantity": quantity})

    assert "Lot CAP-HELD is HOLD; only AVAILABLE lots may be used." in refused(pull(held, "5"), 422)
    assert "Lot CAP-L1 has 500 ea on hand; 600 ea cannot be taken from it." in refused(
        pull(floor.lot, "600"), 409
    )
    assert refused(pull(floor.lot, ""), 422) == "Quantity is required"
    assert refused(pull(floor.lot, "0"), 422) == "Quantity must be more than 0"
    nothing = post(client, f"{floor.actions}/pull-allocated", {})
    assert f"Nothing is allocated to {floor.wo['number']}" in refused(nothing, 409)
    # the refused pull keeps the lot and the quantity typed, to correct
    again = pull(floor.lot, "600")
    form = confirm_form(visible(again.text))
    assert field_value(form, "quantity") == "600"
    assert field_value(form, "lot_id") == floor.lot["id"]

    assert db_counts(engine) == before
    assert floor.pulled() == "0"


def test_pulls_are_for_work_in_process_and_for_the_roles_that_pull(
    client: TestClient, tenant: Tenant, floor: Floor
) -> None:
    floor.stock.api("POST", f"/work-orders/{floor.wo['id']}/schedule")
    floor.wo = floor.stock.api("GET", f"/work-orders/{floor.wo['id']}")
    signed_in(client, tenant, "operator")
    text = page(client, floor.path)
    assert "floor-materials" in text
    assert f"{floor.actions}/scan" not in form_actions(text)  # not started yet
    early = post(client, f"{floor.actions}/pull", {"lot_id": floor.lot["id"], "quantity": "5"})
    assert early.status_code == 409
    assert "pulls are taken for IN_PROCESS work only" in visible(early.text)

    floor.wo = floor.stock.api("POST", f"/work-orders/{floor.wo['id']}/start")
    signed_in(client, tenant, "viewer")
    for path in ("scan", "pull", "pull-allocated"):
        fields = {"lot_id": floor.lot["id"], "quantity": "5", "scan": "CAP-L1"}
        response = post(client, f"{floor.actions}/{path}", fields)
        assert response.status_code == 403, path
    assert floor.pulled() == "0"


def test_another_organisations_lots_cannot_be_pulled(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, floor: Floor
) -> None:
    theirs = Stock(client, other_tenant)
    their_lot = theirs.receive(theirs.cap, "500", lot_code="THEIRS-1")
    floor.start()
    signed_in(client, tenant, "operator")

    text = visible(floor.scan("THEIRS-1").text)
    assert "No lot THEIRS-1 is in stock here" in text
    response = post(client, f"{floor.actions}/pull", {"lot_id": their_lot["id"], "quantity": "5"})
    assert response.status_code == 422
    assert "Scan or type the lot again: it is not found." in visible(response.text)
    assert theirs.lot(their_lot["id"])["quantity_on_hand"] == "500"
    # nor another organisation's work order
    signed_in(client, other_tenant, "operator")
    assert floor.scan("THEIRS-1").status_code == 404
