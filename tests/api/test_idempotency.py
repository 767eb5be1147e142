"""Idempotency-Key on every POST create: a retry gets the first answer and creates nothing.

The same key with another body is refused (422); keys belong to an organisation; and two
requests racing with one key, over real HTTP, still make exactly one record.
"""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from taktline.api.idempotency import create_idempotently
from taktline.items.schemas import ItemCreate, ItemOut
from taktline.items.service import ITEMS
from tests.api.conftest import Builder, Json, observe
from tests.helpers import API, assert_problem, bodies, db_counts

# The create endpoints, each with a valid body for a builder's organisation, and the tables
# one create adds a row to (besides its event and its idempotency key).
CREATES: dict[str, tuple[Callable[[Builder], Json], dict[str, int]]] = {
    "items": (lambda b: bodies.item(), {"items": 1}),
    "facilities": (lambda b: bodies.facility(), {"facilities": 1}),
    "customers": (lambda b: bodies.customer(), {"customers": 1}),
    "resources": (lambda b: bodies.resource(b.facility()["id"]), {"resources": 1}),
    "production-orders": (
        lambda b: b.production_order_body(work_orders=2),
        {
            "production_orders": 1,
            "production_order_items": 1,
            "work_orders": 2,
            "work_order_line_items": 2,
        },
    ),
    "work-orders": (
        lambda b: b.work_order_body(lines=3),
        {"work_orders": 1, "work_order_line_items": 3},
    ),
}


def _post(client: TestClient, b: Builder, collection: str, body: Json, key: str) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{API}/{collection}", json=body, headers=b.headers(**{"Idempotency-Key": key})
    )
    return response


def _added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in after if after[table] != before[table]}


@pytest.mark.parametrize("collection", CREATES)
def test_a_retry_with_the_same_key_returns_the_first_answer_and_creates_nothing(
    collection: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    make, rows = CREATES[collection]
    body = make(builder)
    key = f"create-{uuid.uuid4()}"
    before = db_counts(app.state.engine)

    first = _post(client, builder, collection, body, key)
    created = db_counts(app.state.engine)
    retries = [_post(client, builder, collection, body, key) for _ in range(2)]

    assert first.status_code == 201, first.text
    added = _added(before, created)
    assert {t: n for t, n in added.items() if t in rows} == rows
    assert added["idempotency_keys"] == 1
    for retry in retries:
        assert retry.status_code == 201
        assert retry.json() == first.json()
        assert retry.content == first.content
    assert db_counts(app.state.engine) == created


def test_the_retry_answers_as_the_first_time_even_after_the_record_changed(
    client: TestClient, builder: Builder
) -> None:
    body = bodies.item()
    first = _post(client, builder, "items", body, "k-1")
    builder.ok("PATCH", f"/items/{first.json()['id']}", {"name": "Renamed"})

    retry = _post(client, builder, "items", body, "k-1")

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert builder.get(f"/items/{first.json()['id']}")["version"] == 2


@pytest.mark.parametrize("collection", CREATES)
def test_the_same_key_with_another_body_is_refused_and_creates_nothing(
    collection: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    make, _ = CREATES[collection]
    body, other_body = make(builder), make(builder)
    key = f"reused-{uuid.uuid4()}"
    first = _post(client, builder, collection, body, key)
    assert first.status_code == 201, first.text
    before = observe(client, app, ())

    refused = _post(client, builder, collection, other_body, key)
    elsewhere = _post(client, builder, "customers", bodies.customer(), key)

    for response in (refused, elsewhere):
        problem = assert_problem(response, 422, "idempotency-key-reused")
        assert key in problem["detail"]
    assert observe(client, app, ()) == before


def test_keys_belong_to_an_organisation(
    client: TestClient, app: FastAPI, builder: Builder, other_builder: Builder
) -> None:
    """Another organisation's request with the same key and the same body is its own: it
    creates its own record and never gets the first organisation's answer."""
    body = bodies.item()
    ours = _post(client, builder, "items", body, "shared-key")
    before = db_counts(app.state.engine)

    theirs = _post(client, other_builder, "items", body, "shared-key")

    assert ours.status_code == theirs.status_code == 201
    assert theirs.json()["id"] != ours.json()["id"]
    assert _added(before, db_counts(app.state.engine)) == {
        "items": 1,
        "events": 1,
        "idempotency_keys": 1,
    }
    assert [i["id"] for i in other_builder.get("/items")["items"]] == [theirs.json()["id"]]
    # And their key does not collide with a different body of ours under the same key.
    assert _post(client, other_builder, "items", bodies.item(), "shared-key").status_code == 422


def test_a_refused_create_keeps_no_answer_for_its_key(
    client: TestClient, app: FastAPI, builder: Builder
) -> None:
    """A create that fails (here: the SKU is taken) stores nothing under its key, so the
    corrected request may use the same key."""
    taken = builder.item()
    key = f"retry-after-fix-{uuid.uuid4()}"
    before = db_counts(app.state.engine)

    refused = _post(client, builder, "items", bodies.item(sku=taken["sku"]), key)

    assert_problem(refused, 409, "conflict")
    assert db_counts(app.state.engine) == before
    assert _post(client, builder, "items", bodies.item(), key).status_code == 201


ROUNDS = 3  # the window between two racers is narrow: give it a few chances to open


@pytest.mark.parametrize("collection", CREATES)
def test_concurrent_requests_with_one_key_make_exactly_one_record(
    collection: str, live_server: str, app: FastAPI, builder: Builder
) -> None:
    make, rows = CREATES[collection]
    clients = 6
    barrier = threading.Barrier(clients)

    for _ in range(ROUNDS):
        body = make(builder)
        headers = builder.headers(**{"Idempotency-Key": f"race-{uuid.uuid4()}"})
        before = db_counts(app.state.engine)

        def send(_: int) -> httpx.Response:
            with httpx.Client(base_url=live_server, timeout=60) as http:
                barrier.wait()
                return http.post(f"{API}/{collection}", json=body, headers=headers)  # noqa: B023

        with ThreadPoolExecutor(clients) as pool:
            responses = list(pool.map(send, range(clients)))

        statuses = [r.status_code for r in responses]
        assert statuses == [201] * clients, [r.text for r in responses if r.status_code != 201]
        assert len({r.content for r in responses}) == 1
        added = _added(before, db_counts(app.state.engine))
        assert {t: n for t, n in added.items() if t in rows} == rows
        assert added["idempotency_keys"] == 1


@pytest.mark.postgres_only
def test_a_retry_arriving_while_the_first_request_is_under_way_waits_and_gets_its_answer(
    app: FastAPI, builder: Builder
) -> None:
    """The interleaving behind the race above, made to happen every time: the first request
    has claimed its key and is still creating when the retry arrives. The retry must wait
    for it and then answer as it did (201, the same body), never 409 on the item the first
    one made, and never a second item."""
    actor = builder.tenant.actor("planner")
    body = ItemCreate(**bodies.item())
    request = Request({"type": "http", "method": "POST", "path": f"{API}/items", "headers": []})
    key = f"interleaved-{uuid.uuid4()}"
    factory = app.state.session_factory
    first_is_creating = threading.Event()
    let_first_finish = threading.Event()

    def idempotent_create(pause: bool) -> JSONResponse:
        with factory() as session:

            def create() -> ItemOut:
                if pause:
                    first_is_creating.set()
                    assert let_first_finish.wait(30)
                return ItemOut.model_validate(ITEMS.create(session, actor, body))

            return create_idempotently(session, actor, request, key, body, create)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(idempotent_create, True)
        assert first_is_creating.wait(30)
        retry = pool.submit(idempotent_create, False)
        # The retry cannot finish while the first request holds the key.
        assert not retry.done()
        let_first_finish.set()
        first_answer, retry_answer = first.result(30), retry.result(30)

    assert first_answer.status_code == 201
    assert (retry_answer.status_code, retry_answer.body) == (201, first_answer.body)
    assert len(builder.get(f"/items?q={body.sku}")["items"]) == 1
