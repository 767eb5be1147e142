"""Lists of work orders and production orders: every filter, paged by cursor.

One organisation's catalogue of orders in every state is built once per database; each filter
is then checked against what the catalogue says it should find, both in one page and walked
three at a time: same records, same order, no duplicates, no gaps. DELETED records show only
when asked for by name.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.orders import reading
from tests.api.conftest import WINDOW_BASE, Builder, Json, iso
from tests.helpers import API, Tenant, assert_problem, create_tenant, error_fields

STATES = ("DRAFT", "SCHEDULED", "IN_PROCESS", "COMPLETED", "CANCELED", "DELETED")
D = WINDOW_BASE  # due dates and windows are laid out from here


def when(days: float) -> datetime:
    return D + timedelta(days=days)


@dataclass
class Catalogue:
    client: TestClient
    tenant: Tenant
    refs: dict[str, Json] = field(default_factory=dict)
    work_orders: list[Json] = field(default_factory=list)  # as they are now, in id order
    production_orders: list[Json] = field(default_factory=list)

    def ref(self, name: str) -> str:
        return str(self.refs[name]["id"])


def _build(client: TestClient, tenant: Tenant) -> Catalogue:
    b = Builder(client, tenant)
    cat = Catalogue(client, tenant)
    r1 = b.resource(parallel_capacity=1000, code="FILLER-1")
    r2 = b.resource(r1["facility_id"], parallel_capacity=1000, code="LABELER-1")
    apple = b.item(sku="APPLE-16OZ", name="Organic Apple Juice 16oz")
    kombucha = b.item(sku="KOMBUCHA-12", name="Ginger Kombucha 12oz")
    case = b.item(sku="CASE_24", name="Shipping case 100% recycled")
    healthy, peak = b.customer(name="Healthy Juices Inc."), b.customer(name="Peak Kombucha Co.")
    cat.refs.update(r1=r1, r2=r2, apple=apple, kombucha=kombucha, case=case)
    cat.refs.update(healthy=healthy, peak=peak)

    def order(owner: Json | None, item: Json, resource: Json, n: int, due: float, ref: str) -> Json:
        body = b.production_order_body(work_orders=0, item_id=item["id"])
        body.update(
            owner_id=owner["id"] if owner else None,
            due_date=iso(when(due)),
            reference=ref,
            work_orders=[
                b.work_order_body(item_id=item["id"], resource_id=resource["id"]) for _ in range(n)
            ],
        )
        return b.ok("POST", "/production-orders", body)

    p_scheduled = order(healthy, apple, r1, 3, 30, "HJ-PO-7781")
    b.ok("POST", f"/production-orders/{p_scheduled['id']}/schedule")
    p_draft = order(peak, kombucha, r2, 2, 60, "PK_2031%A")
    p_deleted = order(healthy, case, r1, 2, 10, "HJ-PO-0001")
    b.ok("DELETE", f"/production-orders/{p_deleted['id']}")
    p_canceled = order(None, apple, r2, 1, 45, "INTERNAL")
    b.ok("POST", f"/production-orders/{p_canceled['id']}/cancel", {"reason": "dropped"})
    p_running = order(peak, case, r2, 2, 20, "PK-4410")
    b.ok("POST", f"/production-orders/{p_running['id']}/schedule")
    first = b.get(f"/production-orders/{p_running['id']}")["work_orders"][0]
    b.ok("POST", f"/work-orders/{first['id']}/start")
    cat.refs.update(p_scheduled=p_scheduled, p_draft=p_draft, p_deleted=p_deleted)
    cat.refs.update(p_canceled=p_canceled, p_running=p_running)

    standalone = [
        (apple, r1, "DRAFT", 5),
        (apple, r2, "SCHEDULED", 12),
        (kombucha, r1, "IN_PROCESS", None),
        (kombucha, r2, "COMPLETED", 3),
        (case, r1, "CANCELED", 5),
        (case, r2, "DELETED", 12),
        (apple, r1, "DELETED", None),
        (kombucha, r1, "DRAFT", 25),
        (case, r1, "SCHEDULED", 40),
        (apple, r2, "ON_HOLD", 12),
        (case, r2, "DRAFT", None),
        (kombucha, r2, "CANCELED", 5),
        (apple, r1, "SCHEDULED", 25),
        (case, r1, "IN_PROCESS", 12),
    ]
    for item, resource, state, due in standalone:
        extra = {} if due is None else {"due_date": iso(when(due))}
        b.wo_in(state, item_id=item["id"], resource_id=resource["id"], **extra)
    # one on both resources, one with no line items (so no planned window at all)
    two = b.work_order_body(item_id=kombucha["id"], resource_id=r1["id"], lines=2)
    two["line_items"][1]["resource_id"] = r2["id"]
    b.ok("POST", "/work-orders", two)
    b.ok("POST", "/work-orders", b.work_order_body(item_id=apple["id"], lines=0))

    for collection, into in (
        ("work-orders", cat.work_orders),
        ("production-orders", cat.production_orders),
    ):
        everything = []
        for state in STATES:
            page = b.get(f"/{collection}?limit=500&state={state}")
            assert page["next_cursor"] is None
            everything += page["items"]
        into.extend(sorted(everything, key=lambda r: str(r["id"])))
    return cat


@pytest.fixture(scope="module")
def catalogue(app: FastAPI) -> Iterator[Catalogue]:
    with TestClient(app) as client:
        yield _build(client, create_tenant(app.state.session_factory))


def _walk(cat: Catalogue, path: str, limit: int, params: dict[str, Any]) -> list[Json]:
    """Every record of a filtered list, page by page, checking each page on the way."""
    records: list[Json] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = cat.client.get(
            f"{API}{path}", params=query, headers=cat.tenant.headers("viewer")
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        records += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return records
        assert len(page["items"]) == limit, "a page before the last one is full"
    raise AssertionError("the cursor never ran out")


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _live(record: Json) -> bool:
    return bool(record["state"] != "DELETED")


Filter = Callable[[Catalogue], tuple[dict[str, Any], Callable[[Json], bool]]]


def _planned(start: float | None, end: float | None) -> Filter:
    """Work orders whose planned window overlaps [start, end) (days from D)."""

    def make(cat: Catalogue) -> tuple[dict[str, Any], Callable[[Json], bool]]:
        params: dict[str, Any] = {}
        if start is not None:
            params["planned_from"] = iso(when(start))
        if end is not None:
            params["planned_to"] = iso(when(end))

        def keep(wo: Json) -> bool:
            s, e = _at(wo["planned_start"]), _at(wo["planned_end"])
            if s is None or e is None or not _live(wo):
                return False
            return (start is None or e > when(start)) and (end is None or s < when(end))

        return params, keep

    return make


def _edge(which: str) -> Filter:
    """A bound exactly on one work order's window edge: windows are half-open, so a window
    that ends where the range starts (or starts where it ends) does not overlap it."""

    def make(cat: Catalogue) -> tuple[dict[str, Any], Callable[[Json], bool]]:
        windowed = [wo for wo in cat.work_orders if wo["planned_start"] and _live(wo)]
        middle = windowed[len(windowed) // 2]
        if which == "from":
            bound = _at(middle["planned_end"])
            assert bound is not None
            return (
                {"planned_from": iso(bound)},
                lambda wo: (
                    _live(wo) and wo["planned_end"] is not None and _at(wo["planned_end"]) > bound  # type: ignore[operator]
                ),
            )
        bound = _at(middle["planned_start"])
        assert bound is not None
        return (
            {"planned_to": iso(bound)},
            lambda wo: (
                _live(wo) and wo["planned_start"] is not None and _at(wo["planned_start"]) < bound  # type: ignore[operator]
            ),
        )

    return make


def _resource(name: str) -> Filter:
    def make(cat: Catalogue) -> tuple[dict[str, Any], Callable[[Json], bool]]:
        rid = cat.ref(name)
        return {
            "resource_id": rid
        }, lambda wo: _live(wo) and any(li["resource_id"] == rid for li in wo["line_items"])

    return make


def _text(q: str, *item_names: str, numbers: Callable[[str], bool] = lambda n: False) -> Filter:
    def make(cat: Catalogue) -> tuple[dict[str, Any], Callable[[Json], bool]]:
        items = {cat.ref(name) for name in item_names}
        return {"q": q}, lambda wo: _live(wo) and (wo["item_id"] in items or numbers(wo["number"]))

    return make


def _simple(params: dict[str, Any], keep: Callable[[Json], bool]) -> Filter:
    return lambda cat: (params, keep)


def _by_ref(param: str, name: str, field: str, also: Callable[[Json], bool] = _live) -> Filter:
    def make(cat: Catalogue) -> tuple[dict[str, Any], Callable[[Json], bool]]:
        rid = cat.ref(name)
        return {param: rid}, lambda r: also(r) and r[field] == rid

    return make


def _due_before(days: float) -> Filter:
    def keep(r: Json) -> bool:
        due = _at(r["due_date"])
        return _live(r) and due is not None and due < when(days)

    return lambda cat: ({"due_before": iso(when(days))}, keep)


WORK_ORDER_FILTERS: dict[str, Filter] = {
    "no filter": _simple({}, _live),
    "state": _simple({"state": "DRAFT"}, lambda wo: wo["state"] == "DRAFT"),
    "state repeated": _simple(
        {"state": ["SCHEDULED", "IN_PROCESS"]},
        lambda wo: wo["state"] in ("SCHEDULED", "IN_PROCESS"),
    ),
    "state DELETED": _simple({"state": "DELETED"}, lambda wo: wo["state"] == "DELETED"),
    "state DRAFT or DELETED": _simple(
        {"state": ["DRAFT", "DELETED"]}, lambda wo: wo["state"] in ("DRAFT", "DELETED")
    ),
    "production_order_id": _by_ref("production_order_id", "p_scheduled", "production_order_id"),
    "production_order_id of a deleted order, DELETED asked for": lambda cat: (
        {"production_order_id": cat.ref("p_deleted"), "state": "DELETED"},
        lambda wo: wo["production_order_id"] == cat.ref("p_deleted"),
    ),
    "resource_id": _resource("r2"),
    "item_id": _by_ref("item_id", "kombucha", "item_id"),
    "planned_from": _planned(1, None),
    "planned_to": _planned(None, 1),
    "planned window": _planned(0.5, 1.5),
    "planned_from on a window's end": _edge("from"),
    "planned_to on a window's start": _edge("to"),
    "due_before": _due_before(12),
    "q: a number": _text("wo-000004", numbers=lambda n: n == "WO-000004"),
    "q: part of numbers": _text("WO-00001", numbers=lambda n: n.startswith("WO-00001")),
    # anywhere in the number: the trigram index of numbers (SQLite's needs three digits)
    "q: digits alone": _text("0001", numbers=lambda n: "0001" in n),
    "q: two digits alone": _text("12", "kombucha", numbers=lambda n: "12" in n),
    "q: item name, any case": _text("kOmBuChA", "kombucha"),
    "q: SKU": _text("apple-16", "apple"),
    "q: underscore is no wildcard": _text("_", "case"),
    "q: percent is no wildcard": _text("%", "case"),
    "state, item and resource together": lambda cat: (
        {"state": "DRAFT", "item_id": cat.ref("apple"), "resource_id": cat.ref("r1")},
        lambda wo: (
            wo["state"] == "DRAFT"
            and wo["item_id"] == cat.ref("apple")
            and any(li["resource_id"] == cat.ref("r1") for li in wo["line_items"])
        ),
    ),
}


def _po_text(q: str, *names: str) -> Filter:
    return lambda cat: (
        {"q": q},
        lambda po: _live(po) and po["id"] in {cat.ref(n) for n in names},
    )


PRODUCTION_ORDER_FILTERS: dict[str, Filter] = {
    "no filter": _simple({}, _live),
    "state": _simple({"state": "SCHEDULED"}, lambda po: po["state"] == "SCHEDULED"),
    "state repeated": _simple(
        {"state": ["DRAFT", "CANCELED"]}, lambda po: po["state"] in ("DRAFT", "CANCELED")
    ),
    "state DELETED": _simple({"state": "DELETED"}, lambda po: po["state"] == "DELETED"),
    "owner_id": _by_ref("owner_id", "healthy", "owner_id"),
    "due_before": _due_before(40),
    "q: number": _po_text("po-000002", "p_draft"),
    "q: digits alone": lambda cat: (
        {"q": "0002"},
        lambda po: _live(po) and ("0002" in po["number"] or "0002" in (po["reference"] or "")),
    ),
    "q: reference": _po_text("hj-po", "p_scheduled"),
    "q: reference with literal _ and %": _po_text("_2031%", "p_draft"),
    "q: item text": _po_text("Organic Apple", "p_scheduled", "p_canceled"),
}


def _check(cat: Catalogue, path: str, records: list[Json], make: Filter) -> None:
    params, keep = make(cat)
    expected = [r["id"] for r in records if keep(r)]

    one_page = _walk(cat, path, 500, params)
    paged = _walk(cat, path, 3, params)

    assert [r["id"] for r in one_page] == expected
    assert [r["id"] for r in paged] == expected
    assert len(set(expected)) == len(expected)
    assert expected, "the catalogue has records for every filter"
    assert len(expected) < len(records), "and every filter leaves some out"


@pytest.mark.parametrize("name", WORK_ORDER_FILTERS)
def test_work_order_filter_pages_without_duplicates_or_gaps(
    name: str, catalogue: Catalogue
) -> None:
    _check(catalogue, "/work-orders", catalogue.work_orders, WORK_ORDER_FILTERS[name])


@pytest.mark.parametrize("name", PRODUCTION_ORDER_FILTERS)
def test_production_order_filter_pages_without_duplicates_or_gaps(
    name: str, catalogue: Catalogue
) -> None:
    _check(
        catalogue, "/production-orders", catalogue.production_orders, PRODUCTION_ORDER_FILTERS[name]
    )


# A list's page is either found first (the planned window, `q`, a resource with few line
# items) or walked to in id order; which one depends on how much there is. Each filter pages
# the same either way.
SHAPES: dict[str, dict[str, float]] = {
    "found first wherever it may be": {
        "CANDIDATES": 10**9,
        "FEW_ITEMS": 10**9,
        "FEW_LINES": 10**9,
        "DENSE": 2.0,
    },
    "walked to wherever it may be": {
        "CANDIDATES": 1,
        "FEW_ITEMS": 0,
        "FEW_LINES": 0,
        "DENSE": -1.0,
    },
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", WORK_ORDER_FILTERS)
def test_work_order_filters_page_the_same_found_first_or_walked_to(
    name: str, shape: str, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting, value in SHAPES[shape].items():
        monkeypatch.setattr(reading, setting, value)

    _check(catalogue, "/work-orders", catalogue.work_orders, WORK_ORDER_FILTERS[name])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", PRODUCTION_ORDER_FILTERS)
def test_production_order_filters_page_the_same_found_first_or_walked_to(
    name: str, shape: str, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting, value in SHAPES[shape].items():
        monkeypatch.setattr(reading, setting, value)

    _check(
        catalogue, "/production-orders", catalogue.production_orders, PRODUCTION_ORDER_FILTERS[name]
    )


def test_deleted_records_are_listed_only_when_asked_for(catalogue: Catalogue) -> None:
    deleted_order = catalogue.ref("p_deleted")
    by_order = {"production_order_id": deleted_order}

    assert _walk(catalogue, "/work-orders", 50, by_order) == []
    assert deleted_order not in {po["id"] for po in _walk(catalogue, "/production-orders", 50, {})}
    assert {
        wo["state"] for wo in _walk(catalogue, "/work-orders", 50, {**by_order, "state": "DELETED"})
    } == {"DELETED"}


def test_the_catalogue_has_every_state(catalogue: Catalogue) -> None:
    assert {wo["state"] for wo in catalogue.work_orders} == set(STATES)
    assert {po["state"] for po in catalogue.production_orders} >= {
        "DRAFT",
        "SCHEDULED",
        "IN_PROCESS",
        "CANCELED",
        "DELETED",
    }


def test_lists_sort_in_creation_order(catalogue: Catalogue) -> None:
    """The sort key is the id, and ids are ordered by creation: numbers come out ascending."""
    numbers = [wo["number"] for wo in _walk(catalogue, "/work-orders", 4, {"state": list(STATES)})]

    assert numbers == sorted(numbers)
    assert len(numbers) == len(catalogue.work_orders)


def test_records_created_or_deleted_while_paging_neither_repeat_nor_skip_others(
    client: TestClient, builder: Builder
) -> None:
    first_batch = [builder.work_order()["id"] for _ in range(6)]
    page = builder.get("/work-orders?limit=4")
    seen = [wo["id"] for wo in page["items"]]
    # Meanwhile: one not yet seen is deleted, and new ones arrive.
    builder.ok("DELETE", f"/work-orders/{first_batch[5]}")
    later = [builder.work_order()["id"] for _ in range(3)]

    rest: list[str] = []
    cursor = page["next_cursor"]
    while cursor:
        page = builder.get(f"/work-orders?limit=4&cursor={cursor}")
        rest += [wo["id"] for wo in page["items"]]
        cursor = page["next_cursor"]

    assert seen + rest == first_batch[:5] + later


def test_page_size_defaults_to_50_and_is_bounded_by_1_and_500(
    client: TestClient, builder: Builder
) -> None:
    order = builder.production_order(work_orders=55)
    wo_path = f"/work-orders?production_order_id={order['id']}"

    default = builder.get(wo_path)
    largest = builder.get(f"{wo_path}&limit=500")
    smallest = builder.get(f"{wo_path}&limit=1")
    exact = builder.get(f"{wo_path}&limit=55")

    assert (len(default["items"]), default["next_cursor"] is not None) == (50, True)
    assert (len(largest["items"]), largest["next_cursor"]) == (55, None)
    assert len(smallest["items"]) == 1
    assert smallest["next_cursor"] is not None
    assert (len(exact["items"]), exact["next_cursor"]) == (55, None)  # no empty last page
    for bad in ("0", "501", "-1", "1e3"):
        response = client.get(f"{API}{wo_path}&limit={bad}", headers=builder.headers("viewer"))
        problem = assert_problem(response, 422, "validation-error")
        assert error_fields(problem) == ["query.limit"]
