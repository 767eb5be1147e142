"""The stock screens, through a signed-in browser session: the inventory (each item's stock),
the lots of an item, a lot's page (its facts, its ledger, QA's decisions, corrections), the
receive form, the printable label of a produced lot with its GS1-128 barcode, and a work
order's materials (allocated, pulled, short; auto-allocate and release; variance and yield).

Stock is built through the API (the tenant's bearer tokens); the pages are driven through
their forms, and the outcome is read back through the API. A refused form shows its message
and changes nothing. Every test runs on SQLite and on PostgreSQL.
"""

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from barcode.charsets import code128  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.portal.pages.inventory import gs1_128_svg, gs1_label
from tests.helpers import API, Tenant, bodies, create, db_counts
from tests.portal.conftest import signed_in
from tests.portal.test_order_pages import followed, page, post, visible

Json = dict[str, Any]
# The lots' facility is in Chicago; the organisation's first facility (the portal's clock
# elsewhere) is in Tokyo, so that a time on the lot's clock is plainly not the plant's.
ZONE = "America/Chicago"
GTIN = "00614141999996"
ROLES = ("admin", "planner", "operator", "viewer")


def hour(hours: float = 0) -> datetime:
    """A whole hour from now (plus `hours`): work planned in the near future, so that lots
    that expire within a year may go into it."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(hours=hours)


class Stock:
    """A plant with a line, a customer, caps (lot-tracked, FEFO), concentrate (new lots in
    QUARANTINE) and a finished bottle with a GTIN and a shelf life."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client, self.tenant = client, tenant
        create(client, tenant, "/facilities", bodies.facility(timezone="Asia/Tokyo"))
        self.facility = create(client, tenant, "/facilities", bodies.facility(timezone=ZONE))
        self.line = create(
            client,
            tenant,
            "/resources",
            bodies.resource(
                self.facility["id"], capacity_min=None, capacity_max=None, capacity_unit=None
            ),
        )
        self.customer = create(client, tenant, "/customers", bodies.customer(name="Healthy"))
        self.cap = self.item(name="Cap 38mm", unit="ea", precision=0, type="RAW_MATERIAL")
        self.concentrate = self.item(
            name="Apple concentrate", unit="gal", type="RAW_MATERIAL", new_lot_status="QUARANTINE"
        )
        self.bottle = self.item(
            name="16oz Apple Juice", unit="ea", precision=0, gtin=GTIN, shelf_life_days=180
        )
        self.slots = 0  # the work orders planned so far, each in an hour of its own

    def item(self, **fields: Any) -> Json:
        made: Json = create(self.client, self.tenant, "/items", bodies.item(**fields))
        return made

    def api(self, method: str, path: str, body: Any = None, role: str = "planner") -> Any:
        response = self.client.request(
            method, f"{API}{path}", json=body, headers=self.tenant.headers(role)
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def receive(self, item: Json, quantity: str, **fields: Any) -> Json:
        lot: Json = self.api(
            "POST",
            "/receipts",
            {
                "item_id": item["id"],
                "facility_id": self.facility["id"],
                "quantity": quantity,
                **fields,
            },
        )
        return lot

    def lot(self, lot_id: str) -> Json:
        found: Json = self.api("GET", f"/lots/{lot_id}")
        return found

    def work_order(
        self, materials: list[tuple[Json, str]], item: Json | None = None, quantity: str = "100"
    ) -> Json:
        """A DRAFT work order of one line item planned within the next hours (each after the
        one before), with materials."""
        self.slots += 1
        wo: Json = create(
            self.client,
            self.tenant,
            "/work-orders",
            {
                "item_id": (item or self.bottle)["id"],
                "quantity": quantity,
                "line_items": [
                    {
                        "operation": "Bottling",
                        "resource_id": self.line["id"],
                        "planned_start": hour(1 + self.slots).isoformat(),
                        "planned_end": hour(2 + self.slots).isoformat(),
                    }
                ],
            },
        )
        if materials:
            self.api(
                "PATCH",
                f"/work-orders/{wo['id']}",
                {"materials": [{"item_id": i["id"], "quantity": q} for i, q in materials]},
            )
        return wo

    def started(self, wo: Json) -> Json:
        self.api("POST", f"/work-orders/{wo['id']}/schedule")
        started: Json = self.api("POST", f"/work-orders/{wo['id']}/start")
        return started

    def materials(self, wo: Json) -> list[Json]:
        found: list[Json] = self.api("GET", f"/work-orders/{wo['id']}/materials")
        return found

    def produced_lot(self, code: str, item: Json | None = None, made: str = "24") -> Json:
        """A lot made by a work order: its last line item reported with the lot's code."""
        wo = self.started(self.work_order([], item=item))
        line = wo["line_items"][0]
        self.api(
            "POST",
            f"/work-orders/{wo['id']}/line-items/{line['id']}/report",
            {"quantity_completed": made, "lot_code": code},
        )
        found = self.api("GET", f"/lots?code={code}")["items"]
        assert len(found) == 1
        lot: Json = found[0]
        return lot


@pytest.fixture
def stock(client: TestClient, tenant: Tenant) -> Stock:
    return Stock(client, tenant)


# --- reading pages -----------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, its whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_of(text: str, needle: str) -> list[str]:
    """The cells (th and td) of the table row that holds `needle`, as visible text."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.DOTALL):
        if needle in row:
            return [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
    raise AssertionError(f"no row with {needle}")


def ledger_rows(text: str) -> list[list[str]]:
    """The rows of the lot page's ledger, in the page's order, as visible text."""
    table = part(text, r'<table class="ledger">.*?</table>')
    body = part(table, r"<tbody>.*?</tbody>")
    return [
        [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
    ]


def rows_with(text: str, needle: str) -> int:
    return sum(needle in row for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.DOTALL))


def form_actions(text: str) -> set[str]:
    """The paths the page's forms post to."""
    return set(re.findall(r'<form method="post" action="([^"]+)"', text))


def version_of(text: str, action: str) -> str:
    """The hidden version of the form that posts to `action`."""
    form = re.search(
        rf'<form method="post" action="{re.escape(action)}".*?</form>', text, re.DOTALL
    )
    assert form is not None, f"no form posting to {action}"
    found = re.search(r'name="version" value="(\d+)"', form.group(0))
    assert found is not None
    return found.group(1)


def part(text: str, pattern: str) -> str:
    """The first part of the page that matches `pattern`."""
    found = re.search(pattern, text, re.DOTALL)
    assert found is not None, f"nothing on the page matches {pattern}"
    return found.group(0)


def engine_of(app: FastAPI) -> Any:
    return app.state.engine


# --- the inventory -----------------------------------------------------------------------------


def test_every_role_sees_each_items_stock_summed_over_its_lots(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    soon = stock.receive(stock.cap, "500", expires_at=hour(24 * 10).isoformat())
    stock.receive(stock.cap, "300", expires_at=hour(24 * 365).isoformat())
    held = stock.receive(stock.cap, "50")
    stock.api("POST", f"/lots/{held['id']}/hold", {"reason": "recall"})
    stock.receive(stock.concentrate, "1000")
    wo = stock.work_order([(stock.cap, "200")])
    stock.api("POST", f"/work-orders/{wo['id']}/allocate", {"auto": True})

    for role in ROLES:
        signed_in(client, tenant, role)
        text = page(client, "/inventory")
        cap = row_of(text, f'href="/items/{stock.cap["id"]}"')
        # item, lots, on hand, allocated, available, quarantined, held, expiring
        assert cap[1:] == ["3", "850 ea", "200", "600", "0", "50", "500 in 1 lot"], role
        assert f'href="/lots?item_id={stock.cap["id"]}"' in text
        concentrate = row_of(text, f'href="/items/{stock.concentrate["id"]}"')
        assert concentrate[2] == "1,000 gal"
        assert concentrate[4:6] == ["0", "1,000"]
        assert row_of(text, f'href="/items/{stock.bottle["id"]}"')[1:3] == ["0", "0 ea"]
        # receiving is for the floor and the planners
        assert ('href="/receipts/new"' in text) is (role != "viewer")
    assert soon["status"] == "AVAILABLE"


def test_the_inventory_filters_by_item_status_and_owner(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    stock.receive(stock.cap, "500")
    stock.receive(stock.concentrate, "1000", owner_id=stock.customer["id"])
    signed_in(client, tenant, "viewer")

    by_text = page(client, "/inventory?q=cap+38")
    assert rows_with(by_text, "/items/") == 1
    assert stock.cap["sku"] in by_text

    quarantined = page(client, "/inventory?status=QUARANTINE")
    assert rows_with(quarantined, "/items/") == 1
    assert stock.concentrate["sku"] in quarantined

    theirs = page(client, f"/inventory?owner={stock.customer['id']}")
    assert rows_with(theirs, "/items/") == 1
    assert stock.concentrate["sku"] in theirs
    ours = page(client, "/inventory?owner=own")
    assert rows_with(ours, "/items/") == 1
    assert stock.cap["sku"] in ours

    refused = client.get("/inventory?status=LOST")
    assert refused.status_code == 422
    assert "Status must be one of the choices" in visible(refused.text)


def test_the_inventory_and_the_lots_are_paged(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    for n in range(3):
        stock.receive(stock.cap, str(10 + n))
    signed_in(client, tenant, "viewer")

    first = page(client, "/inventory?limit=2")
    assert rows_with(first, "/items/") == 2
    more = re.search(r'href="(/inventory\?[^"]+)" rel="next"', first)
    assert more is not None
    second = page(client, html.unescape(more.group(1)))
    assert rows_with(second, "/items/") == 1
    shown = re.findall(r'<th scope="row"><a href="/items/([^"]+)"', first + second)
    assert sorted(shown) == sorted(i["id"] for i in (stock.cap, stock.concentrate, stock.bottle))

    lots = page(client, f"/lots?item_id={stock.cap['id']}&limit=2")
    assert rows_with(lots, 'href="/lots/') == 2
    more = re.search(r'href="(/lots\?[^"]+)" rel="next"', lots)
    assert more is not None
    assert rows_with(page(client, html.unescape(more.group(1))), 'href="/lots/') == 1


def test_the_lots_of_an_item_filtered_by_status(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    kept = stock.receive(stock.cap, "500", lot_code="CAP-A")
    held = stock.receive(stock.cap, "50", lot_code="CAP-B")
    stock.api("POST", f"/lots/{held['id']}/hold", {"reason": "recall"})
    stock.receive(stock.concentrate, "1000", lot_code="CONC-A")
    signed_in(client, tenant, "operator")

    text = page(client, f"/lots?item_id={stock.cap['id']}")
    assert f"Lots of {stock.cap['sku']}" in text
    assert rows_with(text, 'href="/lots/') == 2
    assert "CONC-A" not in text
    row = row_of(text, f'href="/lots/{kept["id"]}"')
    assert row[0] == "CAP-A"
    assert row[2] == "AVAILABLE"
    assert row[7:] == ["500 ea", "0", "500"]

    only_held = page(client, f"/lots?item_id={stock.cap['id']}&status=HOLD")
    assert rows_with(only_held, 'href="/lots/') == 1
    assert "CAP-B" in only_held


# --- a lot -------------------------------------------------------------------------------------


def test_a_lot_page_shows_its_facts_and_its_ledger_on_its_facilitys_clock(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    lot = stock.receive(
        stock.cap,
        "500",
        lot_code="CAP-0042",
        received_at="2031-03-03T14:00:00Z",
        expires_at="2032-03-04T05:00:00Z",
        supplier="Closures Inc.",
        supplier_lot_code="CL-77",
        reference="BOL-1001",
    )
    stock.api("POST", f"/lots/{lot['id']}/adjust", {"quantity": "-5", "reason": "count"})
    stock.api("POST", f"/lots/{lot['id']}/adjust", {"quantity": "2", "reason": "found two"})
    signed_in(client, tenant, "viewer")

    text = visible(page(client, f"/lots/{lot['id']}"))

    facts = text_of(part(text, r'<dl class="facts">.*?</dl>'))
    assert f"Item {stock.cap['sku']} · Cap 38mm" in facts
    assert "Lot code CAP-0042" in facts
    assert "Owner our own" in facts
    assert f"Facility {stock.facility['name']} (times in {ZONE})" in facts
    assert "Origin Received" in facts
    assert "Received Mon 03 Mar 2031 08:00" in facts  # 14:00 UTC in Chicago
    assert "Expires Wed 03 Mar 2032" in facts  # 05:00 UTC is the evening before, there
    assert "Supplier Closures Inc." in facts
    assert "Supplier's lot CL-77" in facts
    assert "On hand 497 ea" in facts
    assert "Available 497 ea" in facts

    entries = stock.api("GET", f"/lots/{lot['id']}/entries")["items"]
    rows = ledger_rows(text)
    assert [r[1] for r in rows] == ["ADJUST", "ADJUST", "RECEIVE"]  # newest first
    at = datetime.fromisoformat(entries[-1]["at"]).astimezone(ZoneInfo(ZONE))
    assert rows[0] == [
        at.strftime("%d %b %Y %H:%M"),
        "ADJUST",
        "+2",
        "—",
        "—",
        "found two",
        tenant.user("planner").email,
    ]
    assert row_of(text, "BOL-1001")[1:3] == ["RECEIVE", "+500"]

    oldest = visible(page(client, f"/lots/{lot['id']}?order=oldest&limit=1"))
    assert [r[1] for r in ledger_rows(oldest)] == ["RECEIVE"]
    more = re.search(r'href="([^"]+)" rel="next"', oldest)
    assert more is not None
    second = page(client, html.unescape(more.group(1)))
    assert [r[1:3] for r in ledger_rows(second)] == [["ADJUST", "\N{MINUS SIGN}5"]]


def test_qa_decisions_show_only_to_planners_and_follow_the_lots_status(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    lot = stock.receive(stock.concentrate, "1000", lot_code="CONC-7")
    assert lot["status"] == "QUARANTINE"
    path = f"/lots/{lot['id']}"
    for role in ("operator", "viewer"):
        signed_in(client, tenant, role)
        assert form_actions(page(client, path)) == {"/logout"}, role

    signed_in(client, tenant, "planner")
    text = page(client, path)
    assert form_actions(text) == {
        "/logout",
        f"{path}/release",
        f"{path}/hold",
        f"{path}/reject",
        f"{path}/adjust",
        f"{path}/scrap",
    }
    done = post(client, f"{path}/release", {"version": version_of(text, f"{path}/release")})
    assert "Lot CONC-7 released: AVAILABLE." in visible(followed(client, done))
    assert stock.lot(lot["id"])["status"] == "AVAILABLE"

    text = page(client, path)
    assert f"{path}/release" not in form_actions(text)
    done = post(
        client,
        f"{path}/hold",
        {"version": version_of(text, f"{path}/hold"), "reason": "supplier recall"},
    )
    landed = visible(followed(client, done))
    assert "Lot CONC-7 put on HOLD." in landed
    assert "supplier recall" in landed
    assert stock.lot(lot["id"])["status"] == "HOLD"


def test_a_refused_lot_action_shows_its_message_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    lot = stock.receive(stock.cap, "500", lot_code="CAP-9")
    path = f"/lots/{lot['id']}"
    signed_in(client, tenant, "planner")
    version = version_of(page(client, path), f"{path}/hold")
    engine = engine_of(app)

    def refused(action: str, data: dict[str, str], status: int) -> str:
        before = db_counts(engine), stock.lot(lot["id"])
        response = post(client, f"{path}/{action}", {"version": version, **data})
        assert response.status_code == status, response.text
        assert (db_counts(engine), stock.lot(lot["id"])) == before
        text = visible(response.text)
        assert "Nothing was changed." in text
        return text

    # an AVAILABLE lot is not released
    text = refused("release", {}, 409)
    assert "Lot CAP-9 is AVAILABLE; it cannot be released. Allowed now: hold, reject." in text
    # a hold needs its reason
    text = refused("hold", {}, 422)
    assert "say why the lot is" in text
    # no more is scrapped than is on hand
    text = refused("scrap", {"quantity": "600", "reason": "broken"}, 409)
    assert "Lot CAP-9 has 500 ea on hand; 600 ea cannot be taken from it." in text
    # an adjustment has its reason, and the field says so
    text = refused("adjust", {"quantity": "-5"}, 422)
    assert re.search(r'id="adjust-reason"[^>]*aria-invalid="true"', text)
    assert "Reason is required" in text
    # what was typed is kept
    assert re.search(r'id="adjust-quantity"[^>]*value="-5"', text)
    # a stale form
    stock.api("POST", f"{path}/adjust", {"quantity": "1", "reason": "x"})
    before = stock.lot(lot["id"])
    stale = post(client, f"{path}/scrap", {"version": version, "quantity": "1", "reason": "x"})
    assert stale.status_code == 412
    assert "someone changed it since you read it" in visible(stale.text)
    assert stock.lot(lot["id"]) == before
    # and a role that may not
    signed_in(client, tenant, "operator")
    forbidden = post(client, f"{path}/scrap", {"quantity": "1", "reason": "x"})
    assert forbidden.status_code == 403
    assert stock.lot(lot["id"]) == before


def test_adjusting_and_scrapping_post_to_the_ledger(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    lot = stock.receive(stock.cap, "500", lot_code="CAP-3")
    path = f"/lots/{lot['id']}"
    signed_in(client, tenant, "planner")

    text = page(client, path)
    done = post(
        client,
        f"{path}/adjust",
        {"version": version_of(text, f"{path}/adjust"), "quantity": "-5", "reason": "recount"},
    )
    landed = visible(followed(client, done))
    assert "Lot CAP-3 adjusted by \N{MINUS SIGN}5 ea: 495 ea on hand." in landed
    text = page(client, path)
    done = post(
        client,
        f"{path}/scrap",
        {
            "version": version_of(text, f"{path}/scrap"),
            "quantity": "95",
            "reason": "crushed",
            "reference": "NCR-12",
        },
    )
    landed = visible(followed(client, done))
    assert "95 ea of lot CAP-3 scrapped: 400 ea on hand." in landed
    assert row_of(landed, "NCR-12")[1:3] == ["SCRAP", "\N{MINUS SIGN}95"]
    assert stock.lot(lot["id"])["quantity_on_hand"] == "400"


# --- receiving ---------------------------------------------------------------------------------


def test_the_receive_form_makes_a_lot_and_shows_it(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    signed_in(client, tenant, "operator")
    form = page(client, f"/receipts/new?item_id={stock.bottle['id']}")
    assert f'<option value="{stock.bottle["id"]}" selected>' in form

    done = post(
        client,
        "/receipts/new",
        {
            "item_id": stock.bottle["id"],
            "facility_id": stock.facility["id"],
            "quantity": "240",
            "lot_code": "",
            "expires_on": "",
            "supplier": "Co-pack East",
            "supplier_lot_code": "E-1",
            "owner_id": stock.customer["id"],
            "reference": "BOL-7",
        },
    )
    assert done.status_code == 303
    lot_id = done.headers["location"].removeprefix("/lots/")
    lot = stock.lot(lot_id)
    # the code by the organisation's pattern, the expiry from the item's shelf life
    assert lot["code"].startswith(f"{stock.bottle['sku']}-")
    assert lot["code"].endswith("-1")
    made = datetime.fromisoformat(lot["made_at"])
    assert datetime.fromisoformat(lot["expires_at"]) == made + timedelta(days=180)
    assert lot["owner_name"] == "Healthy"
    assert lot["supplier"] == "Co-pack East"
    landed = visible(page(client, done.headers["location"]))
    assert f"Received 240 ea into lot {lot['code']}." in landed
    assert "BOL-7" in landed

    # an expiry date typed is that day on the facility's clock, to its end
    done = post(
        client,
        "/receipts/new",
        {
            "item_id": stock.cap["id"],
            "facility_id": stock.facility["id"],
            "quantity": "10",
            "lot_code": "CAP-77",
            "expires_on": "2031-12-31",
        },
    )
    lot = stock.lot(done.headers["location"].removeprefix("/lots/"))
    expires = datetime.fromisoformat(lot["expires_at"]).astimezone(ZoneInfo(ZONE))
    assert (expires.date().isoformat(), expires.hour) == ("2031-12-31", 23)


def test_a_refused_receipt_shows_its_errors_beside_its_fields_and_makes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    stock.receive(stock.cap, "10", lot_code="CAP-1")
    signed_in(client, tenant, "planner")
    before = db_counts(engine_of(app))

    response = post(
        client,
        "/receipts/new",
        {"item_id": "", "facility_id": stock.facility["id"], "quantity": "0", "supplier": "Acme"},
    )
    assert response.status_code == 422
    text = visible(response.text)
    assert re.search(r'id="f-item_id"[^>]*aria-invalid="true"', text)
    assert "Item is required" in text
    assert "Quantity must be more than 0" in text
    assert 'value="Acme"' in text  # what was typed is kept

    taken = post(
        client,
        "/receipts/new",
        {"item_id": stock.cap["id"], "facility_id": stock.facility["id"], "quantity": "5",
         "lot_code": "CAP-1"},
    )  # fmt: skip
    assert taken.status_code == 409
    assert f"{stock.cap['sku']} already has a lot CAP-1" in visible(taken.text)

    bad_day = post(
        client,
        "/receipts/new",
        {"item_id": stock.cap["id"], "facility_id": stock.facility["id"], "quantity": "5",
         "expires_on": "2031-02-30"},
    )  # fmt: skip
    assert bad_day.status_code == 422
    assert "Expiry must be a date" in visible(bad_day.text)
    assert db_counts(engine_of(app)) == before


def test_the_receive_form_is_for_the_roles_that_receive(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    signed_in(client, tenant, "viewer")
    assert client.get("/receipts/new").status_code == 403
    refused = post(
        client,
        "/receipts/new",
        {"item_id": stock.cap["id"], "facility_id": stock.facility["id"], "quantity": "5"},
    )
    assert refused.status_code == 403
    assert stock.api("GET", "/lots")["items"] == []
    # the form carries the session's CSRF token: a post without it is refused
    signed_in(client, tenant, "operator")
    forged = post(
        client,
        "/receipts/new",
        {"item_id": stock.cap["id"], "facility_id": stock.facility["id"], "quantity": "5"},
        csrf=False,
    )
    assert forged.status_code == 403
    assert stock.api("GET", "/lots")["items"] == []


# --- the label of a produced lot ---------------------------------------------------------------


def _code128_patterns() -> dict[str, int]:
    """Code 128's patterns of modules (1 a module of ink, 0 of space), to their code values."""
    return {pattern: value for value, pattern in enumerate(code128.CODES)}


def decoded(svg: str) -> list[int]:
    """The code values of a drawn Code 128 symbol, read from its bars alone: each rect a bar
    of ink, each narrowest bar one module, the gaps between them the spaces."""
    bars = [
        (float(x), float(w))
        for x, w in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    module = min(w for _, w in bars)
    modules = ""
    at = bars[0][0]
    for x, w in bars:
        modules += "0" * round((x - at) / module) + "1" * round(w / module)
        at = x + w
    patterns = _code128_patterns()
    values = []
    while len(modules) >= 11:
        chunk = modules[:11]
        if chunk == "11000111010":  # STOP (then its final bar)
            break
        values.append(patterns[chunk])
        modules = modules[11:]
    return values


def read_code128(values: list[int]) -> str:
    """The data of Code 128 code values (the last one the check value, which must match),
    FNC1 written as "\xf1"."""
    *data, check = values
    assert check == (data[0] + sum(i * v for i, v in enumerate(data[1:], start=1))) % 103
    # the code values that change the code set, in each set
    switch = {"A": {99: "C", 100: "B"}, "B": {99: "C", 101: "A"}, "C": {100: "B", 101: "A"}}
    charset = {103: "A", 104: "B", 105: "C"}[data[0]]
    out = ""
    for v in data[1:]:
        if v == 102:
            out += "\xf1"
        elif v in switch[charset]:
            charset = switch[charset][v]
        elif charset == "C":
            out += f"{v:02d}"
        elif charset == "B":
            out += chr(v + 32)
        else:
            out += chr(v + 32) if v < 64 else chr(v - 64)
    return out


def test_a_produced_lot_prints_a_label_with_a_gs1_128_barcode(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    lot = stock.produced_lot("B-2401")
    signed_in(client, tenant, "operator")
    assert f'href="/lots/{lot["id"]}/label"' in page(client, f"/lots/{lot['id']}")

    text = visible(page(client, f"/lots/{lot['id']}/label"))

    expires = datetime.fromisoformat(lot["expires_at"]).astimezone(ZoneInfo(ZONE)).date()
    label = text_of(part(text, r'<article class="lot-label".*?</article>'))
    assert "16oz Apple Juice" in label
    assert stock.bottle["sku"] in label
    assert "Lot B-2401" in label
    assert f"Expiry {expires:%d %b %Y}" in label
    assert "Quantity 24 ea" in label
    assert f"GTIN {GTIN}" in label
    hri = f"(01){GTIN}(17){expires:%y%m%d}(10)B-2401"
    assert hri in label
    # the bars say it too, read back from the SVG: GS1-128 is Code 128 that starts with FNC1
    svg = part(text, r"<svg[^>]*gs1-barcode.*?</svg>")
    assert read_code128(decoded(svg)) == f"\xf101{GTIN}17{expires:%y%m%d}10B-2401"


def test_a_label_without_gtin_carries_the_lot_and_expiry_and_says_so(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    juice = stock.item(name="Apple juice", unit="gal", shelf_life_days=30)
    lot = stock.produced_lot("J-1", item=juice)
    signed_in(client, tenant, "viewer")

    text = visible(page(client, f"/lots/{lot['id']}/label"))

    expires = datetime.fromisoformat(lot["expires_at"]).astimezone(ZoneInfo(ZONE)).date()
    assert "The item has no GTIN: the barcode carries the lot and expiry only" in text
    assert text_of(part(text, r'<figcaption class="hri">.*?</figcaption>')) == (
        f"(17){expires:%y%m%d}(10)J-1"
    )


def test_only_a_produced_lot_has_a_label(client: TestClient, tenant: Tenant, stock: Stock) -> None:
    lot = stock.receive(stock.cap, "10", lot_code="CAP-5")
    signed_in(client, tenant, "planner")
    assert f"/lots/{lot['id']}/label" not in page(client, f"/lots/{lot['id']}")
    response = client.get(f"/lots/{lot['id']}/label")
    assert response.status_code == 409
    assert "labels are printed for the lots we make" in visible(response.text)
    assert "<svg" not in response.text


def test_the_gs1_label_leaves_out_what_gs1_cannot_carry() -> None:
    long_code = "L" * 21
    label = gs1_label(GTIN, long_code, None)
    assert label.hri == f"(01){GTIN}"
    assert any("cannot be a GS1 batch number" in n for n in label.notes)
    assert any("no expiry date" in n for n in label.notes)
    assert gs1_label(None, None, None).svg is None
    # a variable-length element string that is not last ends with FNC1
    assert read_code128(decoded(str(gs1_128_svg("10AB\xf117311231")))) == "\xf110AB\xf117311231"


# --- a work order's materials ------------------------------------------------------------------


def test_a_work_order_shows_its_materials_and_a_planner_allocates_them(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    first = stock.receive(
        stock.cap, "500", lot_code="CAP-EARLY", expires_at=hour(24 * 60).isoformat()
    )
    stock.receive(stock.cap, "300", lot_code="CAP-LATE", expires_at=hour(24 * 90).isoformat())
    wo = stock.work_order([(stock.cap, "1000")])
    path = f"/work-orders/{wo['id']}"

    for role in ("operator", "viewer"):
        signed_in(client, tenant, role)
        text = visible(page(client, path))
        assert "Short 1,000 ea of " + stock.cap["sku"] in text
        assert not any("/materials/" in a for a in form_actions(text)), role

    signed_in(client, tenant, "planner")
    text = page(client, path)
    done = post(
        client,
        f"{path}/materials/allocate",
        {"version": version_of(text, f"{path}/materials/allocate")},
    )
    landed = visible(followed(client, done))
    assert f"still short 200 ea of {stock.cap['sku']}." in landed
    assert "Short 200 ea of " + stock.cap["sku"] in landed
    cells = row_of(landed, f'href="/items/{stock.cap["id"]}"')
    assert cells[1] == "1,000 ea"
    assert cells[2].startswith("800 ea CAP-EARLY 500 exp.")
    assert "CAP-LATE 300" in cells[2]
    assert cells[3:5] == ["0", "200"]

    material = stock.materials(wo)[0]
    allocation = next(a for a in material["allocations"] if a["lot_code"] == "CAP-LATE")
    release = f"{path}/materials/allocations/{allocation['id']}/release"
    done = post(client, release, {"version": version_of(page(client, path), release)})
    landed = visible(followed(client, done))
    assert "Allocation released" in landed
    assert "Short 500 ea of " + stock.cap["sku"] in landed
    assert stock.materials(wo)[0]["allocated"] == "500"
    assert first["id"] in landed


def test_a_refused_allocation_shows_its_message_and_changes_nothing(
    app: FastAPI, client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    stock.receive(stock.cap, "500")
    wo = stock.work_order([(stock.cap, "100")])
    path = f"/work-orders/{wo['id']}"
    signed_in(client, tenant, "planner")
    version = version_of(page(client, path), f"{path}/materials/allocate")
    stock.started(wo)  # meanwhile, it started
    before = db_counts(engine_of(app))

    response = post(client, f"{path}/materials/allocate", {"version": version})

    assert response.status_code == 409
    assert "its allocations no longer change" in visible(response.text)
    assert db_counts(engine_of(app)) == before
    # and the page offers neither button once the work is in process
    assert not any("/materials/" in a for a in form_actions(page(client, path)))


def test_a_completed_work_order_shows_its_variance_and_yield(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    stock.receive(stock.cap, "500", lot_code="CAP-V")
    stock.receive(stock.concentrate, "100", lot_code="CONC-V")
    conc = stock.api("GET", "/lots?code=CONC-V")["items"][0]
    stock.api("POST", f"/lots/{conc['id']}/release")
    wo = stock.started(stock.work_order([(stock.cap, "100"), (stock.concentrate, "10")]))
    stock.api("POST", f"/work-orders/{wo['id']}/pulls", {"lot_code": "CAP-V", "quantity": "110"})
    stock.api("POST", f"/work-orders/{wo['id']}/pulls", {"lot_code": "CONC-V", "quantity": "8"})
    line = wo["line_items"][0]
    stock.api(
        "POST",
        f"/work-orders/{wo['id']}/line-items/{line['id']}/report",
        {"quantity_completed": "80", "done": True},
    )
    stock.api("POST", f"/work-orders/{wo['id']}/complete")
    signed_in(client, tenant, "viewer")

    text = visible(page(client, f"/work-orders/{wo['id']}"))

    cap = row_of(text, f'href="/items/{stock.cap["id"]}"')
    # required 100 for 100 planned; 80 made: 80 expected, 110 pulled
    assert cap[3].startswith("110")
    assert cap[5:] == ["80", "+30", "+37.5 % flagged"]
    conc_row = row_of(text, f'href="/items/{stock.concentrate["id"]}"')
    assert conc_row[5:] == ["8", "0", "0 %"]
    assert "Yield: 80 % (80 produced of 100 ea planned)" in text_of(text)
    assert 'class="shortages"' not in text  # a finished work order is short of nothing


# --- the trace ---------------------------------------------------------------------------------


def genealogy(stock: Stock) -> dict[str, Json]:
    """Concentrate received from a supplier, pressed into juice, the juice bottled: three
    lots and two work orders, each work order pulling what it used and making its lot."""
    juice = stock.item(name="Apple juice", unit="gal", type="WORK_IN_PROGRESS", shelf_life_days=30)
    conc = stock.receive(stock.concentrate, "100", lot_code="CONC-1", supplier="Orchard Co.")
    stock.api("POST", f"/lots/{conc['id']}/release")

    def run(item: Json, quantity: str, used: Json, lot_code: str, pulled: str, made: str) -> Json:
        material = stock.concentrate if used is conc else juice
        wo = stock.started(stock.work_order([(material, pulled)], item=item, quantity=quantity))
        stock.api(
            "POST", f"/work-orders/{wo['id']}/pulls", {"lot_id": used["id"], "quantity": pulled}
        )
        line = wo["line_items"][0]
        stock.api(
            "POST",
            f"/work-orders/{wo['id']}/line-items/{line['id']}/report",
            {"quantity_completed": made, "lot_code": lot_code},
        )
        return wo

    pressing = run(juice, "100", conc, "JUICE-1", "20", "100")
    juice_lot = stock.api("GET", "/lots?code=JUICE-1")["items"][0]
    bottling = run(stock.bottle, "800", juice_lot, "BTL-1", "100", "800")
    bottles = stock.api("GET", "/lots?code=BTL-1")["items"][0]
    return {
        "conc": conc,
        "pressing": pressing,
        "juice": juice_lot,
        "bottling": bottling,
        "bottles": bottles,
    }


def test_a_lot_page_draws_its_trace_both_ways(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    g = genealogy(stock)
    signed_in(client, tenant, "viewer")

    text = visible(page(client, f"/lots/{g['juice']['id']}"))

    svg = part(text, r'<svg class="trace".*?</svg>')
    boxes = {
        href: float(x)
        for href, x in re.findall(
            r'<a href="([^"]+)" class="node[^"]*"[^>]*>\s*<title>[^<]*</title>\s*'
            r'<rect x="([\d.]+)"',
            svg,
        )
    }
    # columns by steps from the lot, what went into it on the left, what it went into right
    order = [
        f"/lots/{g['conc']['id']}",
        f"/work-orders/{g['pressing']['id']}",
        f"/lots/{g['juice']['id']}",
        f"/work-orders/{g['bottling']['id']}",
        f"/lots/{g['bottles']['id']}",
    ]
    assert sorted(boxes, key=lambda href: boxes[href]) == order
    assert re.search(rf'<a href="/lots/{g["juice"]["id"]}" class="node lot lot-DEPLETED root"', svg)
    # (the juice was all bottled) the boxes say what they are, and the arrows how much flowed
    assert "CONC-1" in svg
    assert "Orchard Co." in svg  # the received lot's supplier
    assert g["pressing"]["number"] in svg
    labels = re.findall(r'<text x="[\d.]+" y="[\d.]+" text-anchor="middle">([^<]+)</text>', svg)
    assert sorted(labels) == ["100 gal", "100 gal", "20 gal", "800 ea"]
    # and the same as a table
    table = part(text, r"<summary>The trace as a table</summary>.*?</table>")
    assert rows_with(table, "/lots/") == 4


def test_the_trace_is_laid_out_in_columns_with_few_crossings() -> None:
    from taktline.portal.charts import TraceEdgeIn, TraceNodeIn, trace_graph

    def node(key: str, column: int) -> TraceNodeIn:
        return TraceNodeIn(key, column, (key, "item", "status"), key, f"/{key}", "lot")

    # the root made by two work orders; the second's input listed first
    graph = trace_graph(
        [node("root", 0), node("wo-a", -1), node("wo-b", -1), node("in-b", -2), node("in-a", -2)],
        [
            TraceEdgeIn("wo-a", "root", "1"),
            TraceEdgeIn("wo-b", "root", "2"),
            TraceEdgeIn("in-a", "wo-a", "3"),
            TraceEdgeIn("in-b", "wo-b", "4"),
            TraceEdgeIn("in-a", "nowhere", "5"),  # an end not drawn: no edge
        ],
    )
    at = {n.key: (n.x, n.y) for n in graph.nodes}
    assert at["in-a"][0] < at["wo-a"][0] < at["root"][0]
    # each input stands level with the work order it went into
    assert at["in-a"][1] == at["wo-a"][1]
    assert at["in-b"][1] == at["wo-b"][1]
    assert len(graph.edges) == 4
    assert all(e.path.startswith("M ") for e in graph.edges)
    assert [c.text for c in graph.columns] == ["from · 1 back", "made by", "this lot"]
    assert graph.width == 8 * 2 + 3 * 176 + 2 * 72


# --- tenancy -----------------------------------------------------------------------------------


def test_another_organisations_lots_are_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, stock: Stock
) -> None:
    lot = stock.produced_lot("B-9")
    theirs = Stock(client, other_tenant)
    signed_in(client, other_tenant, "planner")

    for path in (f"/lots/{lot['id']}", f"/lots/{lot['id']}/label"):
        assert client.get(path).status_code == 404, path
    for action in ("hold", "adjust", "scrap"):
        response = post(client, f"/lots/{lot['id']}/{action}", {"reason": "x", "quantity": "1"})
        assert response.status_code == 404, action
    # their lists show nothing of ours, not even an item's name given by its id
    listed = page(client, f"/lots?item_id={stock.bottle['id']}")
    assert "B-9" not in listed
    assert stock.bottle["sku"] not in listed
    assert stock.bottle["sku"] not in page(client, "/inventory")
    assert theirs.cap["sku"] in page(client, "/inventory")
    assert stock.lot(lot["id"])["quantity_on_hand"] == "24"
