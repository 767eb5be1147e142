"""Stock under concurrency, on PostgreSQL over real HTTP: 32 clients allocating, or pulling,
the same lot at once never take more than it holds; the losers get 409 and change nothing
(their work orders hold no allocation, their pulls no entry)."""

from collections import Counter
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.api.test_concurrency import race
from tests.factories import API, Json, expect
from tests.helpers import Tenant
from tests.inventory.stock import Stock, make_stock

pytestmark = pytest.mark.postgres_only

CLIENTS = 32


@pytest.fixture
def stock(client: TestClient, tenant: Tenant) -> Stock:
    return make_stock(client, tenant, parallel_capacity=CLIENTS)


def _work(stock: Stock, item: Json, count: int, *, started: bool) -> list[Json]:
    work = [stock.work_order([(item, "5")]) for _ in range(count)]
    if started:
        for wo in work:
            stock.act(wo, "schedule")
            stock.act(wo, "start")
    return work


def test_clients_allocating_one_lot_at_once_never_over_allocate_it(
    stock: Stock, live_server: str
) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "100")  # 20 allocations of 5
    work = _work(stock, cap, CLIENTS, started=False)
    body = {"lots": [{"lot_id": lot["id"], "quantity": "5"}]}
    responses = race(
        live_server,
        [("POST", f"/work-orders/{wo['id']}/allocate", body, stock.tenant.headers())
         for wo in work],
    )  # fmt: skip
    assert Counter(r.status_code for r in responses) == {200: 20, 409: 12}
    after = stock.lot(lot["id"])
    assert Decimal(after["quantity_allocated"]) == 100
    allocated = [Decimal(stock.materials(wo)[0]["allocated"]) for wo in work]
    assert sorted(allocated) == [Decimal(0)] * 12 + [Decimal(5)] * 20
    assert [e["kind"] for e in stock.entries(lot["id"])].count("ALLOCATE") == 20


def test_clients_pulling_one_lot_at_once_never_pull_more_than_is_on_hand(
    stock: Stock, live_server: str
) -> None:
    cap = stock.material()
    lot = stock.receive(cap, "100", lot_code="RACE-1")
    work = _work(stock, cap, CLIENTS, started=True)
    body = {"lot_code": "RACE-1", "quantity": "5"}
    responses = race(
        live_server,
        [("POST", f"/work-orders/{wo['id']}/pulls", body, stock.tenant.headers("operator"))
         for wo in work],
    )  # fmt: skip
    assert Counter(r.status_code for r in responses) == {201: 20, 409: 12}
    after = stock.lot(lot["id"])
    assert Decimal(after["quantity_on_hand"]) == 0
    assert after["status"] == "DEPLETED"
    pulled = [Decimal(stock.materials(wo)[0]["pulled"]) for wo in work]
    assert sorted(pulled) == [Decimal(0)] * 12 + [Decimal(5)] * 20


def test_work_orders_of_one_item_finishing_at_once_number_their_output_lots_apart(
    stock: Stock, live_server: str
) -> None:
    """Their lots' `{n}` comes from the item's counter of the day, claimed apart from each
    report's transaction: every report succeeds, and no two lots share a number."""
    work = _work(stock, stock.plant.item, CLIENTS, started=True)
    headers = stock.tenant.headers("operator")
    last = []
    for wo in work:
        *before, final = wo["line_items"]
        for li in before:
            expect(
                stock.client.post(
                    f"{API}/work-orders/{wo['id']}/line-items/{li['id']}/report",
                    json={"quantity_completed": "5", "done": True},
                    headers=headers,
                )
            )
        last.append((wo, final))
    responses = race(
        live_server,
        [("POST", f"/work-orders/{wo['id']}/line-items/{li['id']}/report",
          {"quantity_completed": "5", "done": True}, headers)
         for wo, li in last],
    )  # fmt: skip
    assert Counter(r.status_code for r in responses) == {200: CLIENTS}
    lots = expect(
        stock.client.get(
            f"{API}/lots",
            params={"item_id": stock.plant.item["id"], "limit": 100},
            headers=stock.tenant.headers("viewer"),
        )
    )["items"]
    numbers = sorted(int(lot["code"].rsplit("-", 1)[1]) for lot in lots)
    assert numbers == list(range(1, CLIENTS + 1))
