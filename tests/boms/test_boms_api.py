"""Bills of material over the API, on both databases: versions that change only as DRAFTs,
one ACTIVE at a time, activation that refuses units that do not fit and items made of
themselves, the explosion's preview, generation into a DRAFT production order (replacing what
was generated, refused once it moved on), where-used; tenancy and roles."""

import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.helpers import API, Tenant, assert_problem, bodies, create, db_counts
from tests.portal.conftest import signed_in

Json = dict[str, Any]


class Plant:
    """The demo's juice and bottles: Cold Press 1 and Bottling Line 1 take 1,000 gal a run."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client, self.tenant = client, tenant
        facility = create(client, tenant, "/facilities", bodies.facility())
        self.press = create(
            client, tenant, "/resources", bodies.resource(facility["id"], code="CP1")
        )
        self.line = create(
            client, tenant, "/resources", bodies.resource(facility["id"], code="BL1")
        )
        self.labeler = create(
            client,
            tenant,
            "/resources",
            bodies.resource(
                facility["id"], capacity_min=None, capacity_max=None, capacity_unit=None
            ),
        )
        self.juice = self.item(name="Apple Juice", unit="gal", precision=3, type="WORK_IN_PROGRESS")
        self.concentrate = self.item(
            name="Concentrate", unit="gal", precision=3, type="RAW_MATERIAL"
        )
        self.bottle = self.item(
            name="16oz Apple Juice Bottle",
            unit="ea",
            precision=0,
            conversions=[{"unit": "gal", "quantity": "0.125", "base_quantity": "1"}],
        )
        self.glass = self.item(name="Glass bottle", unit="ea", precision=0, type="RAW_MATERIAL")

    def item(self, **fields: Any) -> Json:
        made: Json = create(self.client, self.tenant, "/items", bodies.item(**fields))
        return made

    def juice_bom(self, activate: bool = True) -> Json:
        bom = self.bom(
            code=f"JUICE-{self.juice['sku']}",
            name="Apple Juice",
            item_id=self.juice["id"],
            type="FORMULA",
            version={
                "batch_quantity": "1000",
                "inputs": [{"item_id": self.concentrate["id"], "quantity": "180"}],
                "operations": [
                    {
                        "operation": "Pressing",
                        "resource_id": self.press["id"],
                        "setup_minutes": "30",
                    }
                ],
            },
        )
        if activate:
            self.post(f"/boms/{bom['id']}/versions/1/activate")
        return bom

    def bottle_bom(self, activate: bool = True) -> Json:
        bom = self.bom(
            code=f"BTL-{self.bottle['sku']}",
            name="16oz bottle",
            item_id=self.bottle["id"],
            type="PACKAGING",
            version={
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
        )
        if activate:
            self.post(f"/boms/{bom['id']}/versions/1/activate")
        return bom

    def bom(self, **body: Any) -> Json:
        made: Json = create(self.client, self.tenant, "/boms", body)
        return made

    def post(
        self, path: str, body: Json | None = None, role: str = "planner", status: int = 200
    ) -> Any:
        response = self.client.post(f"{API}{path}", json=body, headers=self.tenant.headers(role))
        assert response.status_code == status, response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"{API}{path}", params=params, headers=self.tenant.headers())
        assert response.status_code == 200, response.text
        return response.json()

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


def test_ten_thousand_bottles_generate_two_bottling_runs_fed_by_two_juice_batches(
    plant: Plant,
) -> None:
    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order()

    generated = plant.post(f"/production-orders/{po['id']}/generate")

    assert len(generated["work_orders"]) == 4  # the order's briefs
    wos = plant.get("/work-orders", production_order_id=po["id"])["items"]
    by_item = {
        name: [wo for wo in wos if wo["item_id"] == item["id"]]
        for name, item in (("bottle", plant.bottle), ("juice", plant.juice))
    }
    assert sorted(wo["quantity"] for wo in by_item["bottle"]) == ["2000", "8000"]
    assert sorted(wo["quantity"] for wo in by_item["juice"]) == ["1000", "275"]
    first = next(wo for wo in by_item["bottle"] if wo["quantity"] == "8000")
    juice_ids = {wo["id"] for wo in by_item["juice"]}
    assert set(first["depends_on"]) == juice_ids  # the first run takes both batches
    assert [li["operation"] for li in first["line_items"]] == ["Bottling", "Labeling"]
    assert all(wo["state"] == "DRAFT" and wo["production_order_id"] == po["id"] for wo in wos)
    materials = plant.get(f"/work-orders/{first['id']}/materials")
    assert [(m["item_id"], m["quantity"]) for m in materials] == [
        (plant.juice["id"], "1020"),
        (plant.glass["id"], "8000"),
    ]


def test_the_preview_writes_nothing_and_shows_what_generation_makes(
    plant: Plant, session: Session
) -> None:
    plant.juice_bom()
    bottle = plant.bottle_bom()
    before = db_counts(session)

    preview = plant.get(f"/boms/{bottle['id']}/explode", quantity="10000", split="EVEN")

    assert db_counts(session) == before
    assert [(wo["level"], wo["quantity"]) for wo in preview["work_orders"]] == [
        (0, "5000"),
        (0, "5000"),
        (1, "637.5"),
        (1, "637.5"),
    ]
    # each bottling run is fed by exactly one of the two even batches
    assert preview["work_orders"][0]["depends_on"] == [2]
    assert preview["work_orders"][1]["depends_on"] == [3]


def test_generating_again_replaces_the_generated_drafts_and_is_refused_once_one_moved_on(
    plant: Plant,
) -> None:
    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order("4000")
    first = plant.post(f"/production-orders/{po['id']}/generate")

    again = plant.post(f"/production-orders/{po['id']}/generate")

    live = plant.get("/work-orders", production_order_id=po["id"])["items"]
    assert {wo["id"] for wo in live} == {wo["id"] for wo in again["work_orders"]}
    assert not {wo["id"] for wo in live} & {wo["id"] for wo in first["work_orders"]}
    assert len(live) == len(first["work_orders"])
    for old in first["work_orders"]:  # replaced: DELETED, kept for the audit
        assert plant.get(f"/work-orders/{old['id']}")["state"] == "DELETED"
    (generate,) = [e for e in plant.get(f"/production-orders/{po['id']}/events")
                   if e["action"] == "generate" and e["changes"]["replaced"]]  # fmt: skip
    assert sorted(generate["changes"]["replaced"]) == sorted(
        wo["number"] for wo in first["work_orders"]
    )
    bottling = next(wo for wo in live if wo["item_id"] == plant.bottle["id"])
    plant.post(f"/work-orders/{bottling['id']}/cancel", {"reason": "Bottles short"})
    refused = plant.client.post(
        f"{API}/production-orders/{po['id']}/generate", headers=plant.tenant.headers()
    )
    problem = assert_problem(refused, 409)
    assert bottling["number"] in problem["detail"]


def test_one_version_is_active_at_a_time_and_only_a_draft_changes(plant: Plant) -> None:
    bom = plant.juice_bom()
    second = plant.post(f"/boms/{bom['id']}/versions", {"copy_of": 1}, status=201)
    assert (second["number"], second["status"]) == (2, "DRAFT")
    changed = plant.client.patch(
        f"{API}/boms/{bom['id']}/versions/2",
        json={"batch_quantity": "500"},
        headers=plant.tenant.headers(),
    )
    assert changed.status_code == 200, changed.text

    plant.post(f"/boms/{bom['id']}/versions/2/activate")

    versions = plant.get(f"/boms/{bom['id']}")["versions"]
    assert [(v["number"], v["status"]) for v in versions] == [(1, "RETIRED"), (2, "ACTIVE")]
    frozen = plant.client.patch(
        f"{API}/boms/{bom['id']}/versions/2",
        json={"batch_quantity": "700"},
        headers=plant.tenant.headers(),
    )
    assert "never changes" in assert_problem(frozen, 409)["detail"]
    diff = plant.get(f"/boms/{bom['id']}/versions/2/diff", against=1)
    assert [(d["part"], d["key"]) for d in diff["differences"]] == [("batch", "batch_quantity")]


def test_activation_refuses_a_resource_counted_in_another_unit_naming_both(plant: Plant) -> None:
    facility = create(plant.client, plant.tenant, "/facilities", bodies.facility())
    scale = create(
        plant.client,
        plant.tenant,
        "/resources",
        bodies.resource(facility["id"], code="SCALE", capacity_unit="kg"),
    )
    bom = plant.bom(
        code="JUICE-KG",
        name="Juice",
        item_id=plant.juice["id"],
        type="FORMULA",
        version={
            "batch_quantity": "1000",
            "operations": [{"operation": "Weigh", "resource_id": scale["id"]}],
        },
    )

    refused = plant.client.post(
        f"{API}/boms/{bom['id']}/versions/1/activate", headers=plant.tenant.headers()
    )

    detail = assert_problem(refused, 409)["detail"]
    assert "Resource SCALE takes its capacity in kg, but this BOM is in gal." in detail


def test_activation_refuses_an_item_made_of_itself_naming_the_cycle(plant: Plant) -> None:
    plant.juice_bom()
    loop = plant.bom(
        code="CONC-LOOP",
        name="Concentrate from juice",
        item_id=plant.concentrate["id"],
        type="FORMULA",
        version={
            "batch_quantity": "1",
            "inputs": [{"item_id": plant.juice["id"], "quantity": "2"}],
        },
    )

    refused = plant.client.post(
        f"{API}/boms/{loop['id']}/versions/1/activate", headers=plant.tenant.headers()
    )

    assert "(Concentrate -> Apple Juice -> Concentrate)" in assert_problem(refused, 409)["detail"]


def test_where_used_finds_every_level(plant: Plant) -> None:
    juice = plant.juice_bom()
    bottle = plant.bottle_bom()

    used = plant.get(f"/items/{plant.concentrate['id']}/where-used")

    assert [(u["bom_id"], u["level"]) for u in used] == [(juice["id"], 1), (bottle["id"], 2)]


def test_another_organisations_bom_is_not_found_and_only_planners_write(
    plant: Plant, other_tenant: Tenant
) -> None:
    bom = plant.juice_bom(activate=False)
    client = plant.client
    assert client.get(f"{API}/boms/{bom['id']}", headers=other_tenant.headers()).status_code == 404
    for role in ("viewer", "operator"):
        assert (
            client.get(f"{API}/boms/{bom['id']}", headers=plant.tenant.headers(role)).status_code
            == 200
        )
        response = client.post(
            f"{API}/boms/{bom['id']}/versions/1/activate", headers=plant.tenant.headers(role)
        )
        assert_problem(response, 403)
    po = plant.order()
    assert_problem(
        client.post(f"{API}/production-orders/{po['id']}/generate", headers=other_tenant.headers()),
        404,
    )


@pytest.mark.postgres_only
def test_concurrent_activations_leave_one_version_active(live_server: str, plant: Plant) -> None:
    bom = plant.juice_bom(activate=False)
    for _ in range(3):
        plant.post(f"/boms/{bom['id']}/versions", {"copy_of": 1}, status=201)
    start = threading.Barrier(4)
    statuses: list[int] = []

    def activate(number: int) -> None:
        with httpx.Client(base_url=live_server, headers=plant.tenant.headers()) as http:
            start.wait()
            statuses.append(
                http.post(f"{API}/boms/{bom['id']}/versions/{number}/activate").status_code
            )

    threads = [threading.Thread(target=activate, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    versions = plant.get(f"/boms/{bom['id']}")["versions"]
    assert [v["status"] for v in versions].count("ACTIVE") == 1
    assert statuses.count(200) >= 1


def test_a_generated_work_orders_page_shows_its_bom_version_and_materials(
    plant: Plant,
) -> None:
    from tests.portal.conftest import signed_in

    plant.juice_bom()
    bottle = plant.bottle_bom()
    po = plant.order("800")
    plant.post(f"/production-orders/{po['id']}/generate")
    (bottling,) = [
        wo
        for wo in plant.get("/work-orders", production_order_id=po["id"])["items"]
        if wo["item_id"] == plant.bottle["id"]
    ]
    signed_in(plant.client, plant.tenant, "viewer")

    page = plant.client.get(f"/work-orders/{bottling['id']}")

    assert page.status_code == 200
    assert f"{bottle['code']} version 1" in page.text
    assert "Materials" in page.text
    assert f"{plant.glass['sku']} · Glass bottle" in page.text
    assert ">102<" in page.text  # 800 x 0.125 gal x 1.02 of juice


def test_a_planner_generates_a_draft_orders_work_orders_from_its_page(plant: Plant) -> None:
    from tests.portal.conftest import csrf_of, signed_in

    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order()
    signed_in(plant.client, plant.tenant, "planner")
    page = plant.client.get(f"/production-orders/{po['id']}")
    assert "Generate work orders" in page.text

    posted = plant.client.post(
        f"/production-orders/{po['id']}/generate",
        data={
            "csrf_token": csrf_of(page.text),
            "version": str(po["version"]),
            "split": "EVEN",
            "round_up_to_minimum": "true",
        },
        follow_redirects=False,
    )

    assert posted.status_code == 303, posted.text
    landed = plant.client.get(posted.headers["location"])
    assert f"Work orders of {po['number']} generated from its bills of material." in landed.text
    wos = plant.get("/work-orders", production_order_id=po["id"])["items"]
    assert sorted(wo["quantity"] for wo in wos if wo["item_id"] == plant.bottle["id"]) == [
        "5000",
        "5000",
    ]


def test_a_version_number_beyond_the_databases_integer_is_refused_naming_it(plant: Plant) -> None:
    bom = plant.juice_bom()
    headers = plant.tenant.headers()
    too_big = 2**31
    for path, where in (
        (f"/boms/{bom['id']}/versions/{too_big}", ["path", "number"]),
        (f"/boms/{bom['id']}/versions/1/diff?against={too_big}", ["query", "against"]),
        (f"/boms/{bom['id']}/explode?quantity=10&version={too_big}", ["query", "version"]),
    ):
        problem = assert_problem(plant.client.get(f"{API}{path}", headers=headers), 422)
        assert [e["loc"] for e in problem["errors"]] == [where], path
    copied = plant.client.post(
        f"{API}/boms/{bom['id']}/versions", json={"copy_of": too_big}, headers=headers
    )
    assert [e["loc"] for e in assert_problem(copied, 422)["errors"]] == [["body", "copy_of"]]
    signed_in(plant.client, plant.tenant, "planner")
    page = plant.client.get(f"/boms/{bom['id']}/versions/{too_big}/edit")
    assert page.status_code == 422


def test_a_retried_generation_with_its_idempotency_key_generates_nothing_again(
    plant: Plant,
) -> None:
    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order("4000")
    path = f"{API}/production-orders/{po['id']}/generate"
    headers = {**plant.tenant.headers(), "Idempotency-Key": "generate-4000"}

    first = plant.client.post(path, json={"split": "EVEN"}, headers=headers)
    retried = plant.client.post(path, json={"split": "EVEN"}, headers=headers)
    other = plant.client.post(path, json={"split": "FULL"}, headers=headers)

    assert first.status_code == retried.status_code == 200, first.text
    assert first.headers["ETag"] == f'"{first.json()["version"]}"'
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    live = plant.get("/work-orders", production_order_id=po["id"])["items"]
    assert {wo["id"] for wo in live} == {wo["id"] for wo in first.json()["work_orders"]}
    generated = [e for e in plant.get(f"/production-orders/{po['id']}/events")
                 if e["action"] == "generate"]  # fmt: skip
    assert len(generated) == 1
    assert_problem(other, 422, "idempotency-key-reused")


def test_generated_work_orders_keep_their_snapshot_when_the_bom_changes_or_retires(
    plant: Plant,
) -> None:
    juice = plant.juice_bom()
    plant.bottle_bom()
    po = plant.order("4000")
    plant.post(f"/production-orders/{po['id']}/generate")

    def snapshot() -> dict[str, Any]:
        found = plant.get("/work-orders", production_order_id=po["id"])["items"]
        return {
            wo["number"]: (
                wo["bom_version_id"],
                wo["quantity"],
                [(li["operation"], li["resource_id"], li["setup_minutes"],
                  li["run_minutes_per_unit"]) for li in wo["line_items"]],
                [(m["item_id"], m["quantity"], m["unit"], m["bom_input_id"])
                 for m in plant.get(f"/work-orders/{wo['id']}/materials")],
            )
            for wo in found
        }  # fmt: skip

    before = snapshot()
    # a second version that needs twice the concentrate and a longer pressing, made ACTIVE
    # (which retires the first), then retired itself
    plant.post(f"/boms/{juice['id']}/versions", {"copy_of": 1}, status=201)
    changed = plant.client.patch(
        f"{API}/boms/{juice['id']}/versions/2",
        json={
            "inputs": [{"item_id": plant.concentrate["id"], "quantity": "360"}],
            "operations": [
                {"operation": "Pressing", "resource_id": plant.press["id"], "setup_minutes": "90"}
            ],
        },
        headers=plant.tenant.headers(),
    )
    assert changed.status_code == 200, changed.text
    plant.post(f"/boms/{juice['id']}/versions/2/activate")
    plant.post(f"/boms/{juice['id']}/versions/2/retire")

    assert [v["status"] for v in plant.get(f"/boms/{juice['id']}")["versions"]] == [
        "RETIRED",
        "RETIRED",
    ]
    assert snapshot() == before
    assert any(materials for *_, materials in before.values())
