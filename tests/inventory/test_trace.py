"""A lot's trace, on both databases: on random genealogies (pulls, partial and full
returns, reports and their reversals, lots made by two work orders, cycles that real stock
could never make) the trace equals a closure computed here by brute force, both ways, with
every depth and quantity; a five-level chain comes back whole from one recursive statement;
another organisation's lot is not found; a bad direction is refused.

Genealogies are built straight on the ledger (`taktline.inventory.ledger`, the one way stock
moves) in one transaction each: hundreds of them would take minutes through the API.
tests/inventory/test_exports.py builds one through the API, as the floor does."""

import uuid
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from taktline.db import transaction, utcnow
from taktline.inventory import ledger, tracing
from taktline.inventory.kinds import EntryKind, LotOrigin, LotStatus
from taktline.inventory.models import Lot
from taktline.orders.models import WorkOrder
from tests.helpers import API, Tenant, assert_problem, bodies, create, error_fields

D = Decimal
Direction = Literal["backward", "forward"]
Pair = tuple[uuid.UUID, uuid.UUID]


# --- genealogies on the ledger ---------------------------------------------------------------


@dataclass
class Books:
    """What a genealogy's movements should add up to, kept here as the test makes them:
    the net of each (lot, work order)'s pulls and returns, and of its reports."""

    pulled: dict[Pair, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    produced: dict[Pair, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def flows(self) -> dict[Pair, Decimal]:
        """(source, target) -> quantity, for the flows of more than nothing."""
        out = {(lot, wo): q for (lot, wo), q in self.pulled.items() if q > 0}
        out.update({(wo, lot): q for (lot, wo), q in self.produced.items() if q > 0})
        return out


class Genealogies:
    """Lots and work orders of one item and facility of a tenant, and movements between
    them posted through the ledger."""

    def __init__(self, client: TestClient, session: Session, tenant: Tenant) -> None:
        self.session, self.tenant = session, tenant
        self.actor = tenant.actor("operator")
        self.facility = create(client, tenant, "/facilities", bodies.facility())["id"]
        self.item = create(client, tenant, "/items", bodies.item(unit="gal"))["id"]

    def lots(self, count: int, origin: LotOrigin = LotOrigin.PRODUCED) -> list[uuid.UUID]:
        made = [
            Lot(
                org_id=self.tenant.org_id, item_id=uuid.UUID(self.item),
                code=f"L-{uuid.uuid4().hex[:10]}", facility_id=uuid.UUID(self.facility),
                status=LotStatus.AVAILABLE, origin=origin, unit="gal", made_at=utcnow(),
            )
            for _ in range(count)
        ]  # fmt: skip
        self.session.add_all(made)
        self.session.flush()
        return [lot.id for lot in made]

    def work_orders(self, count: int) -> list[uuid.UUID]:
        made = [
            WorkOrder(
                org_id=self.tenant.org_id, number=f"T-{uuid.uuid4().hex[:12]}",
                item_id=uuid.UUID(self.item), quantity=Decimal(100), unit="gal",
            )
            for _ in range(count)
        ]  # fmt: skip
        self.session.add_all(made)
        self.session.flush()
        return [wo.id for wo in made]

    def post(self, movements: Sequence[ledger.Movement]) -> None:
        locked = ledger.lock_lots(self.session, self.tenant.org_id, [m.lot_id for m in movements])
        ledger.post(self.session, self.actor, locked, movements, utcnow())

    def trace(self, lot_id: uuid.UUID, direction: Direction) -> Any:
        return tracing.trace(self.session, self.actor, lot_id, direction)


def receive(lot: uuid.UUID, quantity: int = 1000) -> ledger.Movement:
    return ledger.Movement(lot, EntryKind.RECEIVE, on_hand_change=Decimal(quantity))


def pull(lot: uuid.UUID, wo: uuid.UUID, quantity: int) -> ledger.Movement:
    return ledger.Movement(lot, EntryKind.PULL, on_hand_change=-Decimal(quantity), work_order_id=wo)


def give_back(p: ledger.Movement, quantity: int) -> ledger.Movement:
    return ledger.Movement(
        p.lot_id, EntryKind.RETURN, on_hand_change=Decimal(quantity),
        work_order_id=p.work_order_id, reverses_id=p.id,
    )  # fmt: skip


def produce(lot: uuid.UUID, wo: uuid.UUID, quantity: int) -> ledger.Movement:
    return ledger.Movement(
        lot, EntryKind.PRODUCE, on_hand_change=Decimal(quantity), work_order_id=wo
    )


@pytest.fixture
def books(client: TestClient, session: Session, tenant: Tenant) -> Iterator[Genealogies]:
    yield Genealogies(client, session, tenant)
    session.rollback()


# --- the brute force -----------------------------------------------------------------------


def closure(
    root: uuid.UUID, direction: Direction, flows: dict[Pair, Decimal]
) -> tuple[dict[uuid.UUID, int], dict[Pair, Decimal]]:
    """Every node reachable from `root` (against the flows backward, along them forward)
    with its fewest steps, and the flows into (backward) or out of (forward) those nodes."""
    steps: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for source, target in flows:
        if direction == "backward":
            steps[target].append(source)
        else:
            steps[source].append(target)
    depth = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for nxt in steps[node]:
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    end = 1 if direction == "backward" else 0
    return depth, {pair: q for pair, q in flows.items() if pair[end] in depth}


def answer(out: Any) -> tuple[dict[uuid.UUID, int], dict[Pair, Decimal]]:
    return (
        {n.id: n.depth for n in out.nodes},
        {(e.source, e.target): e.quantity for e in out.edges},
    )


# --- random genealogies ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkOrderPlan:
    inputs: tuple[tuple[int, int, int], ...]  # (lot index, quantity pulled, quantity returned)
    outputs: tuple[tuple[int | None, int, int], ...]  # (existing lot index or new, made, reversed)


@st.composite
def plans(draw: st.DrawFn) -> tuple[int, list[WorkOrderPlan], list[tuple[int, int, int]]]:
    """Received lots, then work orders in turn, each pulling (some returned) from lots that
    exist by then and making one or two lots (a new one, or now and then one another work
    order made too; a report sometimes reversed, in full too); then a few pulls of any lot
    by any work order, which may close a cycle."""
    received = draw(st.integers(1, 3))
    usable = list(range(received))  # lots with stock to pull
    produced: list[int] = []
    count = received
    work_orders = []
    for _ in range(draw(st.integers(1, 6))):
        chosen = draw(st.lists(st.sampled_from(usable), max_size=3, unique=True))
        inputs = []
        for lot in chosen:
            quantity = draw(st.integers(1, 5))
            returned = draw(st.sampled_from([0, 0, 0, 1, quantity]))
            inputs.append((lot, quantity, min(returned, quantity)))
        outputs: list[tuple[int | None, int, int]] = []
        for _ in range(draw(st.integers(1, 2))):
            into = (
                draw(st.sampled_from(produced))
                if produced and draw(st.integers(0, 5)) == 0
                else None
            )
            made = draw(st.integers(60, 100))
            reversed_ = draw(st.sampled_from([0, 0, 0, 10, made]))
            if into is not None and reversed_ == made:
                reversed_ = 0  # (a lot others made may already be pulled: keep its stock)
            outputs.append((into, made, reversed_))
            if into is None:
                if reversed_ < made:
                    usable.append(count)
                produced.append(count)
                count += 1
        work_orders.append(WorkOrderPlan(tuple(inputs), tuple(outputs)))
    extra = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(work_orders) - 1), st.sampled_from(usable), st.integers(1, 5)
            ),
            max_size=2,
        )
    )
    return received, work_orders, extra


def build(
    g: Genealogies, received: int, plan: list[WorkOrderPlan], extra: list[tuple[int, int, int]]
) -> tuple[list[uuid.UUID], Books]:
    """The plan's lots, work orders and movements, in one transaction; what they add up to."""
    books = Books()
    new_lots = sum(1 for w in plan for into, _, _ in w.outputs if into is None)
    with transaction(g.session):
        lots = g.lots(received, LotOrigin.RECEIVED) + g.lots(new_lots)
        wos = g.work_orders(len(plan))
        movements = [receive(lot) for lot in lots[:received]]
        made = received
        for wo, w in zip(wos, plan, strict=True):
            for lot_index, quantity, returned in w.inputs:
                taken = pull(lots[lot_index], wo, quantity)
                movements.append(taken)
                if returned:
                    movements.append(give_back(taken, returned))
                books.pulled[(lots[lot_index], wo)] += quantity - returned
            for into, quantity, reversed_ in w.outputs:
                if into is None:
                    into = made
                    made += 1
                movements.append(produce(lots[into], wo, quantity))
                if reversed_:
                    movements.append(produce(lots[into], wo, -reversed_))
                books.produced[(lots[into], wo)] += quantity - reversed_
        for wo_index, lot_index, quantity in extra:
            movements.append(pull(lots[lot_index], wos[wo_index], quantity))
            books.pulled[(lots[lot_index], wos[wo_index])] += quantity
        g.post(movements)
    return lots, books


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
def test_the_trace_of_every_lot_equals_the_closure_of_its_flows_both_ways(
    books: Genealogies, plan: tuple[int, list[WorkOrderPlan], list[tuple[int, int, int]]]
) -> None:
    lots, expected = build(books, *plan)
    flows = expected.flows()
    for lot in lots:
        for direction in ("backward", "forward"):
            out = books.trace(lot, direction)
            assert out.lot_id == lot
            assert out.direction == direction
            assert answer(out) == closure(lot, direction, flows), (direction, lot)
            kinds = {n.id: n.kind for n in out.nodes}
            assert all(kinds[n] == "lot" for n in kinds if n in lots)
            assert all(kinds[n] == "work_order" for n in kinds if n not in lots)
            # nearest first, and each flow's unit is its lot's
            assert [n.depth for n in out.nodes] == sorted(n.depth for n in out.nodes)
            assert {e.unit for e in out.edges} <= {"gal"}


# --- the named cases -----------------------------------------------------------------------


def chain(g: Genealogies, levels: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """A received lot, then `levels` work orders, each using all of the lot before it (10
    less each level) to make the next."""
    with transaction(g.session):
        lots = g.lots(1, LotOrigin.RECEIVED) + g.lots(levels)
        wos = g.work_orders(levels)
        movements = [receive(lots[0], 1000)]
        for level, wo in enumerate(wos):
            movements.append(pull(lots[level], wo, 900 - 10 * level))
            movements.append(produce(lots[level + 1], wo, 900 - 10 * (level + 1)))
        g.post(movements)
    return lots, wos


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the test's session runs, from the fixture on."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_five_level_chain_comes_back_whole_from_one_recursive_statement(
    client: TestClient, books: Genealogies, tenant: Tenant, statements: list[str]
) -> None:
    lots, wos = chain(books, 5)
    books.session.commit()
    statements.clear()
    out = books.trace(lots[-1], "backward")
    walked = [s for s in statements if s.lstrip().upper().startswith(("WITH", "SELECT"))]
    assert sum("RECURSIVE" in s.upper() for s in walked) == 1
    assert len(walked) <= 3  # the walk, the lots' facts, the work orders' facts
    books.session.commit()

    backward = client.get(
        f"{API}/lots/{lots[-1]}/trace", params={"direction": "backward"}, headers=tenant.headers()
    )
    forward = client.get(
        f"{API}/lots/{lots[0]}/trace", params={"direction": "forward"}, headers=tenant.headers()
    )

    assert backward.status_code == 200, backward.text
    body = backward.json()
    assert body == out.model_dump(mode="json")
    # the traced lot, its maker, its lot, ... down to the received lot at depth 10
    order = [lots[5], wos[4], lots[4], wos[3], lots[3], wos[2], lots[2], wos[1], lots[1],
             wos[0], lots[0]]  # fmt: skip
    assert [(n["id"], n["depth"]) for n in body["nodes"]] == [
        (str(n), d) for d, n in enumerate(order)
    ]
    assert [n["kind"] for n in body["nodes"]] == ["lot", "work_order"] * 5 + ["lot"]
    # flows point the way material moved, with its quantity, nearest first
    assert [(e["source"], e["target"], Decimal(e["quantity"])) for e in body["edges"]] == [
        (str(order[d + 1]), str(order[d]), Decimal(900 - 10 * ((10 - d) // 2))) for d in range(10)
    ]
    assert forward.status_code == 200, forward.text
    ahead = forward.json()
    assert [(n["id"], n["depth"]) for n in ahead["nodes"]] == [
        (str(n), d) for d, n in enumerate(reversed(order))
    ]
    assert {(e["source"], e["target"]) for e in ahead["edges"]} == {
        (e["source"], e["target"]) for e in body["edges"]
    }
    received = body["nodes"][-1]
    assert received["label"].startswith("L-")
    assert received["unit"] == "gal"
    assert body["nodes"][1]["label"].startswith("T-")
    assert body["nodes"][1]["status"] == "DRAFT"


def test_a_one_level_trace_takes_as_many_statements_as_a_five_level_one(
    books: Genealogies, statements: list[str]
) -> None:
    short, _ = chain(books, 1)
    deep, _ = chain(books, 5)
    books.session.commit()
    counts = []
    for lot in (short[-1], deep[-1], deep[0]):
        statements.clear()
        books.trace(lot, "backward" if lot != deep[0] else "forward")
        counts.append(sum(s.lstrip().upper().startswith(("WITH", "SELECT")) for s in statements))
    assert counts[0] == counts[1] == counts[2], counts


def test_a_cycle_in_the_data_ends_the_walk(books: Genealogies) -> None:
    with transaction(books.session):
        a, b = books.lots(2)
        start = books.lots(1, LotOrigin.RECEIVED)[0]
        w1, w2 = books.work_orders(2)
        books.post(
            [
                receive(start),
                pull(start, w1, 10),
                produce(a, w1, 100),
                pull(a, w2, 10),
                produce(b, w2, 100),
                pull(b, w1, 5),  # b says it went into what it was made from
            ]
        )
    back = books.trace(b, "backward")
    assert answer(back) == (
        {b: 0, w2: 1, a: 2, w1: 3, start: 4},
        {(w2, b): D(100), (a, w2): D(10), (w1, a): D(100), (start, w1): D(10), (b, w1): D(5)},
    )
    ahead = books.trace(start, "forward")
    assert {n.id: n.depth for n in ahead.nodes} == {start: 0, w1: 1, a: 2, w2: 3, b: 4}
    assert (b, w1) in {(e.source, e.target) for e in ahead.edges}


def test_a_pull_returned_in_full_and_a_report_reversed_in_full_are_no_genealogy(
    books: Genealogies,
) -> None:
    with transaction(books.session):
        used, returned = books.lots(2, LotOrigin.RECEIVED)
        made, unmade = books.lots(2)
        wo = books.work_orders(1)[0]
        taken, back = pull(used, wo, 10), pull(returned, wo, 7)
        books.post(
            [receive(used), receive(returned), taken, back, give_back(back, 7),
             give_back(taken, 4), produce(made, wo, 50), produce(unmade, wo, 20),
             produce(unmade, wo, -20)]
        )  # fmt: skip
    assert answer(books.trace(made, "backward")) == (
        {made: 0, wo: 1, used: 2},
        {(wo, made): D(50), (used, wo): D(6)},
    )
    assert answer(books.trace(returned, "forward")) == ({returned: 0}, {})
    assert answer(books.trace(unmade, "backward")) == ({unmade: 0}, {})


def test_another_organisations_lot_is_not_found_as_an_unknown_one(
    client: TestClient, books: Genealogies, tenant: Tenant, other_tenant: Tenant
) -> None:
    lots, _ = chain(books, 2)
    books.session.commit()
    for path in ("trace", "recall"):
        theirs = client.get(f"{API}/lots/{lots[-1]}/{path}", headers=other_tenant.headers())
        unknown = client.get(f"{API}/lots/{uuid.uuid4()}/{path}", headers=tenant.headers())
        assert assert_problem(theirs, 404, "not-found")["detail"].startswith("No lot with id")
        assert_problem(unknown, 404, "not-found")
    mine = client.get(f"{API}/lots/{lots[-1]}/trace", headers=tenant.headers("viewer"))
    assert mine.status_code == 200
    assert len(mine.json()["nodes"]) == 5


def test_a_direction_other_than_backward_or_forward_is_refused(
    client: TestClient, books: Genealogies, tenant: Tenant
) -> None:
    lots, _ = chain(books, 1)
    books.session.commit()
    response = client.get(
        f"{API}/lots/{lots[0]}/trace", params={"direction": "sideways"}, headers=tenant.headers()
    )
    assert error_fields(assert_problem(response, 422, "validation-error")) == ["query.direction"]
    malformed = client.get(f"{API}/lots/not-an-id/trace", headers=tenant.headers())
    assert error_fields(assert_problem(malformed, 422)) == ["path.lot_id"]
    default = client.get(f"{API}/lots/{lots[-1]}/trace", headers=tenant.headers())
    assert default.status_code == 200
    assert default.json()["direction"] == "backward"


def test_a_trace_needs_a_token(client: TestClient, books: Genealogies) -> None:
    lots, _ = chain(books, 1)
    books.session.commit()
    assert_problem(client.get(f"{API}/lots/{lots[0]}/trace"), 401, "unauthorized")
