"""CSV import and export of bills of material over the API, on both databases.

An import makes a new BOM with a DRAFT version 1 for each code the organisation does not
have and a new DRAFT version of each one it has, audited as the API's creates are; all of the
file or nothing. Every error is named by its row (the header is row 1) and column, a dry run
included, which writes nothing. The export writes the layout the import reads: exported from
one organisation and imported into another with the same SKUs and codes, the content is the
same.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.boms import csv_format
from taktline.events.models import Event
from tests.boms.sheets import cells, csv_of, rows_of, send
from tests.helpers import API, Tenant, assert_problem, bodies, create, db_counts

Json = dict[str, Any]


class Stock:
    """What the files name: items by SKU, resources by code, a brand by code and name."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client, self.tenant = client, tenant
        facility = create(client, tenant, "/facilities", bodies.facility())
        self.resources = {
            code: create(client, tenant, "/resources", bodies.resource(facility["id"], code=code))
            for code in ("CP1", "CP2", "BL1")
        }
        self.items = {
            sku: create(client, tenant, "/items", bodies.item(sku=sku, unit=unit))
            for sku, unit in (("AJ", "gal"), ("CONC", "gal"), ("WATER", "L"), ("BOTTLE", "ea"))
        }
        self.brand = create(
            client, tenant, "/customers", bodies.customer(code="SUN", name="Sunny Brands")
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(
            f"{API}{path}", params=params, headers=self.tenant.headers("viewer")
        )
        assert response.status_code == 200, response.text
        return response.json()

    def boms(self) -> list[Json]:
        found: list[Json] = self.get("/boms", limit=500)["items"]
        return found

    def bom(self, code: str) -> Json:
        (bom,) = [b for b in self.boms() if b["code"] == code]
        return bom

    def version(self, code: str, number: int) -> Json:
        bom = self.bom(code)
        found: Json = self.get(f"/boms/{bom['id']}/versions/{number}")
        return found


@pytest.fixture
def stock(client: TestClient, tenant: Tenant) -> Stock:
    return Stock(client, tenant)


JUICE = {
    "bom_code": "JUICE",
    "bom_name": "Apple juice",
    "bom_type": "FORMULA",
    "output_sku": "AJ",
    "owner": "SUN",
    "batch_quantity": "1000",
    "output_loss_percent": "1.5",
    "notes": "Press cold,\nthen pasteurise",
}
JUICE_FILE = csv_of(
    {**JUICE, "line": "input", "item_sku": "CONC", "quantity": "180", "loss_percent": "2"},
    {"bom_code": "JUICE", "line": "input", "item_sku": "WATER", "quantity": "3104", "unit": "L"},
    {
        "bom_code": "JUICE",
        "line": "operation",
        "sequence": "10",
        "operation": "Pressing",
        "resource_code": "CP1",
        "setup_minutes": "30",
        "run_minutes_per_unit": "0.05",
        "interruptible": "yes",
    },
    {
        "bom_code": "JUICE",
        "line": "alternative",
        "sequence": "10",
        "resource_code": "CP2",
        "setup_minutes": "45",
        "run_minutes_per_unit": "0.06",
    },
    {"bom_code": "JUICE", "line": "operation", "sequence": "20", "operation": "Pasteurising"},
    {
        "bom_code": "BOTTLE-16",
        "bom_name": "16oz bottle",
        "bom_type": "packaging",
        "output_sku": "BOTTLE",
        "batch_quantity": "1",
        "line": "input",
        "item_sku": "AJ",
        "quantity": "0.125",
    },
)


def test_an_import_makes_each_bom_with_a_draft_version_1_as_the_file_says(
    client: TestClient, tenant: Tenant, stock: Stock, session: Session
) -> None:
    response = send(client, tenant, JUICE_FILE)

    assert response.status_code == 201, response.text
    report = response.json()
    juice, bottle = stock.bom("JUICE"), stock.bom("BOTTLE-16")
    assert report == {
        "dry_run": False,
        "rows": 6,
        "boms": [
            {
                "code": "JUICE",
                "bom_id": juice["id"],
                "created": True,
                "version": 1,
                "first_row": 2,
                "rows": 5,
                "inputs": 2,
                "operations": 2,
            },
            {
                "code": "BOTTLE-16",
                "bom_id": bottle["id"],
                "created": True,
                "version": 1,
                "first_row": 7,
                "rows": 1,
                "inputs": 1,
                "operations": 0,
            },
        ],
    }
    assert (juice["name"], juice["type"], juice["item_id"], juice["owner_id"]) == (
        "Apple juice",
        "FORMULA",
        stock.items["AJ"]["id"],
        stock.brand["id"],
    )
    assert (bottle["type"], bottle["owner_id"]) == ("PACKAGING", None)
    v1 = stock.version("JUICE", 1)
    assert v1["status"] == "DRAFT"
    assert (v1["batch_quantity"], v1["batch_unit"], v1["output_loss_percent"], v1["notes"]) == (
        "1000",
        "gal",  # the item's unit, left blank
        "1.5",
        "Press cold,\nthen pasteurise",
    )
    assert [(i["item_id"], i["quantity"], i["unit"], i["loss_percent"]) for i in v1["inputs"]] == [
        (stock.items["CONC"]["id"], "180", "gal", "2"),
        (stock.items["WATER"]["id"], "3104", "L", "0"),
    ]
    pressing, pasteurising = v1["operations"]
    assert (pressing["sequence"], pressing["resource_id"], pressing["interruptible"]) == (
        10,
        stock.resources["CP1"]["id"],
        True,
    )
    assert pressing["alternatives"] == [
        {
            "resource_id": stock.resources["CP2"]["id"],
            "setup_minutes": "45",
            "run_minutes_per_unit": "0.06",
        }
    ]
    assert (pasteurising["sequence"], pasteurising["resource_id"]) == (20, None)
    audited = session.execute(
        select(Event.entity_type, Event.action, Event.actor_email).where(
            Event.org_id == tenant.org_id, Event.entity_type.in_(("bom", "bom_version"))
        )
    ).all()
    planner = tenant.user("planner").email
    assert sorted(audited) == sorted(
        [("bom", "create", planner), ("bom_version", "create", planner)] * 2
    )


BAD_FILE = csv_of(
    {**JUICE, "line": "input", "item_sku": "NO-SUCH", "quantity": "180"},
    {"bom_code": "JUICE", "line": "input", "item_sku": "WATER", "quantity": "0"},
    {"bom_code": "JUICE", "line": "operation", "operation": "Pressing", "resource_code": "CP9"},
    {"bom_code": "JUICE", "line": "stir"},
    {**JUICE, "bom_code": "OTHER", "bom_type": "RECIPE", "batch_quantity": "1,000"},
)
BAD_CELLS = [
    (2, "item_sku"),
    (3, "quantity"),
    (4, "resource_code"),
    (5, "line"),
    (6, "bom_type"),
    (6, "batch_quantity"),
]


def test_import_dry_run_writes_nothing_and_names_row_and_column_of_each_error(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]

    for dry_run in (True, False):
        response = send(client, tenant, BAD_FILE, dry_run=dry_run)

        problem = assert_problem(response, 422, "validation-error")
        assert cells(problem) == BAD_CELLS
        words = {(e["row"], e["column"]): e["msg"] for e in problem["errors"]}
        assert words[(2, "item_sku")] == "no item has the SKU 'NO-SUCH'"
        assert words[(3, "quantity")] == "must be more than 0"
        assert words[(4, "resource_code")] == "no resource has the code 'CP9'"
        assert words[(6, "bom_type")] == "must be FORMULA, PACKAGING, SECONDARY_PACKAGING or KIT"
        assert words[(6, "batch_quantity")] == (
            "must be a number such as 12.5: a point before the decimals, no thousands separator"
        )
        assert problem["errors"][0]["loc"] == ["body", 2, "item_sku"]
        assert problem["detail"].startswith("The file has 6 errors, and nothing was imported")
        assert "row 3, quantity: must be more than 0" in problem["detail"]
        assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_a_dry_run_of_a_good_file_says_what_the_import_would_make_and_writes_nothing(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]

    dry = send(client, tenant, JUICE_FILE, dry_run=True)

    assert dry.status_code == 200, dry.text
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]
    made = send(client, tenant, JUICE_FILE)
    assert made.status_code == 201, made.text
    would, did = dry.json(), made.json()
    assert (would["dry_run"], did["dry_run"]) == (True, False)
    assert [b["bom_id"] for b in would["boms"]] == [None, None]
    for bom in (*would["boms"], *did["boms"]):
        del bom["bom_id"]
    assert would["boms"] == did["boms"]


def test_a_code_the_organisation_has_gets_a_new_draft_version_its_active_one_kept(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    assert send(client, tenant, JUICE_FILE).status_code == 201
    juice = stock.bom("JUICE")
    activated = client.post(
        f"{API}/boms/{juice['id']}/versions/1/activate", headers=tenant.headers()
    )
    assert activated.status_code == 200, activated.text
    changed = JUICE_FILE.replace(b"180", b"175")

    dry = send(client, tenant, changed, dry_run=True)
    response = send(client, tenant, changed)

    assert response.status_code == 201, response.text
    for report in (dry.json(), response.json()):
        first = report["boms"][0]
        assert (first["bom_id"], first["created"], first["version"]) == (juice["id"], False, 2)
    assert [(v["number"], v["status"]) for v in stock.bom("JUICE")["versions"]] == [
        (1, "ACTIVE"),
        (2, "DRAFT"),
    ]
    assert stock.version("JUICE", 2)["inputs"][0]["quantity"] == "175"
    assert stock.version("JUICE", 1)["inputs"][0]["quantity"] == "180"
    assert len(stock.boms()) == 2


def test_an_import_renames_retypes_reowns_nothing_and_a_boms_item_never_changes(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    assert send(client, tenant, JUICE_FILE).status_code == 201
    other = {
        **JUICE,
        "bom_name": "Pear juice",
        "bom_type": "KIT",
        "output_sku": "WATER",
        "owner": "",
        "line": "input",
        "item_sku": "CONC",
        "quantity": "1",
    }
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]

    response = send(client, tenant, csv_of(other))

    problem = assert_problem(response, 422, "validation-error")
    words = {column: msg for (row, column, msg) in _triples(problem)}
    assert set(words) == {"bom_name", "bom_type", "output_sku", "owner"}
    assert words["bom_name"].startswith("JUICE is named 'Apple juice': an import adds a version")
    assert words["output_sku"] == ("JUICE makes AJ: the item of a bill of material never changes")
    assert words["owner"].startswith("JUICE is the recipe of Sunny Brands")
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def _triples(problem: Json) -> list[tuple[int, str | None, str]]:
    return [(e["row"], e["column"], e["msg"]) for e in problem["errors"]]


def test_one_wrong_row_and_nothing_of_the_file_is_imported(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    wrong = (
        JUICE_FILE
        + csv_of(
            {**JUICE, "bom_code": "LAST", "line": "input", "item_sku": "CONC", "quantity": "-1"}
        ).split(b"\r\n", 1)[1]
    )
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]

    response = send(client, tenant, wrong)

    problem = assert_problem(response, 422, "validation-error")
    assert _triples(problem) == [(8, "quantity", "must be more than 0")]
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_the_schemas_rules_are_told_at_their_cells(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    op = {"bom_code": "JUICE", "line": "operation", "operation": "Pressing"}
    data = csv_of(
        {
            **JUICE,
            "bom_name": "x" * 201,
            "line": "input",
            "item_sku": "CONC",
            "quantity": "1.1234567",
        },
        {
            "bom_code": "JUICE",
            "line": "input",
            "item_sku": "CONC",
            "quantity": "1",
            "loss_percent": "1001",
        },
        {**op, "sequence": "20000", "setup_minutes": "-5"},
        {**op, "sequence": "2", "resource_code": "CP1"},
        {"bom_code": "JUICE", "line": "alternative", "sequence": "2", "resource_code": "CP1"},
    )

    problem = assert_problem(send(client, tenant, data), 422, "validation-error")

    assert _triples(problem) == [
        (2, "bom_name", "may be at most 200 characters long"),
        (2, "quantity", "may have at most 6 decimal places"),
        (3, "loss_percent", "must be 1000 or less"),
        (4, "sequence", "must be 10000 or less"),
        (4, "setup_minutes", "must be 0 or more"),
        (
            5,
            "resource_code",
            "an alternative is another resource than the operation's own, each one once",
        ),
    ]


def test_more_inputs_than_a_version_holds_are_refused_at_the_first_one_too_many(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    data = csv_of(
        *({**JUICE, "line": "input", "item_sku": "CONC", "quantity": "1"} for _ in range(201))
    )

    problem = assert_problem(send(client, tenant, data), 422, "validation-error")

    assert _triples(problem) == [(202, "line", "is one too many: a version has at most 200 inputs")]


def test_a_brand_is_named_by_its_code_or_its_name_and_a_shared_code_by_its_name_only(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    twin = create(client, tenant, "/customers", bodies.customer(code="TWIN", name="Twin A"))
    create(client, tenant, "/customers", bodies.customer(code="TWIN", name="Twin B"))
    line = {"line": "input", "item_sku": "CONC", "quantity": "1"}
    rows = [
        {**JUICE, **line, "bom_code": "BY-NAME", "owner": "Sunny Brands"},
        {**JUICE, **line, "bom_code": "SHARED", "owner": "TWIN"},
    ]

    problem = assert_problem(send(client, tenant, csv_of(*rows)), 422, "validation-error")
    assert _triples(problem) == [
        (3, "owner", "several customers have the code 'TWIN': give the customer's name")
    ]
    rows[1]["owner"] = "Twin A"
    assert send(client, tenant, csv_of(*rows)).status_code == 201
    assert stock.bom("BY-NAME")["owner_id"] == stock.brand["id"]
    assert stock.bom("SHARED")["owner_id"] == twin["id"]


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x"])
def test_the_body_is_the_csv_file_itself(
    client: TestClient, tenant: Tenant, stock: Stock, content_type: str
) -> None:
    response = send(client, tenant, JUICE_FILE, content_type=content_type)

    problem = assert_problem(response, 422, "validation-error")
    assert [e["loc"] for e in problem["errors"]] == [["header", "Content-Type"]]
    assert "Content-Type: text/csv" in problem["detail"]
    assert stock.boms() == []


def test_a_file_of_more_rows_than_an_import_takes_is_refused_naming_the_limit(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    row = {"bom_code": "B", "line": ""}
    data = csv_of(*([row] * (csv_format.MAX_ROWS + 1)))

    problem = assert_problem(send(client, tenant, data), 422, "validation-error")

    assert cells(problem) == [(csv_format.MAX_ROWS + 2, None)]
    assert "split it into several files" in problem["detail"]


# --- export --------------------------------------------------------------------------------


def _content(stock: Stock, code: str, number: int) -> Json:
    """A version's content, with SKUs and codes for ids: what two organisations compare."""
    skus = {item["id"]: sku for sku, item in stock.items.items()}
    codes = {res["id"]: code for code, res in stock.resources.items()}
    bom, version = stock.bom(code), stock.version(code, number)
    return {
        "bom": (
            bom["code"],
            bom["name"],
            bom["type"],
            skus[bom["item_id"]],
            bom["owner_id"] and "brand",
        ),
        "batch": [
            version[k] for k in ("batch_quantity", "batch_unit", "output_loss_percent", "notes")
        ],
        "inputs": [
            (skus[i["item_id"]], i["quantity"], i["unit"], i["loss_percent"])
            for i in version["inputs"]
        ],
        "operations": [
            (
                op["sequence"],
                op["operation"],
                codes.get(op["resource_id"]),
                op["setup_minutes"],
                op["run_minutes_per_unit"],
                op["interruptible"],
                [
                    (codes[a["resource_id"]], a["setup_minutes"], a["run_minutes_per_unit"])
                    for a in op["alternatives"]
                ],
            )
            for op in version["operations"]
        ],
    }


def _export(client: TestClient, tenant: Tenant, path: str = "/boms/export", **params: Any) -> bytes:
    response = client.get(f"{API}{path}", params=params, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    content: bytes = response.content
    return content


def test_exported_and_imported_into_another_organisation_with_the_same_codes_it_is_the_same(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, stock: Stock
) -> None:
    assert send(client, tenant, JUICE_FILE).status_code == 201
    theirs = Stock(client, other_tenant)

    exported = _export(client, tenant)
    response = send(client, other_tenant, exported)

    assert response.status_code == 201, response.text
    assert exported.startswith(b"\xef\xbb\xbf" + ",".join(csv_format.NAMES).encode())
    assert [b["code"] for b in response.json()["boms"]] == ["BOTTLE-16", "JUICE"]
    for code in ("JUICE", "BOTTLE-16"):
        assert _content(theirs, code, 1) == _content(stock, code, 1)
    assert theirs.bom("JUICE")["owner_id"] == theirs.brand["id"]
    assert _export(client, other_tenant) == exported


def test_the_export_writes_each_bom_with_its_active_version_else_its_newest_filtered_as_the_list(
    client: TestClient, tenant: Tenant, stock: Stock
) -> None:
    assert send(client, tenant, JUICE_FILE).status_code == 201
    juice = stock.bom("JUICE")
    assert send(client, tenant, JUICE_FILE.replace(b"180", b"175")).status_code == 201
    client.post(f"{API}/boms/{juice['id']}/versions/1/activate", headers=tenant.headers())

    def quantities(data: bytes, code: str = "JUICE") -> list[str]:
        return [
            r["quantity"] for r in rows_of(data) if r["bom_code"] == code and r["line"] == "input"
        ]

    assert quantities(_export(client, tenant)) == ["180", "3104"]  # the ACTIVE version 1
    assert quantities(_export(client, tenant, status="DRAFT")) == ["175", "3104"]
    assert quantities(_export(client, tenant, status="DRAFT"), "BOTTLE-16") == ["0.125"]
    assert {r["bom_code"] for r in rows_of(_export(client, tenant, type="PACKAGING"))} == {
        "BOTTLE-16"
    }
    assert {
        r["bom_code"] for r in rows_of(_export(client, tenant, owner_id=stock.brand["id"]))
    } == {"JUICE"}
    assert rows_of(_export(client, tenant, status="RETIRED")) == []
    one = _export(client, tenant, f"/boms/{juice['id']}/export", version=2)
    assert quantities(one) == ["175", "3104"]
    assert {r["bom_code"] for r in rows_of(one)} == {"JUICE"}
    missing = client.get(
        f"{API}/boms/{juice['id']}/export", params={"version": 9}, headers=tenant.headers()
    )
    assert_problem(missing, 404, "not-found")
