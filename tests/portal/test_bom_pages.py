"""The bill of material screens, through a signed-in browser session: the list and its
filters, a BOM's page with its versions and the differences between two, the editor of a
DRAFT version (which keeps what was typed when it is refused), activating and retiring, the
preview of a DRAFT production order's work orders drawn as their tree, and an item's page
with where it is used.

Every BOM is built here through the API (never the demo's); the pages are driven through
their forms and read back through the API. Every test runs on SQLite and on PostgreSQL.
"""

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import API, Tenant, bodies, create, db_counts
from tests.portal.conftest import signed_in
from tests.portal.test_order_pages import (
    field_with_error,
    followed,
    page,
    post,
    queries_for,
    visible,
)

Json = dict[str, Any]


class Plant:
    """Juice pressed in 1,000-gallon batches and bottled 8,000 bottles (1,000 gal) a run."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client, self.tenant = client, tenant
        facility = create(client, tenant, "/facilities", bodies.facility())
        self.press = create(client, tenant, "/resources", bodies.resource(facility["id"]))
        self.line = create(client, tenant, "/resources", bodies.resource(facility["id"]))
        self.labeler = create(
            client,
            tenant,
            "/resources",
            bodies.resource(
                facility["id"], capacity_min=None, capacity_max=None, capacity_unit=None
            ),
        )
        self.juice = self.item(name="Apple Juice", unit="gal", precision=3, type="WORK_IN_PROGRESS")
        self.concentrate = self.item(name="Concentrate", unit="gal", precision=3)
        self.water = self.item(name="Filtered water", unit="gal", precision=3)
        self.bottle = self.item(
            name="16oz Apple Juice Bottle",
            unit="ea",
            precision=0,
            conversions=[{"unit": "gal", "quantity": "0.125", "base_quantity": "1"}],
        )
        self.glass = self.item(name="Glass bottle", unit="ea", precision=0)
        self.customer = create(client, tenant, "/customers", bodies.customer(name="Healthy"))

    def item(self, **fields: Any) -> Json:
        fields.setdefault("type", "RAW_MATERIAL")
        made: Json = create(self.client, self.tenant, "/items", bodies.item(**fields))
        return made

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of an API call as the planner (200, or 201 for a new record)."""
        response = self.client.request(
            method, f"{API}{path}", json=body, headers=self.tenant.headers()
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def juice_bom(self, activate: bool = True, **changes: Any) -> Json:
        bom: Json = create(
            self.client,
            self.tenant,
            "/boms",
            {
                "code": f"JUICE-{self.juice['sku']}",
                "name": "Apple Juice",
                "item_id": self.juice["id"],
                "type": "FORMULA",
                "version": {
                    "batch_quantity": "1000",
                    "inputs": [
                        {"item_id": self.concentrate["id"], "quantity": "180"},
                        {"item_id": self.water["id"], "quantity": "820", "loss_percent": "1"},
                    ],
                    "operations": [
                        {
                            "operation": "Pressing",
                            "resource_id": self.press["id"],
                            "setup_minutes": "30",
                        }
                    ],
                },
                **changes,
            },
        )
        if activate:
            self.api("POST", f"/boms/{bom['id']}/versions/1/activate")
        return bom

    def bottle_bom(self) -> Json:
        bom: Json = create(
            self.client,
            self.tenant,
            "/boms",
            {
                "code": f"BTL-{self.bottle['sku']}",
                "name": "16oz bottle",
                "item_id": self.bottle["id"],
                "type": "PACKAGING",
                "version": {
                    "batch_quantity": "1",
                    "inputs": [
                        {"item_id": self.juice["id"], "quantity": "0.125", "loss_percent": "2"},
                        {"item_id": self.glass["id"], "quantity": "1"},
                    ],
                    "operations": [
                        {
                            "operation": "Bottling",
                            "resource_id": self.line["id"],
                            "run_minutes_per_unit": "0.01",
                        },
                        {"operation": "Labeling", "resource_id": self.labeler["id"]},
                    ],
                },
            },
        )
        self.api("POST", f"/boms/{bom['id']}/versions/1/activate")
        return bom

    def version(self, bom: Json, number: int) -> Json:
        found: Json = self.api("GET", f"/boms/{bom['id']}/versions/{number}")
        return found

    def order(self, quantity: str = "10000") -> Json:
        made: Json = create(
            self.client,
            self.tenant,
            "/production-orders",
            {"items": [{"item_id": self.bottle["id"], "quantity": quantity}]},
        )
        return made


@pytest.fixture
def plant(client: TestClient, tenant: Tenant) -> Plant:
    return Plant(client, tenant)


def label(item: Json) -> str:
    return f"{item['sku']} · {item['name']}"


_POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


def post_forms(text: str) -> list[str]:
    """The addresses the page's forms post to (sign-out aside)."""
    return [url for url in _POST_FORM.findall(text) if url != "/logout"]


def editor_fields(plant: Plant) -> dict[str, str]:
    """The editor's form for the juice: a batch of 500 gal, two inputs, two operations."""
    return {
        "batch_quantity": "500",
        "batch_unit": "gal",
        "output_loss_percent": "2",
        "notes": "Half batch",
        "inputs.0.item_id": plant.concentrate["id"],
        "inputs.0.quantity": "90",
        "inputs.1.item_id": plant.water["id"],
        "inputs.1.quantity": "410",
        "inputs.1.loss_percent": "1.5",
        "operations.0.operation": "Pressing",
        "operations.0.resource_id": plant.press["id"],
        "operations.0.setup_minutes": "20",
        "operations.0.run_minutes_per_unit": "0.05",
        "operations.0.interruptible": "true",
        "operations.0.alternatives.0.resource_id": plant.line["id"],
        "operations.0.alternatives.0.setup_minutes": "40",
        "operations.0.alternatives.0.run_minutes_per_unit": "0.07",
        "operations.1.operation": "Filtering",
        "operations.1.resource_id": plant.labeler["id"],
    }


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_every_bom_with_its_versions_and_is_in_the_navigation(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    juice = plant.juice_bom()
    bottle = plant.bottle_bom()
    draft = plant.juice_bom(activate=False, code="JUICE-DRAFT", owner_id=plant.customer["id"])
    signed_in(client, tenant, "planner")

    text = page(client, "/boms")

    assert 'href="/boms" aria-current="page">BOMs</a>' in text
    for bom in (juice, bottle, draft):
        assert f'<a href="/boms/{bom["id"]}">{bom["code"]}</a>' in text
    assert f'<a href="/items/{plant.juice["id"]}">{label(plant.juice)}</a>' in text
    assert "v1 ACTIVE" in text
    assert "v1 DRAFT" in text
    assert "Healthy" in text  # the draft's owner
    assert 'href="/boms/new"' in text
    assert 'href="/boms" aria-current="page"' in page(client, f"/boms/{juice['id']}")


def test_the_list_filters_by_output_item_type_owner_and_status_and_pages(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    juice = plant.juice_bom()
    bottle = plant.bottle_bom()
    draft = plant.juice_bom(activate=False, code="JUICE-DRAFT", owner_id=plant.customer["id"])
    signed_in(client, tenant, "planner")

    def codes(url: str) -> set[str]:
        text = page(client, url)
        return {b["code"] for b in (juice, bottle, draft) if f">{b['code']}</a>" in text}

    assert codes(f"/boms?item_id={plant.juice['id']}") == {juice["code"], "JUICE-DRAFT"}
    assert codes("/boms?type=PACKAGING") == {bottle["code"]}
    assert codes(f"/boms?owner_id={plant.customer['id']}") == {"JUICE-DRAFT"}
    assert codes("/boms?status=DRAFT") == {"JUICE-DRAFT"}
    assert codes("/boms?status=ACTIVE&type=FORMULA") == {juice["code"]}

    first = page(client, "/boms?limit=2")
    assert codes("/boms?limit=2") == {juice["code"], bottle["code"]}
    found = re.search(r'href="(/boms\?limit=2&amp;cursor=[^"]+)" rel="next"', first)
    assert found is not None, "no link to the next page"
    later = html.unescape(found.group(1))
    assert codes(later) == {"JUICE-DRAFT"}
    assert 'href="/boms?limit=2">First page</a>' in page(client, later)

    bad = page(client, "/boms?type=SOUP&status=GONE", 422)
    assert "Type must be one of the choices" in bad
    assert "Status must be one of the choices" in bad


# --- a BOM's page ------------------------------------------------------------------------------


def test_the_page_shows_the_versions_and_the_active_ones_batch_inputs_and_routing(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom()
    plant.api("POST", f"/boms/{bom['id']}/versions", {"copy_of": 1})
    signed_in(client, tenant, "planner")

    text = page(client, f"/boms/{bom['id']}")

    assert "Version 1" in text
    assert "Version 2" in text
    assert '<span class="badge ACTIVE">ACTIVE</span>' in text
    assert '<span class="badge DRAFT">DRAFT</span>' in text
    shown = text[text.index('id="shown-h"') :]
    assert shown.startswith('id="shown-h">Version 1 <span class="badge ACTIVE">')
    assert "1,000 gal" in shown  # the batch, as the portal formats quantities
    assert f'<a href="/items/{plant.concentrate["id"]}">{label(plant.concentrate)}</a>' in shown
    assert f'<a href="/items/{plant.water["id"]}">{label(plant.water)}</a>' in shown
    assert '<td class="num">820</td>' in shown
    assert "Pressing" in shown
    assert f"{plant.press['code']} · {plant.press['name']}" in shown
    # the makes-item links to its page; times on the plant's clock
    assert f'href="/items/{plant.juice["id"]}"' in text
    draft = page(client, f"/boms/{bom['id']}?version=2")
    assert 'id="shown-h">Version 2 <span class="badge DRAFT">' in draft
    page(client, f"/boms/{bom['id']}?version=7", 422)


def test_a_planner_gets_the_actions_each_status_allows(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom()
    plant.api("POST", f"/boms/{bom['id']}/versions", {"copy_of": 1})
    signed_in(client, tenant, "planner")

    forms = post_forms(page(client, f"/boms/{bom['id']}"))

    base = f"/boms/{bom['id']}/versions"
    assert sorted(forms) == sorted(
        [f"{base}/1/retire", f"{base}/2/activate", base, base]  # copy and empty
    )
    text = page(client, f"/boms/{bom['id']}")
    assert f'href="{base}/2/edit"' in text
    assert f'href="{base}/1/edit"' not in text
    page(client, f"{base}/1/edit", 409)  # an ACTIVE version never changes


def test_activating_a_draft_retires_the_active_one_and_retiring_leaves_none(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom()
    v2 = plant.api("POST", f"/boms/{bom['id']}/versions", {"copy_of": 1})
    signed_in(client, tenant, "planner")

    done = followed(
        client,
        post(client, f"/boms/{bom['id']}/versions/2/activate", {"version": str(v2["version"])}),
    )

    assert f"Version 2 of {bom['code']} is ACTIVE." in done
    assert plant.version(bom, 1)["status"] == "RETIRED"
    active = plant.version(bom, 2)
    assert active["status"] == "ACTIVE"
    done = followed(
        client,
        post(
            client,
            f"/boms/{bom['id']}/versions/2/retire",
            {"version": str(active["version"])},
        ),
    )
    assert f"Version 2 of {bom['code']} is RETIRED." in done
    assert plant.version(bom, 2)["status"] == "RETIRED"


def test_a_refused_activation_says_why_on_the_page_and_changes_nothing(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    # Filled in litres, which the juice (in gallons) declares no conversion from.
    bom = plant.juice_bom(activate=False)
    patched = client.patch(
        f"{API}/boms/{bom['id']}/versions/1", json={"batch_unit": "L"}, headers=tenant.headers()
    )
    assert patched.status_code == 200, patched.text
    draft = plant.version(bom, 1)
    signed_in(client, tenant, "planner")
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]

    response = post(
        client, f"/boms/{bom['id']}/versions/1/activate", {"version": str(draft["version"])}
    )

    assert response.status_code == 409
    said = visible(response.text)
    assert "cannot be activated: The batch is in L" in said
    assert plant.version(bom, 1)["status"] == "DRAFT"
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]


def test_new_versions_start_as_a_copy_or_empty_and_open_in_the_editor(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom()
    signed_in(client, tenant, "planner")

    copied = post(client, f"/boms/{bom['id']}/versions", {"copy_of": "1"})
    assert copied.status_code == 303
    assert copied.headers["location"] == f"/boms/{bom['id']}/versions/2/edit"
    editor = followed(client, copied)
    assert "Version 2 started as a DRAFT." in editor
    assert 'name="inputs.1.quantity" type="text" value="820"' in editor

    def content(number: int) -> list[tuple[str, str, str, str]]:
        return [
            (i["item_id"], i["quantity"], i["unit"], i["loss_percent"])
            for i in plant.version(bom, number)["inputs"]
        ]

    assert content(2) == content(1)

    empty = post(
        client,
        f"/boms/{bom['id']}/versions",
        {"content.batch_quantity": "250", "content.batch_unit": ""},
    )
    assert empty.headers["location"] == f"/boms/{bom['id']}/versions/3/edit"
    v3 = plant.version(bom, 3)
    assert (v3["status"], v3["batch_quantity"], v3["batch_unit"]) == ("DRAFT", "250", "gal")
    assert v3["inputs"] == v3["operations"] == []

    refused = post(client, f"/boms/{bom['id']}/versions", {"content.batch_quantity": "0"})
    assert refused.status_code == 422
    assert 'id="new-batch-quantity" name="content.batch_quantity" type="text" value="0"' in (
        refused.text
    )
    assert "Batch quantity must be more than 0" in refused.text
    assert len(plant.api("GET", f"/boms/{bom['id']}")["versions"]) == 3


# --- the editor of a DRAFT -----------------------------------------------------------------------


def test_the_editor_shows_the_draft_and_saves_what_is_typed(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom(activate=False)
    signed_in(client, tenant, "planner")
    url = f"/boms/{bom['id']}/versions/1/edit"

    form = page(client, url)
    assert 'name="batch_quantity" type="text" value="1000"' in form
    assert 'name="inputs.1.quantity" type="text" value="820"' in form
    assert 'name="inputs.1.loss_percent" type="text" value="1"' in form
    assert 'name="operations.0.operation" type="text" value="Pressing"' in form
    assert 'name="inputs.2.quantity" type="text" value=""' in form  # one spare row
    assert 'name="inputs.3.quantity"' not in form
    version = re.search(r'name="version" value="(\d+)"', form)
    assert version is not None

    saved = post(client, url, {**editor_fields(plant), "version": version.group(1)})

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/boms/{bom['id']}?version=1"
    assert "Version 1 saved." in followed(client, saved)
    v1 = plant.version(bom, 1)
    assert (v1["batch_quantity"], v1["batch_unit"], v1["output_loss_percent"]) == (
        "500",
        "gal",
        "2",
    )
    assert v1["notes"] == "Half batch"
    assert [(i["item_id"], i["quantity"], i["loss_percent"]) for i in v1["inputs"]] == [
        (plant.concentrate["id"], "90", "0"),
        (plant.water["id"], "410", "1.5"),
    ]
    pressing, filtering = v1["operations"]
    assert (pressing["sequence"], pressing["operation"], pressing["interruptible"]) == (
        1,
        "Pressing",
        True,
    )
    assert (pressing["setup_minutes"], pressing["run_minutes_per_unit"]) == ("20", "0.05")
    assert pressing["alternatives"] == [
        {"resource_id": plant.line["id"], "setup_minutes": "40", "run_minutes_per_unit": "0.07"}
    ]
    assert (filtering["sequence"], filtering["operation"], filtering["interruptible"]) == (
        2,
        "Filtering",
        False,
    )
    # and back in the editor as saved, the alternative and the tick included
    again = page(client, url)
    assert 'name="operations.0.alternatives.0.setup_minutes" type="text" value="40"' in again
    assert 'name="operations.0.interruptible" value="true" checked' in again
    assert 'name="operations.1.interruptible" value="true">' in again


def test_a_refused_edit_keeps_what_was_typed_with_each_error_next_to_its_field(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom(activate=False)
    signed_in(client, tenant, "planner")
    url = f"/boms/{bom['id']}/versions/1/edit"
    before_version = plant.version(bom, 1)
    before = db_counts(client.app.state.engine)  # type: ignore[attr-defined]
    fields = {
        **editor_fields(plant),
        "version": str(before_version["version"]),
        "batch_quantity": "lots",
        # a blank row between the inputs, as a browser sends an unused one
        "inputs.1.item_id": "",
        "inputs.1.quantity": "",
        "inputs.1.loss_percent": "",
        "inputs.2.item_id": plant.water["id"],
        "inputs.2.quantity": "-4",
        "operations.1.setup_minutes": "soon",
    }

    response = post(client, url, fields)

    assert response.status_code == 422
    assert db_counts(client.app.state.engine) == before  # type: ignore[attr-defined]
    assert plant.version(bom, 1)["version"] == before_version["version"]
    text = response.text
    attrs, message = field_with_error(text, "batch_quantity")
    assert 'value="lots"' in attrs
    assert 'aria-invalid="true"' in attrs
    assert message == "Batch quantity must be a number"
    # the blank row is gone and the water moved up, with its error next to it
    attrs, message = field_with_error(text, "inputs.1.quantity")
    assert 'value="-4"' in attrs
    assert message == "Quantity must be more than 0"
    attrs, message = field_with_error(text, "operations.1.setup_minutes")
    assert 'value="soon"' in attrs
    assert message == "Setup minutes must be a number"
    # everything else as typed
    assert 'name="notes" rows="2">Half batch</textarea>' in text
    assert 'name="inputs.0.quantity" type="text" value="90"' in text
    assert 'name="operations.0.alternatives.0.setup_minutes" type="text" value="40"' in text
    assert 'name="operations.0.interruptible" value="true" checked' in text
    assert f'<option value="{plant.water["id"]}" selected>' in text
    # one spare input row after the two typed, none after the blank one that was dropped
    assert 'name="inputs.2.quantity" type="text" value=""' in text
    assert 'name="inputs.3.' not in text
    said = visible(text)
    assert "Input 2: quantity must be more than 0" in said
    assert "Operation 2 (Filtering): setup minutes must be a number" in said


def test_a_draft_saved_from_a_form_read_before_another_change_is_refused(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom(activate=False)
    signed_in(client, tenant, "planner")
    read = plant.version(bom, 1)["version"]
    url = f"/boms/{bom['id']}/versions/1/edit"
    assert post(client, url, {**editor_fields(plant), "version": str(read)}).status_code == 303

    stale = post(client, url, {**editor_fields(plant), "notes": "mine", "version": str(read)})

    assert stale.status_code == 412
    assert "someone changed it since you read it" in visible(stale.text)
    assert 'name="notes" rows="2">mine</textarea>' in stale.text
    assert plant.version(bom, 1)["notes"] == "Half batch"


# --- the differences between two versions ---------------------------------------------------------


def test_the_differences_between_two_versions_name_what_changed(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom()
    signed_in(client, tenant, "planner")
    assert post(client, f"/boms/{bom['id']}/versions", {"copy_of": "1"}).status_code == 303
    v2 = plant.version(bom, 2)
    changed = {
        **editor_fields(plant),
        "version": str(v2["version"]),
        "batch_quantity": "1000",
        "output_loss_percent": "",
        "notes": "",
        "inputs.1.item_id": plant.water["id"],
        "inputs.1.quantity": "800",
        "inputs.1.loss_percent": "1",
        "inputs.2.item_id": plant.glass["id"],
        "inputs.2.quantity": "3",
        "inputs.0.quantity": "180",
        "operations.0.setup_minutes": "30",
        "operations.0.run_minutes_per_unit": "",
        "operations.0.interruptible": "",
        "operations.0.alternatives.0.resource_id": "",
        "operations.0.alternatives.0.setup_minutes": "",
        "operations.0.alternatives.0.run_minutes_per_unit": "",
    }
    assert post(client, f"/boms/{bom['id']}/versions/2/edit", changed).status_code == 303

    text = page(client, f"/boms/{bom['id']}?version=2&against=1")

    section = visible(text[text.index('id="diff-h"') :])
    assert section.startswith('id="diff-h">Changes from version 1 to version 2</h2>')
    rows = re.findall(r'<tr class="diff-(\w+)">(.*?)</tr>', section, re.DOTALL)
    by_subject = {re.sub(r"<[^>]+>", "", r[1].split("</th>")[0].split("<th")[1]): r for r in rows}
    water = by_subject[f' scope="row">{label(plant.water)}']
    assert water[0] == "changed"
    assert "Quantity:</span> 820" in water[1]
    assert "Quantity:</span> 800" in water[1]
    assert "Loss %" not in water[1]  # unchanged fields are not listed
    glass = by_subject[f' scope="row">{label(plant.glass)}']
    assert glass[0] == "added"
    assert "Quantity:</span> 3" in glass[1]
    filtering = by_subject[' scope="row">2 · Filtering']
    assert filtering[0] == "added"
    assert f"Resource:</span> {plant.labeler['code']}" in filtering[1]
    assert not any("Pressing" in r[1] for r in rows)  # the same as before
    assert "Batch quantity" not in section
    # the same version against itself, or nothing to compare: no differences section
    assert 'id="diff-h"' not in page(client, f"/boms/{bom['id']}?version=2&against=2")


# --- the preview of a production order's work orders ------------------------------------------


class _Tree(HTMLParser):
    """The work orders of the preview's tree: (number, the number of the one it is drawn
    under or None, whether it is drawn in full)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.stack: list[int | None] = []  # per <li> of the tree: its work order's number
        self.found: list[tuple[int, int | None, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "ul" and a.get("class") == "wo-tree":
            self.inside = True
        if not self.inside:
            return
        if tag == "li":
            self.stack.append(None)
        if tag == "article":
            number = int(re.search(r"Work order (\d+)", a["aria-label"] or "").group(1))  # type: ignore[union-attr]
            self.stack[-1] = number
            parents = [n for n in self.stack[:-1] if n is not None]
            self.found.append(
                (number, parents[-1] if parents else None, "repeat" not in (a["class"] or ""))
            )

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag == "li":
            self.stack.pop()
        if self.inside and tag == "ul" and not self.stack:
            self.inside = False


def tree_of(text: str) -> list[tuple[int, int | None, bool]]:
    parser = _Tree()
    parser.feed(text)
    return parser.found


def test_the_preview_draws_the_tree_of_work_orders_and_writes_nothing(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    juice = plant.juice_bom()
    bottle = plant.bottle_bom()
    po = plant.order("10000")
    signed_in(client, tenant, "planner")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)

    text = page(client, f"/production-orders/{po['id']}/preview")

    assert db_counts(engine) == before
    # Two bottling runs (8,000 and 2,000 bottles: 1,000 gal a run), fed by two juice batches
    # (1,000 and 275 gal); the first run takes both, the second the rest of the second.
    assert tree_of(text) == [
        (1, None, True),
        (3, 1, True),
        (4, 1, True),
        (2, None, True),
        (4, 2, False),
    ]
    said = visible(text)
    assert "4 work orders" in said
    for number, item, qty in (
        (1, plant.bottle, "8,000 ea"),
        (2, plant.bottle, "2,000 ea"),
        (3, plant.juice, "1,000 gal"),
        (4, plant.juice, "275 gal"),
    ):
        assert f'aria-label="Work order {number}: {qty} {label(item)}"' in said
    first = said[said.index('id="wo-1"') : said.index('id="wo-3"')]
    assert "<strong>Bottling</strong> on " + plant.line["code"] in first
    assert "<strong>Labeling</strong> on " + plant.labeler["code"] in first
    assert f"{bottle['code']} version 1" in first
    assert "1,020 gal" in first  # its juice: 8,000 x 0.125 gal + 2 %
    assert '<a href="#wo-3">#3</a>, <a href="#wo-4">#4</a>' in first  # made by
    assert "in stock" in first  # the glass is bought
    batch = said[said.index('id="wo-3"') : said.index('id="wo-4"')]
    assert 'feeds <a href="#wo-1">#1</a>' in batch
    assert f"{juice['code']} version 1" in batch
    assert "<strong>Pressing</strong> on " + plant.press["code"] in batch
    assert "180 gal" in batch  # concentrate of one batch
    assert f'action="/production-orders/{po["id"]}/generate"' in text

    even = page(client, f"/production-orders/{po['id']}/preview?split=EVEN")
    assert 'aria-label="Work order 1: 5,000 ea' in visible(even)
    assert '<input type="hidden" name="split" value="EVEN">' in even
    assert db_counts(engine) == before


def test_generating_from_the_preview_makes_what_it_showed(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order("10000")
    signed_in(client, tenant, "planner")
    preview = page(client, f"/production-orders/{po['id']}/preview?split=EVEN")
    version = re.search(r'name="version" value="(\d+)"', preview)
    assert version is not None

    done = post(
        client,
        f"/production-orders/{po['id']}/generate",
        {"version": version.group(1), "split": "EVEN"},
    )

    assert done.status_code == 303, done.text
    wos = plant.api("GET", f"/work-orders?production_order_id={po['id']}")["items"]
    assert sorted(wo["quantity"] for wo in wos) == ["5000", "5000", "637.5", "637.5"]
    # the work order page links its item, its materials and the BOM version it was made by
    run = next(wo for wo in wos if wo["quantity"] == "5000")
    text = page(client, f"/work-orders/{run['id']}")
    assert f'<a href="/items/{plant.bottle["id"]}">{label(plant.bottle)}</a>' in text
    assert f'<a href="/items/{plant.glass["id"]}">{label(plant.glass)}</a>' in text
    assert re.search(
        rf'<a href="/boms/[^"]+\?version=1">BTL-{plant.bottle["sku"]} version 1</a>', text
    )


def test_the_preview_says_why_an_order_cannot_be_generated(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    po = plant.order("100")  # the bottle has no BOM
    signed_in(client, tenant, "planner")

    response = client.get(f"/production-orders/{po['id']}/preview")

    assert response.status_code == 409
    assert f"{plant.bottle['name']} has no active bill of material." in visible(response.text)
    assert "/generate" not in response.text
    assert 'href="/production-orders/' in page(client, f"/production-orders/{po['id']}")
    assert f'href="/production-orders/{po["id"]}/preview"' in page(
        client, f"/production-orders/{po['id']}"
    )


# --- an item's page -----------------------------------------------------------------------------


def test_an_item_page_shows_its_fields_its_boms_and_where_it_is_used_at_every_level(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    juice = plant.juice_bom()
    bottle = plant.bottle_bom()
    signed_in(client, tenant, "planner")

    text = page(client, f"/items/{plant.concentrate['id']}")

    assert label(plant.concentrate) in text
    assert "No bill of material makes it" in text
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", text, re.DOTALL)
    used = [(re.sub(r"<[^>]+>", " ", r).split()) for r in rows]
    assert [(u[0], u[-1] if u[-1] != "(directly)" else u[-2]) for u in used] == [
        (juice["code"], "1"),
        (bottle["code"], "2"),
    ]
    assert f'<a href="/items/{plant.bottle["id"]}">{label(plant.bottle)}</a>' in text

    made = page(client, f"/items/{plant.juice['id']}")
    assert f'<a href="/boms/{juice["id"]}">{juice["code"]} · Apple Juice</a>' in made
    assert "v1 ACTIVE" in made
    assert 'href="/boms/new?item_id=' in made
    bottle_page = page(client, f"/items/{plant.bottle['id']}")
    assert "No bill of material uses it." in bottle_page
    assert "0.125 gal = 1 ea" in bottle_page
    # and the BOM page links to its inputs' pages
    assert f'href="/items/{plant.concentrate["id"]}"' in page(client, f"/boms/{juice['id']}")


# --- tenancy and roles ----------------------------------------------------------------------------


def test_another_organisations_boms_items_and_previews_are_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = Plant(client, other_tenant)
    bom = theirs.juice_bom(activate=False)
    po = theirs.order("100")
    signed_in(client, tenant, "planner")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)

    assert bom["code"] not in page(client, "/boms")
    for url in (
        f"/boms/{bom['id']}",
        f"/boms/{bom['id']}/versions/1/edit",
        f"/items/{theirs.juice['id']}",
        f"/production-orders/{po['id']}/preview",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.text or "not found" in response.text.lower()
    for url, data in (
        (f"/boms/{bom['id']}/versions/1/activate", {"version": "1"}),
        (f"/boms/{bom['id']}/versions", {"copy_of": "1"}),
        (f"/boms/{bom['id']}/versions/1/edit", {**editor_fields(theirs), "version": "1"}),
    ):
        assert post(client, url, data).status_code == 404, url
    assert db_counts(engine) == before
    assert theirs.version(bom, 1)["status"] == "DRAFT"


def test_a_viewer_sees_every_bom_page_but_no_action_and_may_not_forge_one(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    bom = plant.juice_bom(activate=False)
    plant.bottle_bom()
    po = plant.order("100")
    signed_in(client, tenant, "viewer")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = db_counts(engine)

    for url in (
        "/boms",
        f"/boms/{bom['id']}",
        f"/items/{plant.juice['id']}",
        f"/production-orders/{po['id']}/preview",
    ):
        text = page(client, url)
        assert post_forms(text) == [], url
        assert "/edit" not in text, url
        assert "/boms/new" not in text, url
    page(client, f"/boms/{bom['id']}/versions/1/edit", 403)
    page(client, "/boms/new", 403)
    for url, data in (
        (f"/boms/{bom['id']}/versions/1/activate", {"version": "1"}),
        (f"/boms/{bom['id']}/versions", {"copy_of": "1"}),
        (f"/boms/{bom['id']}/versions/1/edit", {**editor_fields(plant), "version": "1"}),
        ("/boms/new", {"code": "X", "name": "X", "item_id": plant.glass["id"], "type": "KIT"}),
    ):
        response = post(client, url, data)
        assert response.status_code == 403, url
        assert "The viewer role may not" in visible(response.text)
    assert db_counts(engine) == before


def test_a_planner_creates_a_bom_with_its_first_version_from_the_portal(
    client: TestClient, tenant: Tenant, plant: Plant
) -> None:
    signed_in(client, tenant, "planner")
    refused = post(client, "/boms/new", {"code": "", "name": "Case", "type": "BOX"})
    assert refused.status_code == 422
    assert 'name="name" type="text" value="Case"' in refused.text
    said = visible(refused.text)
    assert "Code is required" in said
    assert "Item is required" in said

    made = post(
        client,
        "/boms/new",
        {
            "code": "CASE-24",
            "name": "Case of 24",
            "item_id": plant.glass["id"],
            "type": "SECONDARY_PACKAGING",
            "version.batch_quantity": "24",
        },
    )

    assert made.status_code == 303, made.text
    assert made.headers["location"].endswith("/versions/1/edit")
    (bom,) = plant.api("GET", f"/boms?item_id={plant.glass['id']}")["items"]
    assert (bom["code"], bom["type"], bom["versions"][0]["status"]) == (
        "CASE-24",
        "SECONDARY_PACKAGING",
        "DRAFT",
    )


# --- speed ------------------------------------------------------------------------------------


def test_the_pages_read_in_a_fixed_number_of_queries(
    client: TestClient, tenant: Tenant, app: FastAPI, plant: Plant
) -> None:
    small = plant.juice_bom()
    signed_in(client, tenant, "planner")

    def counts(bom: Json) -> dict[str, int]:
        return {
            "list": queries_for(client, app, "/boms"),
            "page": queries_for(client, app, f"/boms/{bom['id']}?version=2&against=1"),
            "edit": queries_for(client, app, f"/boms/{bom['id']}/versions/2/edit"),
            "item": queries_for(client, app, f"/items/{plant.concentrate['id']}"),
        }

    plant.api("POST", f"/boms/{small['id']}/versions", {"copy_of": 1})
    few = counts(small)
    extra = [plant.item(name=f"Extra {n}") for n in range(4)]
    big = plant.juice_bom(
        code="JUICE-BIG",
        version={
            "batch_quantity": "1000",
            "inputs": [{"item_id": i["id"], "quantity": "1"} for i in [plant.concentrate, *extra]],
            "operations": [
                {"operation": f"Step {n}", "resource_id": plant.press["id"]} for n in range(4)
            ],
        },
    )
    plant.api("POST", f"/boms/{big['id']}/versions", {"copy_of": 1})
    for n in range(3):
        plant.juice_bom(activate=False, code=f"MORE-{n}")
    assert counts(big) == few
