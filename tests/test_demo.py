"""The Sunshine Beverages demo (taktline.demo), on both databases, through the API as a user
sees it: the bills of material of its apple juice, one ACTIVE version each; the production
order of 10,000 bottles generated from them (two bottling runs, each waiting for its batch of
juice, with their materials), scheduled from tomorrow 06:00 at the plant in the order the
work feeds itself; every operation takes time, so the org-wide schedule preview works; and
loading it again adds nothing."""

from datetime import UTC, date, datetime, time
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
