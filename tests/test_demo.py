"""The Sunshine Beverages demo (taktline.demo), on both databases, through the API as a user
sees it: the bills of material of its apple juice, one ACTIVE version each; the production
order of 10,000 bottles generated from them (two bottling runs, each waiting for its batch of
juice, with their materials), scheduled from tomorrow 06:00 at the plant in the order the
work feeds itself; every operation takes time, so the org-wide schedule preview works; and
loading it again adds nothing."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline import demo
from taktline.db import transaction
from tests.helpers import API, Tenant, db_counts, list_all

Json = dict[str, Any]


@pytest.fixture
def loaded(app: FastAPI, tenant: Tenant) -> Tenant:
    with app.state.session_factory() as session, transaction(session):
        demo.load(session, tenant.name)
    return tenant


def get(client: TestClient, tenant: Tenant, path: str, **params: Any) -> Any:
    response = client.get(f"{API}{path}", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_boms_are_the_juice_the_bottle_and_the_case_each_with_one_active_version(
    client: TestClient, loaded: Tenant
) -> None:
    items = {i["id"]: i for i in list_all(client, loaded, "/items")}
    sku = {i["sku"]: i for i in items.values()}
    boms = {b["code"]: b for b in list_all(client, loaded, "/boms")}

    assert {code: (b["type"], items[b["item_id"]]["sku"]) for code, b in boms.items()} == {
        "BOM-AJ-JUICE": ("FORMULA", "AJ-JUICE"),
        "BOM-AJ-16OZ": ("PACKAGING", "AJ-16OZ"),
        "BOM-AJ-16OZ-C24": ("SECONDARY_PACKAGING", "AJ-16OZ-C24"),
    }
    for bom in boms.values():
        assert [(v["number"], v["status"]) for v in bom["versions"]] == [(1, "ACTIVE")]

    def content(code: str) -> tuple[Json, list[tuple[str, str, str]], list[tuple[str, str]]]:
        version = get(client, loaded, f"/boms/{boms[code]['id']}/versions/1")
        inputs = [
            (items[i["item_id"]]["sku"], i["quantity"], i["loss_percent"])
            for i in version["inputs"]
        ]
        routing = [(op["operation"], op["resource_id"]) for op in version["operations"]]
        return version, inputs, routing

    resources = {r["code"]: r for r in list_all(client, loaded, "/resources")}
    juice, juice_inputs, juice_routing = content("BOM-AJ-JUICE")
    assert (juice["batch_quantity"], juice["batch_unit"]) == ("1000", "gal")
    assert juice_inputs == [
        ("AJC-70", "160", "0"),
        ("WATER-F", "840", "0"),
        ("ASC-ACID", "1.2", "0"),
    ]
    assert juice_routing == [("Blending", resources["CP1"]["id"])]
    _, bottle_inputs, bottle_routing = content("BOM-AJ-16OZ")
    assert bottle_inputs == [
        ("AJ-JUICE", "0.125", "2"),
        ("BTL-PET-16", "1", "0"),
        ("CAP-38", "1", "0"),
        ("LBL-AJ-16", "1", "0"),
    ]
    assert bottle_routing == [
        ("Bottling", resources["BL1"]["id"]),
        ("Labeling", resources["LB1"]["id"]),
        ("Casing", resources["CS1"]["id"]),
    ]
    _, case_inputs, _ = content("BOM-AJ-16OZ-C24")
    assert case_inputs == [("AJ-16OZ", "24", "0"), ("CTN-24", "1", "0")]
    # each resource takes its capacity in the unit of the BOM it serves
    assert (resources["CP1"]["capacity_max"], resources["CP1"]["capacity_unit"]) == ("1000", "gal")
    assert (resources["BL1"]["capacity_max"], resources["BL1"]["capacity_unit"]) == (
        "8000",
        sku["AJ-16OZ"]["unit"],
    )
    assert (sku["AJ-16OZ"]["unit"], sku["AJ-16OZ"]["precision"]) == ("bottle", 0)
    assert sku["AJ-JUICE"]["type"] == "WORK_IN_PROGRESS"
    assert sku["AJC-70"]["type"] == "RAW_MATERIAL"


def test_the_demo_order_is_generated_from_the_boms_and_scheduled_as_the_work_feeds_itself(
    client: TestClient, loaded: Tenant
) -> None:
    zone = ZoneInfo(demo.PLANT_ZONE)
    items = {i["id"]: i["sku"] for i in list_all(client, loaded, "/items")}
    (po,) = get(client, loaded, "/production-orders", q=demo.ORDER_REFERENCE)["items"]
    customers = {c["id"]: c["name"] for c in list_all(client, loaded, "/customers")}
    assert (po["state"], customers[po["owner_id"]]) == ("SCHEDULED", "Healthy Juices Inc.")
    assert [(items[i["item_id"]], i["quantity"], i["unit"]) for i in po["items"]] == [
        ("AJ-16OZ", "10000", "bottle")
    ]
    due = datetime.fromisoformat(po["due_date"]).astimezone(zone)
    assert (due.month, due.day, due.time()) == (12, 12, time(17))
    wos = {
        wo["number"]: wo
        for wo in list_all(client, loaded, "/work-orders", production_order_id=po["id"])
    }

    # two even bottling runs, each fed by its own batch of juice
    assert {n: (items[wo["item_id"]], wo["quantity"], wo["unit"]) for n, wo in wos.items()} == {
        "WO-000001": ("AJ-16OZ", "5000", "bottle"),
        "WO-000002": ("AJ-16OZ", "5000", "bottle"),
        "WO-000003": ("AJ-JUICE", "637.5", "gal"),
        "WO-000004": ("AJ-JUICE", "637.5", "gal"),
    }
    ids = {wo["id"]: n for n, wo in wos.items()}
    assert {n: [ids[d] for d in wo["depends_on"]] for n, wo in wos.items()} == {
        "WO-000001": ["WO-000003"],
        "WO-000002": ["WO-000004"],
        "WO-000003": [],
        "WO-000004": [],
    }
    assert all(wo["bom_version_id"] for wo in wos.values())

    def materials(number: str) -> list[tuple[str, str, str]]:
        found = get(client, loaded, f"/work-orders/{wos[number]['id']}/materials")
        assert all(m["bom_input_id"] for m in found)
        return [(items[m["item_id"]], m["quantity"], m["unit"]) for m in found]

    assert materials("WO-000001") == [
        ("AJ-JUICE", "637.5", "gal"),  # 5,000 x 0.125 gal + 2 %
        ("BTL-PET-16", "5000", "ea"),
        ("CAP-38", "5000", "ea"),
        ("LBL-AJ-16", "5000", "ea"),
    ]
    assert materials("WO-000003") == [
        ("AJC-70", "102", "gal"),
        ("WATER-F", "535.5", "gal"),
        ("ASC-ACID", "0.765", "kg"),
    ]

    def window(number: str) -> list[tuple[str, datetime, datetime]]:
        return [
            (
                li["operation"],
                datetime.fromisoformat(li["planned_start"]).astimezone(zone),
                datetime.fromisoformat(li["planned_end"]).astimezone(zone),
            )
            for li in wos[number]["line_items"]
        ]

    tomorrow = demo.first_day()

    def at(hour: int, minute: int) -> datetime:
        return datetime.combine(tomorrow, time(hour, minute), tzinfo=zone)

    assert all(wo["state"] == "SCHEDULED" for wo in wos.values())
    # the press makes the batches back to back from 06:00 (30 min + 0.16 min a gallon) ...
    assert window("WO-000003") == [("Blending", at(6, 0), at(8, 12))]
    assert window("WO-000004") == [("Blending", at(8, 12), at(10, 24))]
    # ... and each bottling run starts when its batch is made, never before
    assert window("WO-000001") == [
        ("Bottling", at(8, 12), at(9, 42)),
        ("Labeling", at(9, 42), at(10, 47)),
        ("Casing", at(10, 47), at(11, 37)),
    ]
    assert window("WO-000002") == [
        ("Bottling", at(10, 24), at(11, 54)),
        ("Labeling", at(11, 54), at(12, 59)),
        ("Casing", at(12, 59), at(13, 49)),
    ]


def test_every_demo_operation_takes_time_so_the_org_wide_preview_plans_all_of_it(
    client: TestClient, loaded: Tenant
) -> None:
    wos = list_all(client, loaded, "/work-orders")
    for wo in wos:
        for li in wo["line_items"]:
            assert Decimal(li["setup_minutes"]) + Decimal(li["run_minutes_per_unit"]) > 0, li

    previewed = client.post(
        f"{API}/schedule/preview",
        json={"time_limit_seconds": 1},
        headers=loaded.headers("planner"),
    )

    assert previewed.status_code == 200, previewed.text
    summary = previewed.json()["summary"]
    assert (summary["work_orders"], summary["line_items"], summary["late"]) == (4, 8, 0)


def test_loading_the_demo_again_adds_nothing(
    app: FastAPI, client: TestClient, loaded: Tenant
) -> None:
    before = db_counts(app.state.engine)

    with app.state.session_factory() as session, transaction(session):
        demo.load(session, loaded.name)

    assert db_counts(app.state.engine) == before
    assert len(list_all(client, loaded, "/production-orders")) == 1


def test_the_demo_order_starts_on_the_plants_next_working_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zone = ZoneInfo(demo.PLANT_ZONE)

    def today_is(day: date) -> date:
        noon = datetime.combine(day, time(12), tzinfo=zone)
        monkeypatch.setattr(demo, "utcnow", lambda: noon.astimezone(UTC))
        return demo.first_day()

    assert today_is(date(2026, 12, 1)) == date(2026, 12, 2)  # a Tuesday: Wednesday
    assert today_is(date(2026, 12, 4)) == date(2026, 12, 5)  # a Friday: Saturday's shift
    assert today_is(date(2026, 12, 5)) == date(2026, 12, 7)  # a Saturday: Monday, not Sunday


# --- stock ---------------------------------------------------------------------------------


def test_the_demo_lots_are_received_with_their_suppliers_owners_expiries_and_qa_status(
    client: TestClient, loaded: Tenant
) -> None:
    items = {i["sku"]: i for i in list_all(client, loaded, "/items")}
    lots = {(lot["item_sku"], lot["code"]): lot for lot in list_all(client, loaded, "/lots")}

    assert {
        key: (lot["status"], lot["owner_name"], lot["quantity_on_hand"], lot["supplier"])
        for key, lot in lots.items()
    } == {
        ("AJC-70", "AJC70-L001"): ("AVAILABLE", None, "110", "Cascade Orchards Co-op"),
        ("AJC-70", "AJC70-HJ01"): (
            "AVAILABLE",
            "Healthy Juices Inc.",
            "165",
            "Healthy Juices Inc.",
        ),
        ("AJC-70", "AJC70-L002"): ("QUARANTINE", None, "275", "Cascade Orchards Co-op"),
        # (a balance has no supplier of its own: each receipt's is in its event)
        ("WATER-F", None): ("AVAILABLE", None, "2000", None),
        ("ASC-ACID", "ASC-L001"): ("AVAILABLE", None, "1", "Nutra Ingredients Ltd."),
        ("BTL-PET-16", "BTL16-L001"): ("AVAILABLE", None, "6000", "ClearForm Packaging"),
        ("BTL-PET-16", "BTL16-L002"): ("AVAILABLE", None, "6000", "ClearForm Packaging"),
        ("CAP-38", "CAP38-L001"): ("AVAILABLE", None, "5000", "Summit Closures"),
        ("CAP-38", "CAP38-L002"): ("AVAILABLE", None, "2200", "Summit Closures"),
        ("LBL-AJ-16", "LBLAJ-L001"): ("AVAILABLE", None, "3500", "PrintWell Labels"),
        ("CTN-24", None): ("AVAILABLE", None, "1200", None),
    }
    # QA has yet to test the newest tote of concentrate: release is what it may do with it
    waiting = lots[("AJC-70", "AJC70-L002")]
    assert waiting["allowed_actions"] == ["release", "hold", "reject"]
    assert waiting["supplier_lot_code"] == "CO-78140"
    # every lot came in at 09:00 at the plant and expires its item's shelf life after; a
    # balance of an item that is not lot-tracked never expires
    zone = ZoneInfo(demo.PLANT_ZONE)
    for (sku, code), lot in lots.items():
        if code is None:
            assert (items[sku]["tracking"], lot["expires_at"]) == ("NONE", None)
            continue
        made = datetime.fromisoformat(lot["made_at"])
        assert made.astimezone(zone).time() == time(9), lot
        days = items[sku]["shelf_life_days"]
        assert datetime.fromisoformat(lot["expires_at"]) - made == timedelta(days=days)
    # the oldest concentrate expires within the month: FEFO takes it first
    oldest = datetime.fromisoformat(lots[("AJC-70", "AJC70-L001")]["expires_at"])
    assert timedelta(0) < oldest - datetime.now(UTC) < timedelta(days=30)
    # food by expiry, packaging by age; concentrate waits for QA; GTINs on what is sold
    assert {
        sku: (i["tracking"], i["allocation_strategy"], i["new_lot_status"], i["gtin"])
        for sku, i in items.items()
    } == {
        "AJ-16OZ": ("LOT", "FEFO", "AVAILABLE", "00061414100014"),
        "AJ-16OZ-C24": ("LOT", "FEFO", "AVAILABLE", "10061414100011"),
        "AJ-JUICE": ("LOT", "FEFO", "AVAILABLE", None),
        "AJC-70": ("LOT", "FEFO", "QUARANTINE", None),
        "WATER-F": ("NONE", "FEFO", "AVAILABLE", None),
        "ASC-ACID": ("LOT", "FEFO", "AVAILABLE", None),
        "BTL-PET-16": ("LOT", "FIFO", "AVAILABLE", None),
        "CAP-38": ("LOT", "FIFO", "AVAILABLE", None),
        "LBL-AJ-16": ("LOT", "FIFO", "AVAILABLE", None),
        "CTN-24": ("NONE", "FIFO", "AVAILABLE", None),
    }


def _numbers(client: TestClient, tenant: Tenant) -> dict[str, str]:
    return {wo["id"]: wo["number"] for wo in list_all(client, tenant, "/work-orders")}


def plain(value: str) -> str:
    """A quantity as the API may write it (1.530, 1275.0) in its shortest form (1.53, 1275)."""
    return f"{Decimal(value).normalize():f}"


def test_the_demo_orders_shortages_are_its_labels_caps_and_ascorbic_acid(
    client: TestClient, loaded: Tenant
) -> None:
    numbers = _numbers(client, loaded)

    found = get(client, loaded, "/materials/shortages")

    assert {
        s["item_sku"]: (
            plain(s["required"]),
            plain(s["available"]),
            plain(s["short"]),
            numbers[s["first_waiting_work_order_id"]],
        )
        for s in found
    } == {
        # 3,500 labels for two runs of 5,000: the first run already waits
        "LBL-AJ-16": ("10000", "0", "6500", "WO-000001"),
        # 7,200 caps: the first run has its 5,000, the second only 2,200
        "CAP-38": ("10000", "0", "2800", "WO-000002"),
        # 1 kg of ascorbic acid: the first batch takes 0.765, the second gets 0.235
        "ASC-ACID": ("1.53", "0", "0.53", "WO-000004"),
        # (none of the juice is in stock, but WO-000003 and WO-000004 make it before the
        # bottling runs that need it start: it is not short)
    }
    # the worst first
    assert [s["item_sku"] for s in found] == ["LBL-AJ-16", "CAP-38", "ASC-ACID"]
    assert all(s["first_waiting_work_order"] == numbers[s["first_waiting_work_order_id"]]
               for s in found)  # fmt: skip


Panel = dict[str, tuple[str, str, list[tuple[str | None, str]]]]


def test_the_demo_orders_materials_are_allocated_first_expiry_first_and_show_what_is_short(
    client: TestClient, loaded: Tenant
) -> None:
    wos = {wo["number"]: wo["id"] for wo in list_all(client, loaded, "/work-orders")}

    def panel(number: str) -> Panel:
        """Per material: allocated, short, and the lots allocated (code, quantity)."""
        found = get(client, loaded, f"/work-orders/{wos[number]}/materials")
        return {
            m["item_sku"]: (
                plain(m["allocated"]),
                plain(m["short"]),
                [(a["lot_code"], plain(a["quantity"])) for a in m["allocations"]],
            )
            for m in found
        }

    # the batches: concentrate from the lot that expires first, then Healthy Juices' own
    # (this is their order); never the lot awaiting QA
    assert panel("WO-000003") == {
        "AJC-70": ("102", "0", [("AJC70-L001", "102")]),
        "WATER-F": ("535.5", "0", [(None, "535.5")]),
        "ASC-ACID": ("0.765", "0", [("ASC-L001", "0.765")]),
    }
    assert panel("WO-000004") == {
        "AJC-70": ("102", "0", [("AJC70-L001", "8"), ("AJC70-HJ01", "94")]),
        "WATER-F": ("535.5", "0", [(None, "535.5")]),
        "ASC-ACID": ("0.235", "0.53", [("ASC-L001", "0.235")]),
    }
    # the bottling runs: packaging oldest lot first; the first run is short of labels, the
    # second of caps and labels; their juice is still to be made
    assert panel("WO-000001") == {
        "AJ-JUICE": ("0", "637.5", []),
        "BTL-PET-16": ("5000", "0", [("BTL16-L001", "5000")]),
        "CAP-38": ("5000", "0", [("CAP38-L001", "5000")]),
        "LBL-AJ-16": ("3500", "1500", [("LBLAJ-L001", "3500")]),
    }
    assert panel("WO-000002") == {
        "AJ-JUICE": ("0", "637.5", []),
        "BTL-PET-16": ("5000", "0", [("BTL16-L001", "1000"), ("BTL16-L002", "4000")]),
        "CAP-38": ("2200", "2800", [("CAP38-L002", "2200")]),
        "LBL-AJ-16": ("0", "5000", []),
    }


def test_an_older_demo_without_stock_gets_it_on_its_own_items_and_order(
    app: FastAPI, client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a demo loaded before there were lots: its items kept the defaults, no stock
    with monkeypatch.context() as older:
        older.setattr(demo, "STOCKING", {sku: demo.Stocking() for sku in demo.STOCKING})
        older.setattr(demo, "_stock", lambda *_: None)
        with app.state.session_factory() as session, transaction(session):
            demo.load(session, tenant.name)
    before = {i["sku"]: i["id"] for i in list_all(client, tenant, "/items")}
    assert list_all(client, tenant, "/lots") == []

    with app.state.session_factory() as session, transaction(session):
        demo.load(session, tenant.name)

    items = {i["sku"]: i for i in list_all(client, tenant, "/items")}
    assert {sku: i["id"] for sku, i in items.items()} == before
    assert (items["AJ-16OZ"]["gtin"], items["AJC-70"]["shelf_life_days"]) == ("00061414100014", 365)
    assert len(list_all(client, tenant, "/lots")) == len(demo.RECEIPTS)
    found = get(client, tenant, "/materials/shortages")
    short = {s["item_sku"]: plain(s["short"]) for s in found}
    assert short == {"LBL-AJ-16": "6500", "CAP-38": "2800", "ASC-ACID": "0.53"}
