"""A small plant with stock: materials, their lots, and work orders that need them."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import (
    API,
    T0,
    Json,
    Plant,
    act_on_work_order,
    expect,
    expect_object,
    get_work_order,
    make_item,
    make_plant,
    make_production_order,
)
from tests.helpers import Tenant


@dataclass
class Stock:
    client: TestClient
    tenant: Tenant
    plant: Plant
    customer: Json
    other_customer: Json

    def material(self, **changes: Any) -> Json:
        """A lot-tracked raw material counted in ea, FEFO, available at receipt."""
        return make_item(self.client, self.tenant, type="RAW_MATERIAL", precision=0, **changes)

    def receive(
        self, item: Json, quantity: str, *, role: str = "operator", status: int = 201, **body: Any
    ) -> Any:
        payload = {
            "item_id": item["id"],
            "facility_id": self.plant.facility["id"],
            "quantity": quantity,
            **body,
        }
        return expect(
            self.client.post(f"{API}/receipts", json=payload, headers=self.tenant.headers(role)),
            status,
        )

    def lot(self, lot_id: str) -> Json:
        return expect_object(
            self.client.get(f"{API}/lots/{lot_id}", headers=self.tenant.headers("viewer"))
        )

    def entries(self, lot_id: str) -> list[Json]:
        page = expect_object(
            self.client.get(
                f"{API}/lots/{lot_id}/entries",
                params={"limit": 500},
                headers=self.tenant.headers("viewer"),
            )
        )
        items: list[Json] = page["items"]
        return items

    def lot_action(self, lot: Json, action: str, body: Any = None, *, role: str = "planner") -> Any:
        return self.client.post(
            f"{API}/lots/{lot['id']}/{action}", json=body, headers=self.tenant.headers(role)
        )

    def work_order(self, needs: list[tuple[Json, str]], *, owner: Json | None = None) -> Json:
        """A DRAFT work order (in a production order of `owner`, if given) of the plant's
        item that needs `quantity` of each material, planned from T0 to T0 + 2 h."""
        changes: dict[str, Any] = {}
        if owner is not None:
            changes["owner_id"] = owner["id"]
        po = make_production_order(self.client, self.tenant, self.plant, **changes)
        wo = get_work_order(self.client, self.tenant, po["work_orders"][0]["id"])
        patched = self.client.patch(
            f"{API}/work-orders/{wo['id']}",
            json={
                "materials": [
                    {"item_id": item["id"], "quantity": quantity} for item, quantity in needs
                ]
            },
            headers={**self.tenant.headers(), "If-Match": f'"{wo["version"]}"'},
        )
        expect(patched)
        return get_work_order(self.client, self.tenant, wo["id"])

    def materials(self, wo: Json) -> list[Json]:
        found: list[Json] = expect(
            self.client.get(
                f"{API}/work-orders/{wo['id']}/materials", headers=self.tenant.headers("viewer")
            )
        )
        return found

    def allocate(self, wo: Json, body: Json, *, role: str = "planner") -> Any:
        return self.client.post(
            f"{API}/work-orders/{wo['id']}/allocate", json=body, headers=self.tenant.headers(role)
        )

    def pull(self, wo: Json, body: Json, *, role: str = "operator") -> Any:
        return self.client.post(
            f"{API}/work-orders/{wo['id']}/pulls", json=body, headers=self.tenant.headers(role)
        )

    def act(self, wo: Json, action: str) -> Json:
        return act_on_work_order(
            self.client, self.tenant, get_work_order(self.client, self.tenant, wo["id"]), action
        )


def make_stock(client: TestClient, tenant: Tenant, *, parallel_capacity: int = 1) -> Stock:
    """A plant (its resources taking `parallel_capacity` jobs at once) and two customers."""
    plant = make_plant(client, tenant, parallel_capacity=parallel_capacity)
    customers = [
        expect_object(
            client.post(
                f"{API}/customers",
                json={"name": name, "code": code},
                headers=tenant.headers(),
            ),
            201,
        )
        for name, code in (("Healthy Juices Inc.", "HJ"), ("Peak Kombucha Co.", "PK"))
    ]
    return Stock(client, tenant, plant, customers[0], customers[1])


def days(n: float) -> str:
    """T0 + n days, as the API takes timestamps."""
    return (T0 + timedelta(days=n)).isoformat()
