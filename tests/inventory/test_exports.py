"""The recall and the FSMA 204 export, on both databases, for a small genealogy made the way
the floor makes it, through the API: apple juice concentrate received from a supplier with
a bill of lading, juice pressed from it, the juice bottled for Healthy Juices Inc. with
glass bottles and caps (which are not lot-tracked). Both files have the columns that
docs/inventory-csv.md and the API's document list, in that order, and the rows that
genealogy says; the bottles' trace reaches the supplier and the bill of lading."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from taktline.db import utcnow
from taktline.inventory import genealogy
from tests.factories import (
    API,
    Json,
    Plant,
    act_on_work_order,
    expect,
    get_work_order,
    make_item,
    make_production_order,
)
from tests.helpers import Tenant, assert_problem, error_fields
from tests.inventory.stock import Stock, make_stock

DOCS = Path(__file__).resolve().parents[2] / "docs" / "inventory-csv.md"
# 03:00 UTC is the evening before in Chicago, where the test facilities are.
RECEIVED = datetime(2025, 1, 6, 3, 0, tzinfo=UTC)


@dataclass
class Juice:
    """The genealogy: lots by their role, work orders and production orders."""

    stock: Stock
    lots: dict[str, Json]
    work_orders: dict[str, Json]
    orders: dict[str, Json]

    @property
    def facility(self) -> str:
        name: str = self.stock.plant.facility["name"]
        return name


def _run(stock: Stock, item: Json, quantity: str, needs: list[tuple[Json, str]], **po: Any) -> Any:
    """A production order of `quantity` of `item` whose work order needs `needs`, started."""
    plant = Plant(stock.plant.facility, stock.plant.resources, item)
    order = make_production_order(stock.client, stock.tenant, plant, quantity=quantity, **po)
    wo = get_work_order(stock.client, stock.tenant, order["work_orders"][0]["id"])
    expect(
        stock.client.patch(
            f"{API}/work-orders/{wo['id']}",
            json={"materials": [{"item_id": i["id"], "quantity": q} for i, q in needs]},
            headers={**stock.tenant.headers(), "If-Match": f'"{wo["version"]}"'},
        )
    )
    stock.act(wo, "schedule")
    return order, stock.act(wo, "start")


def _make(stock: Stock, wo: Json, quantity: str, lot_code: str) -> None:
    """Every line item reported done; the last one's quantity into lot `lot_code`."""
    last = len(wo["line_items"]) - 1
    for index in range(last + 1):
        body: Json = {"quantity_completed": quantity}
        body.update({"lot_code": lot_code} if index == last else {"done": True})
        act_on_work_order(
            stock.client, stock.tenant, get_work_order(stock.client, stock.tenant, wo["id"]),
            "report", body, line_item=index, role="operator",
        )  # fmt: skip


def make_juice(client: TestClient, tenant: Tenant) -> Juice:
    stock = make_stock(client, tenant)
    item = {
        "concentrate": make_item(client, tenant, sku="CONC-AJ", name="Apple juice concentrate",
                                 unit="gal", precision=3, type="RAW_MATERIAL"),
        "juice": make_item(client, tenant, sku="JUICE-AJ", name="Apple juice", unit="gal",
                           precision=3, type="WORK_IN_PROGRESS"),
        "bottle": make_item(client, tenant, sku="BTL-AJ-16", name="16oz Apple Juice",
                            precision=0, gtin="00614141000012"),
        "glass": make_item(client, tenant, sku="GLASS-16", name="16oz glass bottle",
                           precision=0, type="RAW_MATERIAL"),
        "caps": make_item(client, tenant, sku="CAP-38", name="38mm cap", precision=0,
                          type="RAW_MATERIAL", tracking="NONE"),
    }  # fmt: skip
    lots = {
        "concentrate": stock.receive(
            item["concentrate"], "500", lot_code="AJC-2611", supplier="Orchard Fresh Co",
            supplier_lot_code="OF-7781", reference="BOL-20417", received_at=RECEIVED.isoformat(),
        ),
        "glass": stock.receive(
            item["glass"], "5000", lot_code="GL-0412", supplier="Glassworks",
            reference="BOL-20418", received_at=(RECEIVED + timedelta(hours=1)).isoformat(),
        ),
        "caps": stock.receive(item["caps"], "5000", supplier="Closure Co"),
    }  # fmt: skip
    press_order, press = _run(stock, item["juice"], "1000", [(item["concentrate"], "180")])
    expect(stock.pull(press, {"lot_code": "AJC-2611", "quantity": "180"}), 201)
    _make(stock, press, "1000", "JUICE-1")
    bottling_order, bottling = _run(
        stock, item["bottle"], "1000",
        [(item["juice"], "125"), (item["glass"], "1000"), (item["caps"], "1000")],
        owner_id=stock.customer["id"], start=4,
    )  # fmt: skip
    materials = expect(stock.pull(bottling, {"lot_code": "JUICE-1", "quantity": "130"}), 201)
    [juice_pull] = next(m for m in materials if m["item_id"] == item["juice"]["id"])["pulls"]
    expect(
        stock.client.post(
            f"{API}/work-orders/{bottling['id']}/pulls/{juice_pull['id']}/return",
            json={"quantity": "5", "reason": "left in the filler"},
            headers=stock.tenant.headers("operator"),
        )
    )
    expect(stock.pull(bottling, {"lot_code": "GL-0412", "quantity": "1000"}), 201)
    expect(stock.pull(bottling, {"lot_id": lots["caps"]["id"], "quantity": "1000"}), 201)
    _make(stock, bottling, "1000", "BTL-0001")
    for role, code in (("juice", "JUICE-1"), ("bottles", "BTL-0001")):
        found = expect(client.get(f"{API}/lots", params={"code": code}, headers=tenant.headers()))[
            "items"
        ]
        lots[role] = found[0]
    return Juice(
        stock,
        lots,
        {"press": press, "bottling": bottling},
        {"press": press_order, "bottling": bottling_order},
    )


@pytest.fixture
def juice(client: TestClient, tenant: Tenant) -> Juice:
    return make_juice(client, tenant)


def rows_of(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV answer (UTF-8 with a byte order mark)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def documented(section: str) -> list[str]:
    """The columns docs/inventory-csv.md lists in its table under `section`."""
    text = DOCS.read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", part, flags=re.MULTILINE)


def described(client: TestClient, path: str) -> str:
    description: str = client.get(f"{API}/openapi.json").json()["paths"][f"{API}{path}"]["get"][
        "description"
    ]
    return description


def test_the_files_columns_are_documented_in_the_docs_and_the_api() -> None:
    recall = [c.name for c in genealogy.RECALL_COLUMNS]
    fsma = [c.name for c in genealogy.FSMA_COLUMNS]
    assert documented("Recall") == recall
    assert documented("FSMA 204") == fsma


def test_the_api_document_lists_every_column_and_answers_csv(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()["paths"]
    for path, columns in (
        ("/lots/{lot_id}/recall", genealogy.RECALL_COLUMNS),
        ("/fsma204", genealogy.FSMA_COLUMNS),
    ):
        operation = document[f"{API}{path}"]["get"]
        assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
        for column in columns:
            assert f"`{column.name}`" in operation["description"]
        assert {"401", "403", "422"} <= set(operation["responses"])


def test_a_recall_lists_every_lot_made_from_the_concentrate_with_its_customer(
    juice: Juice, tenant: Tenant
) -> None:
    concentrate = juice.lots["concentrate"]
    response = juice.stock.client.get(
        f"{API}/lots/{concentrate['id']}/recall", headers=tenant.headers("viewer")
    )
    header, rows = rows_of(response)
    assert header == [c.name for c in genealogy.RECALL_COLUMNS]
    assert response.headers["content-disposition"] == 'attachment; filename="recall-AJC-2611.csv"'
    press, bottling = juice.work_orders["press"], juice.work_orders["bottling"]
    assert [
        {k: r[k] for k in ("lot_code", "item_sku", "quantity_produced", "unit", "final",
                           "status", "quantity_on_hand", "owner", "production_order",
                           "work_order", "facility", "depth", "lot_id")}
        for r in rows
    ] == [
        {"lot_code": "JUICE-1", "item_sku": "JUICE-AJ", "quantity_produced": "1000",
         "unit": "gal", "final": "no", "status": "AVAILABLE", "quantity_on_hand": "875",
         "owner": "", "production_order": juice.orders["press"]["number"],
         "work_order": press["number"], "facility": juice.facility, "depth": "2",
         "lot_id": juice.lots["juice"]["id"]},
        {"lot_code": "BTL-0001", "item_sku": "BTL-AJ-16", "quantity_produced": "1000",
         "unit": "ea", "final": "yes", "status": "AVAILABLE", "quantity_on_hand": "1000",
         "owner": "Healthy Juices Inc.", "production_order": juice.orders["bottling"]["number"],
         "work_order": bottling["number"], "facility": juice.facility, "depth": "4",
         "lot_id": juice.lots["bottles"]["id"]},
    ]  # fmt: skip
    assert rows[1]["item_name"] == "16oz Apple Juice"
    made_at = datetime.fromisoformat(rows[1]["made_at"])
    assert abs(made_at - utcnow()) < timedelta(minutes=5)
    assert rows[1]["expires_at"] == ""


def test_a_recall_of_a_finished_lot_has_no_rows(juice: Juice, tenant: Tenant) -> None:
    bottles = juice.lots["bottles"]
    header, rows = rows_of(
        juice.stock.client.get(f"{API}/lots/{bottles['id']}/recall", headers=tenant.headers())
    )
    assert header == [c.name for c in genealogy.RECALL_COLUMNS]
    assert rows == []


def test_the_bottles_trace_back_to_the_supplier_and_bill_of_lading_of_the_concentrate(
    juice: Juice, tenant: Tenant
) -> None:
    bottles = juice.lots["bottles"]
    out = expect(
        juice.stock.client.get(f"{API}/lots/{bottles['id']}/trace", headers=tenant.headers())
    )
    nodes = {n["label"]: n for n in out["nodes"]}
    bottling, press = juice.work_orders["bottling"], juice.work_orders["press"]
    assert {label: n["depth"] for label, n in nodes.items()} == {
        "BTL-0001": 0, bottling["number"]: 1, "JUICE-1": 2, "GL-0412": 2, "CAP-38": 2,
        press["number"]: 3, "AJC-2611": 4,
    }  # fmt: skip
    concentrate = nodes["AJC-2611"]
    assert (concentrate["supplier"], concentrate["supplier_lot_code"]) == (
        "Orchard Fresh Co",
        "OF-7781",
    )
    assert concentrate["receipt_reference"] == "BOL-20417"
    assert concentrate["made_at"].startswith("2025-01-06T03:00:00")
    run = nodes[bottling["number"]]
    assert run["kind"] == "work_order"
    assert run["production_order_number"] == juice.orders["bottling"]["number"]
    assert run["owner_name"] == "Healthy Juices Inc."
    flows = {(e["source"], e["target"]): (Decimal(e["quantity"]), e["unit"]) for e in out["edges"]}
    assert flows[(nodes["JUICE-1"]["id"], bottling["id"])] == (Decimal(125), "gal")  # 130 - 5
    assert flows[(nodes["CAP-38"]["id"], bottling["id"])] == (Decimal(1000), "ea")
    assert flows[(press["id"], nodes["JUICE-1"]["id"])] == (Decimal(1000), "gal")


FSMA_RECEIVING = ("event", "event_date", "event_time", "traceability_lot_code",
                  "product_description", "sku", "gtin", "quantity", "unit", "location",
                  "immediate_previous_source", "traceability_lot_code_source",
                  "supplier_lot_code", "reference_document_type",
                  "reference_document_number")  # fmt: skip
FSMA_INPUT = ("input_traceability_lot_code", "input_product_description", "input_sku",
              "input_quantity", "input_unit")  # fmt: skip


def fsma(juice: Juice, params: dict[str, str], tenant: Tenant | None = None) -> httpx.Response:
    headers = (tenant or juice.stock.tenant).headers("viewer")
    response: httpx.Response = juice.stock.client.get(
        f"{API}/fsma204", params=params, headers=headers
    )
    return response


def test_the_fsma_export_of_a_range_has_every_receipt_and_every_transformation(
    juice: Juice,
) -> None:
    response = fsma(
        juice,
        {"from": (RECEIVED - timedelta(days=1)).isoformat(),
         "to": (utcnow() + timedelta(days=1)).isoformat()},
    )  # fmt: skip
    header, rows = rows_of(response)
    assert header == [c.name for c in genealogy.FSMA_COLUMNS]
    assert response.headers["content-disposition"].startswith('attachment; filename="fsma204-')
    plant, press = juice.facility, juice.work_orders["press"]["number"]
    bottling = juice.work_orders["bottling"]["number"]
    receipts = [{k: r[k] for k in FSMA_RECEIVING} for r in rows[:2]]
    assert receipts == [
        {"event": "RECEIVING", "event_date": "2025-01-05",
         "event_time": "2025-01-06T03:00:00+00:00",
         "traceability_lot_code": "AJC-2611", "product_description": "Apple juice concentrate",
         "sku": "CONC-AJ", "gtin": "", "quantity": "500", "unit": "gal", "location": plant,
         "immediate_previous_source": "Orchard Fresh Co",
         "traceability_lot_code_source": "Orchard Fresh Co", "supplier_lot_code": "OF-7781",
         "reference_document_type": "Receipt", "reference_document_number": "BOL-20417"},
        {"event": "RECEIVING", "event_date": "2025-01-05",
         "event_time": "2025-01-06T04:00:00+00:00",
         "traceability_lot_code": "GL-0412", "product_description": "16oz glass bottle",
         "sku": "GLASS-16", "gtin": "", "quantity": "5000", "unit": "ea", "location": plant,
         "immediate_previous_source": "Glassworks", "traceability_lot_code_source": plant,
         "supplier_lot_code": "", "reference_document_type": "Receipt",
         "reference_document_number": "BOL-20418"},
    ]  # fmt: skip
    assert all(r[k] == "" for r in rows[:2] for k in FSMA_INPUT)
    made = [
        (r["event"], r["traceability_lot_code"], r["sku"], r["gtin"], r["quantity"], r["unit"],
         r["location"], r["traceability_lot_code_source"], r["reference_document_type"],
         r["reference_document_number"], r["immediate_previous_source"],
         *(r[k] for k in FSMA_INPUT))
        for r in rows[2:]
    ]  # fmt: skip
    assert made == [
        ("TRANSFORMATION", "JUICE-1", "JUICE-AJ", "", "1000", "gal", plant, plant, "Work order",
         press, "", "AJC-2611", "Apple juice concentrate", "CONC-AJ", "180", "gal"),
        ("TRANSFORMATION", "BTL-0001", "BTL-AJ-16", "00614141000012", "1000", "ea", plant, plant,
         "Work order", bottling, "", "GL-0412", "16oz glass bottle", "GLASS-16", "1000", "ea"),
        ("TRANSFORMATION", "BTL-0001", "BTL-AJ-16", "00614141000012", "1000", "ea", plant, plant,
         "Work order", bottling, "", "JUICE-1", "Apple juice", "JUICE-AJ", "125", "gal"),
    ]  # fmt: skip
    # every row complete and in time order: the file sorts as it is
    times = [datetime.fromisoformat(r["event_time"]) for r in rows]
    assert times == sorted(times)
    assert rows[3]["event_time"] == rows[4]["event_time"]
    assert all(r["event_date"] for r in rows)


def test_the_fsma_export_of_a_lot_code_has_the_events_that_made_and_used_it(
    juice: Juice,
) -> None:
    _, rows = rows_of(fsma(juice, {"lot_code": "JUICE-1"}))
    assert [(r["event"], r["traceability_lot_code"], r["input_traceability_lot_code"])
            for r in rows] == [
        ("TRANSFORMATION", "JUICE-1", "AJC-2611"),
        ("TRANSFORMATION", "BTL-0001", "GL-0412"),
        ("TRANSFORMATION", "BTL-0001", "JUICE-1"),
    ]  # fmt: skip
    _, received = rows_of(fsma(juice, {"lot_code": "AJC-2611"}))
    assert [(r["event"], r["traceability_lot_code"]) for r in received] == [
        ("RECEIVING", "AJC-2611"),
        ("TRANSFORMATION", "JUICE-1"),
    ]
    _, receipts_only = rows_of(
        fsma(
            juice,
            {"from": RECEIVED.isoformat(), "to": (RECEIVED + timedelta(hours=1)).isoformat()},
        )
    )
    assert [r["traceability_lot_code"] for r in receipts_only] == ["AJC-2611"]


def test_another_organisation_sees_none_of_the_events(juice: Juice, other_tenant: Tenant) -> None:
    header, rows = rows_of(fsma(juice, {"lot_code": "AJC-2611"}, other_tenant))
    assert header == [c.name for c in genealogy.FSMA_COLUMNS]
    assert rows == []
    concentrate = juice.lots["concentrate"]
    assert_problem(
        juice.stock.client.get(
            f"{API}/lots/{concentrate['id']}/recall", headers=other_tenant.headers()
        ),
        404,
        "not-found",
    )


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, ["query.from"]),
        ({"lot_code": "AJC-2611", "from": "2025-01-01T00:00:00Z"}, ["query.from"]),
        ({"from": "2025-01-01T00:00:00Z"}, ["query.to"]),
        ({"to": "2025-01-01T00:00:00Z"}, ["query.from"]),
        ({"from": "2025-01-02T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, ["query.to"]),
        ({"from": "2025-01-01T00:00:00", "to": "2025-01-02T00:00:00Z"}, ["query.from"]),
        ({"lot_code": ""}, ["query.lot_code"]),
    ],
)
def test_the_fsma_export_takes_a_range_or_a_lot_code(
    client: TestClient, tenant: Tenant, params: dict[str, str], fields: list[str]
) -> None:
    response = client.get(f"{API}/fsma204", params=params, headers=tenant.headers())
    assert error_fields(assert_problem(response, 422, "validation-error")) == fields
