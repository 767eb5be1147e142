"""Random sequences of actions on random production orders never break the invariants.

A Hypothesis rule-based state machine creates production orders with random work orders and
line items over a few shared resources, and takes every action of both lifecycles in random
order with random windows and quantities, calling the services directly (the way the API
does, as the tenant's planner). A `Problem` raised by a service is a refusal; anything else
escaping is a bug. After every step the database is read back (on a connection of its own)
and checked:

- states move only along the edges of the lifecycle tables; COMPLETED and DELETED stay final;
- each production order's state agrees with its work orders' (`agrees`);
- no resource has more bookings at any instant than its parallel capacity;
- only SCHEDULED and IN_PROCESS work orders hold bookings, one per line item, on its window;
- quantities (line items completed/scrapped, work orders produced/scrapped) never decrease;
- every state change is recorded as an event from the old state to the new one;
- a refused action changes nothing at all.

Runs on SQLite and PostgreSQL. Each example gets resources and an item of its own in the
test's tenant, so examples never see each other's bookings.
"""

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from taktline.errors import Problem
from taktline.events.models import Event
from taktline.items.schemas import ItemCreate
from taktline.items.service import ITEMS
from taktline.orders import actions, editing, production
from taktline.orders.lifecycle import PRODUCTION_ORDER_TRANSITIONS as ORDER_TRANSITIONS
from taktline.orders.lifecycle import WORK_ORDER_TRANSITIONS as WORK_TRANSITIONS
from taktline.orders.lifecycle import LineItemStatus, State, agrees
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder
from taktline.orders.schemas import (
    CompleteRequest,
    LineItemIn,
    LineItemWindow,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ProductionOrderUpdate,
    ReportRequest,
    WorkOrderCreate,
    WorkOrderFields,
    WorkOrderUpdate,
)
from taktline.orgs.schemas import FacilityCreate
from taktline.orgs.service import FACILITIES
from taktline.permissions import Actor
from taktline.resources.models import Resource, ResourceBooking, ResourceKind
from taktline.resources.schemas import ResourceCreate
from taktline.resources.service import RESOURCES
from tests.helpers import Tenant, db_counts

T0 = datetime(2031, 3, 3, 6, 0, tzinfo=UTC)
CAPACITIES = (1, 1, 2)  # the shared resources of each example: two single, one double
FINAL = {State.COMPLETED, State.DELETED}
BOOKED = {State.SCHEDULED, State.IN_PROCESS}

# The edges a record's state may take in one step, from the lifecycle tables.
WORK_EDGES = {(source, t.target) for t in WORK_TRANSITIONS if t.target for source in t.sources}
# A production order moves by its own actions, and follows its work orders (domain.md):
# SCHEDULED when all live work is scheduled and back to DRAFT when some is not, IN_PROCESS as
# soon as any starts, COMPLETED when all is final and some completed.
ORDER_EDGES = {
    (source, t.target) for t in ORDER_TRANSITIONS if t.target for source in t.sources
} | {
    (State.DRAFT, State.SCHEDULED),
    (State.SCHEDULED, State.DRAFT),
    (State.DRAFT, State.IN_PROCESS),
    (State.SCHEDULED, State.IN_PROCESS),
    (State.IN_PROCESS, State.COMPLETED),
}

_serial = itertools.count(1)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- reading the database back -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    orders: dict[uuid.UUID, tuple[Any, ...]]  # id -> (state, version)
    work: dict[uuid.UUID, dict[str, Any]]
    line_items: dict[uuid.UUID, dict[str, Any]]
    bookings: list[tuple[Any, ...]]
    capacities: dict[uuid.UUID, int]
    events: list[tuple[Any, ...]]  # (entity_id, action, from_state, to_state) in order
    counts: dict[str, int]


def read_snapshot(
    engine: Engine, org_id: uuid.UUID, order_ids: Sequence[uuid.UUID], resource_ids: list[uuid.UUID]
) -> Snapshot:
    with engine.connect() as conn:
        orders = {
            row.id: (row.state, row.version)
            for row in conn.execute(
                select(ProductionOrder.id, ProductionOrder.state, ProductionOrder.version).where(
                    ProductionOrder.id.in_(order_ids)
                )
            )
        }
        work = {
            row.id: dict(row._mapping)
            for row in conn.execute(
                select(
                    WorkOrder.id,
                    WorkOrder.production_order_id,
                    WorkOrder.state,
                    WorkOrder.version,
                    WorkOrder.on_hold,
                    WorkOrder.quantity,
                    WorkOrder.quantity_produced,
                    WorkOrder.quantity_scrapped,
                    WorkOrder.actual_start,
                    WorkOrder.actual_end,
                    WorkOrder.planned_start,
                    WorkOrder.planned_end,
                ).where(WorkOrder.production_order_id.in_(order_ids))
            )
        }
        line_items = {
            row.id: dict(row._mapping)
            for row in conn.execute(
                select(
                    LineItem.id,
                    LineItem.work_order_id,
                    LineItem.sequence,
                    LineItem.resource_id,
                    LineItem.status,
                    LineItem.quantity_completed,
                    LineItem.quantity_scrapped,
                    LineItem.planned_start,
                    LineItem.planned_end,
                ).where(LineItem.work_order_id.in_(list(work)))
            )
        }
        bookings = sorted(
            tuple(row)
            for row in conn.execute(
                select(
                    ResourceBooking.resource_id,
                    ResourceBooking.work_order_id,
                    ResourceBooking.line_item_id,
                    ResourceBooking.starts_at,
                    ResourceBooking.ends_at,
                ).where(ResourceBooking.resource_id.in_(resource_ids))
            )
        )
        capacities = dict(
            conn.execute(
                select(Resource.id, Resource.parallel_capacity).where(Resource.id.in_(resource_ids))
            ).all()
        )
        events = [
            tuple(row)
            for row in conn.execute(
                select(Event.entity_id, Event.action, Event.from_state, Event.to_state)
                .where(Event.org_id == org_id)
                .order_by(Event.id)
            )
        ]
        # Every table's row count: a refused action adds nothing anywhere.
        counts = db_counts(conn)
        assert (
            conn.execute(select(func.count()).select_from(Event)).scalar_one() == counts["events"]
        )
    return Snapshot(orders, work, line_items, bookings, capacities, events, counts)


def max_overlap(windows: list[tuple[datetime, datetime]]) -> int:
    """The most windows running at one instant (half-open), by an independent sweep."""
    points = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    peak = running = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    return peak


def check_invariants(before: Snapshot, after: Snapshot, step: str) -> None:
    # States move only along the lifecycle's edges; final states stay.
    for wo_id, now in after.work.items():
        then = before.work.get(wo_id)
        if then is not None and then["state"] != now["state"]:
            move = (then["state"], now["state"])
            assert then["state"] not in FINAL, f"{step}: work order left final {move}"
            assert move in WORK_EDGES, f"{step}: work order moved {move}"
    for po_id, (state, _) in after.orders.items():
        if po_id in before.orders and before.orders[po_id][0] != state:
            move = (before.orders[po_id][0], state)
            assert move[0] not in FINAL, f"{step}: production order left final {move}"
            assert move in ORDER_EDGES, f"{step}: production order moved {move}"
    assert set(before.work) <= set(after.work), f"{step}: a work order vanished"
    assert set(before.orders) <= set(after.orders), f"{step}: a production order vanished"

    # Every state change is an event from the old state to the new one.
    new_events = after.events[len(before.events) :]
    assert after.events[: len(before.events)] == before.events, f"{step}: events were changed"
    moves = {(e[0], e[2], e[3]) for e in new_events if e[2] != e[3]}
    for wo_id, now in after.work.items():
        then = before.work.get(wo_id)
        if then is not None and then["state"] != now["state"]:
            assert (wo_id, then["state"], now["state"]) in moves, f"{step}: unrecorded move"
    for po_id, (state, _) in after.orders.items():
        old = before.orders.get(po_id)
        if old is not None and old[0] != state:
            assert (po_id, old[0], state) in moves, f"{step}: unrecorded order move"

    # Each production order agrees with its work orders.
    for po_id, (state, _) in after.orders.items():
        states = [wo["state"] for wo in after.work.values() if wo["production_order_id"] == po_id]
        assert agrees(state, states), f"{step}: order {state} with work {sorted(states)}"

    # The work orders' own consistency.
    for wo in after.work.values():
        if wo["on_hold"]:
            assert wo["state"] is State.IN_PROCESS, f"{step}: {wo['state']} on hold"
        if wo["state"] in (State.IN_PROCESS, State.COMPLETED):
            assert wo["actual_start"] is not None, f"{step}: started without actual_start"
        if wo["state"] is State.COMPLETED:
            assert wo["actual_end"] is not None, f"{step}: completed without actual_end"
            lis = [li for li in after.line_items.values() if li["work_order_id"] == wo["id"]]
            assert all(
                li["status"] in (LineItemStatus.DONE, LineItemStatus.SKIPPED) for li in lis
            ), f"{step}: completed with unfinished line items"
        if wo["state"] in (State.DRAFT, State.SCHEDULED):
            # Line items progress only while their work order is IN_PROCESS.
            lis = [li for li in after.line_items.values() if li["work_order_id"] == wo["id"]]
            assert all(li["status"] is LineItemStatus.PENDING for li in lis), step

    # Bookings: only SCHEDULED / IN_PROCESS work orders, one per line item, on its window.
    by_work: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for booking in after.bookings:
        by_work.setdefault(booking[1], []).append(booking)
    for wo_id in by_work:
        holder = after.work.get(wo_id)
        assert holder is not None, f"{step}: a booking of an unknown work order"
        assert holder["state"] in BOOKED, f"{step}: a {holder['state']} work order holds bookings"
    for wo in after.work.values():
        if wo["state"] in BOOKED:
            lis = [li for li in after.line_items.values() if li["work_order_id"] == wo["id"]]
            expected = sorted(
                (li["resource_id"], wo["id"], li["id"], li["planned_start"], li["planned_end"])
                for li in lis
            )
            assert sorted(by_work.get(wo["id"], [])) == expected, f"{step}: bookings of {wo}"

    # No resource is booked beyond its parallel capacity.
    for resource_id, capacity in after.capacities.items():
        windows = [(b[3], b[4]) for b in after.bookings if b[0] == resource_id]
        assert max_overlap(windows) <= capacity, f"{step}: resource over-booked: {windows}"

    # Quantities only grow.
    for wo_id, now in after.work.items():
        then = before.work.get(wo_id)
        if then is not None:
            for q in ("quantity_produced", "quantity_scrapped"):
                assert now[q] >= then[q], f"{step}: work order {q} went {then[q]} -> {now[q]}"
    for li_id, now in after.line_items.items():
        then = before.line_items.get(li_id)
        if then is not None:
            for q in ("quantity_completed", "quantity_scrapped"):
                assert now[q] >= then[q], f"{step}: line item {q} went {then[q]} -> {now[q]}"


# --- the machine ---------------------------------------------------------------------------------

quantities = st.integers(min_value=1, max_value=40).map(Decimal)
minutes = st.integers(min_value=0, max_value=12 * 60).map(lambda m: m - m % 15)
durations = st.integers(min_value=1, max_value=12).map(lambda n: n * 15)
picks = st.integers(min_value=0, max_value=1_000)


@st.composite
def line_item_specs(draw: st.DrawFn) -> list[tuple[int, int, int, int | None]]:
    """(resource index, setup minutes, run minutes per unit in tenths, window start)."""
    count = draw(st.integers(min_value=1, max_value=3))
    with_windows = draw(st.booleans())
    start = draw(minutes)
    specs = []
    for _ in range(count):
        specs.append(
            (
                draw(st.integers(min_value=0, max_value=len(CAPACITIES) - 1)),
                draw(st.sampled_from([0, 15, 30, 60])),
                draw(st.sampled_from([1, 5, 10, 20])),
                start if with_windows else None,
            )
        )
    return specs


work_order_specs = st.tuples(quantities, line_item_specs())


class ProductionMachine(RuleBasedStateMachine):
    def __init__(
        self, session: Session, engine: Engine, actor: Actor, facility_id: uuid.UUID
    ) -> None:
        super().__init__()
        self.session = session
        self.engine = engine
        self.actor = actor
        self.facility_id = facility_id
        self.order_ids: list[uuid.UUID] = []
        self.resource_ids: list[uuid.UUID] = []
        self.item_id = uuid.UUID(int=0)
        self.snapshot: Snapshot | None = None
        self.refusals = 0
        self.steps = 0
        self.outcomes: list[tuple[str, bool]] = []

    # --- plumbing ---

    @initialize()
    def set_up_resources(self) -> None:
        n = next(_serial)
        self.resource_ids = [
            RESOURCES.create(
                self.session,
                self.actor,
                ResourceCreate(
                    code=f"INV-{n}-{i}",
                    name=f"Line {n}.{i}",
                    kind=ResourceKind.LINE,
                    facility_id=self.facility_id,
                    parallel_capacity=capacity,
                ),
            ).id
            for i, capacity in enumerate(CAPACITIES)
        ]
        self.item_id = ITEMS.create(
            self.session, self.actor, ItemCreate(sku=f"INV-{n}", name=f"Juice {n}", unit="ea")
        ).id
        self.snapshot = self._read()

    def _read(self) -> Snapshot:
        return read_snapshot(self.engine, self.actor.org_id, self.order_ids, self.resource_ids)

    def _step(self, name: str, call: Callable[[], object]) -> None:
        before = self.snapshot or self._read()
        self.steps += 1
        refusal: str | None = None
        try:
            call()
        except Problem as problem:
            refusal = problem.detail
        after = self._read()
        if refusal is not None:
            self.refusals += 1
            assert after == before, f"{name} was refused ({refusal}) yet changed data"
        self.outcomes.append((name.split(" (")[0], refusal is None))

        check_invariants(before, after, name)
        self.snapshot = after

    def _work_ids(self, *states: State) -> list[uuid.UUID]:
        assert self.snapshot is not None
        return sorted(
            wo_id for wo_id, wo in self.snapshot.work.items() if not states or wo["state"] in states
        )

    def _pick_work(self, pick: int, *states: State) -> uuid.UUID:
        """A work order, most often one in `states` (where the action may succeed), now and
        then any at all (where it must be refused)."""
        wanted = self._work_ids(*states) if pick % 4 else []
        choices = wanted or self._work_ids()
        return choices[pick % len(choices)]

    def _pick_order(self, pick: int, *states: State) -> uuid.UUID:
        """A production order, most often one in `states`, now and then any at all."""
        assert self.snapshot is not None
        orders = self.snapshot.orders
        wanted = [i for i in self.order_ids if i in orders and orders[i][0] in states]
        choices = (wanted if pick % 4 else []) or self.order_ids
        return choices[pick % len(choices)]

    def _line_items(self, wo_id: uuid.UUID) -> list[dict[str, Any]]:
        assert self.snapshot is not None
        return sorted(
            (li for li in self.snapshot.line_items.values() if li["work_order_id"] == wo_id),
            key=lambda li: li["sequence"],
        )

    def _fields(self, spec: tuple[Decimal, list[tuple[int, int, int, int | None]]]) -> Any:
        quantity, line_items = spec
        return {
            "item_id": self.item_id,
            "quantity": quantity,
            "line_items": [
                LineItemIn(
                    operation=f"Step {i}",
                    resource_id=self.resource_ids[resource],
                    setup_minutes=Decimal(setup),
                    run_minutes_per_unit=Decimal(run) / 10,
                    planned_start=None if start is None else at(start + 60 * i),
                    planned_end=None if start is None else at(start + 60 * (i + 1)),
                )
                for i, (resource, setup, run, start) in enumerate(line_items)
            ],
        }

    def has_work(self) -> bool:
        return bool(self.snapshot and self.snapshot.work)

    def has_orders(self) -> bool:
        return bool(self.order_ids)

    # --- production orders ---

    @rule(specs=st.lists(work_order_specs, min_size=0, max_size=3))
    def create_production_order(
        self, specs: list[tuple[Decimal, list[tuple[int, int, int, int | None]]]]
    ) -> None:
        body = ProductionOrderCreate(
            items=[ProductionOrderItemIn(item_id=self.item_id, quantity=Decimal(100))],
            work_orders=[WorkOrderFields(**self._fields(spec)) for spec in specs],
        )

        def create() -> None:
            po = production.create_production_order(self.session, self.actor, body)
            self.order_ids.append(po.id)

        self._step("create production order", create)

    @precondition(has_orders)
    @rule(pick=picks, spec=work_order_specs)
    def add_work_order(
        self, pick: int, spec: tuple[Decimal, list[tuple[int, int, int, int | None]]]
    ) -> None:
        po_id = self._pick_order(pick, State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
        body = WorkOrderCreate(production_order_id=po_id, **self._fields(spec))
        self._step(
            "add work order", lambda: editing.create_work_order(self.session, self.actor, body)
        )

    @precondition(has_orders)
    @rule(pick=picks, start=st.none() | minutes)
    def schedule_production_order(self, pick: int, start: int | None) -> None:
        po_id = self._pick_order(pick, State.DRAFT)
        self._step(
            f"schedule order (start={start})",
            lambda: production.schedule(
                self.session, self.actor, po_id, start=None if start is None else at(start)
            ),
        )

    @precondition(has_orders)
    @rule(pick=picks)
    def cancel_production_order(self, pick: int) -> None:
        po_id = self._pick_order(pick, State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
        self._step(
            "cancel order",
            lambda: production.cancel(self.session, self.actor, po_id, "changed plans"),
        )

    @precondition(has_orders)
    @rule(pick=picks)
    def delete_production_order(self, pick: int) -> None:
        po_id = self._pick_order(pick, State.DRAFT, State.CANCELED)
        self._step("delete order", lambda: production.delete_(self.session, self.actor, po_id))

    @precondition(has_orders)
    @rule(pick=picks, priority=st.integers(min_value=0, max_value=100))
    def update_production_order(self, pick: int, priority: int) -> None:
        po_id = self._pick_order(pick, State.DRAFT)
        self._step(
            "update order",
            lambda: production.update_production_order(
                self.session, self.actor, po_id, ProductionOrderUpdate(priority=priority), None
            ),
        )

    # --- work orders ---

    @precondition(has_work)
    @rule(
        pick=picks,
        mode=st.sampled_from(["start", "windows", "as planned"]),
        start=minutes,
        lengths=st.lists(durations, min_size=3, max_size=3),
    )
    def schedule_work_order(self, pick: int, mode: str, start: int, lengths: list[int]) -> None:
        wo_id = self._pick_work(pick, State.DRAFT)
        windows: list[LineItemWindow] = []
        if mode == "windows":
            cursor = start
            for li, length in zip(self._line_items(wo_id), lengths, strict=False):
                windows.append(
                    LineItemWindow(
                        id=li["id"], planned_start=at(cursor), planned_end=at(cursor + length)
                    )
                )
                cursor += length
        self._step(
            f"schedule work order ({mode})",
            lambda: actions.schedule(
                self.session,
                self.actor,
                wo_id,
                start=at(start) if mode == "start" else None,
                windows=windows,
            ),
        )

    @precondition(has_work)
    @rule(pick=picks)
    def unschedule_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.SCHEDULED)
        self._step("unschedule", lambda: actions.unschedule(self.session, self.actor, wo_id))

    @precondition(has_work)
    @rule(pick=picks)
    def start_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.SCHEDULED)
        self._step("start", lambda: actions.start(self.session, self.actor, wo_id))

    @precondition(has_work)
    @rule(pick=picks)
    def pause_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        self._step("pause", lambda: actions.pause(self.session, self.actor, wo_id, "no labels"))

    @precondition(has_work)
    @rule(pick=picks)
    def resume_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        self._step("resume", lambda: actions.resume(self.session, self.actor, wo_id))

    @precondition(has_work)
    @rule(
        pick=picks,
        line=picks,
        completed=st.integers(min_value=0, max_value=30),
        scrapped=st.integers(min_value=0, max_value=3),
        done=st.booleans(),
    )
    def report(self, pick: int, line: int, completed: int, scrapped: int, done: bool) -> None:
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        lis = self._line_items(wo_id)
        li_id = lis[line % len(lis)]["id"] if lis else uuid.uuid4()
        if not done and completed == 0 and scrapped == 0:
            completed = 1
        body = ReportRequest(
            quantity_completed=Decimal(completed), quantity_scrapped=Decimal(scrapped), done=done
        )
        self._step(
            f"report {completed}/{scrapped} done={done}",
            lambda: actions.report(self.session, self.actor, wo_id, li_id, body),
        )

    @precondition(has_work)
    @rule(pick=picks, line=picks)
    def skip(self, pick: int, line: int) -> None:
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        lis = self._line_items(wo_id)
        li_id = lis[line % len(lis)]["id"] if lis else uuid.uuid4()
        self._step(
            "skip", lambda: actions.skip(self.session, self.actor, wo_id, li_id, "not needed")
        )

    @precondition(has_work)
    @rule(pick=picks, extra=st.none() | st.integers(min_value=0, max_value=5))
    def complete(self, pick: int, extra: int | None) -> None:
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        assert self.snapshot is not None
        body = CompleteRequest()
        if extra is not None:
            produced = self.snapshot.work[wo_id]["quantity_produced"]
            body = CompleteRequest(quantity_produced=produced + extra)
        self._step("complete", lambda: actions.complete(self.session, self.actor, wo_id, body))

    @precondition(has_work)
    @rule(picks=st.lists(picks, min_size=1, max_size=8), start=minutes)
    def advance(self, picks: list[int], start: int) -> None:
        """Takes open work orders one natural step further, each a step of its own: schedule
        a DRAFT one (laid out from `start`), start a SCHEDULED one, and for one IN_PROCESS
        resume it, report its next line item done, or complete it. Without this, random
        actions seldom carry work all the way to COMPLETED."""
        for pick in picks:
            assert self.snapshot is not None
            # Mostly the furthest along (to carry work through to COMPLETED), sometimes any.
            open_ = (
                self._work_ids(State.IN_PROCESS)
                or self._work_ids(State.SCHEDULED)
                or self._work_ids(State.DRAFT)
            )
            if pick % 3 == 0:
                open_ = self._work_ids(State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
            if not open_:
                return
            wo_id = open_[pick % len(open_)]
            self._advance_one(wo_id, start)

    def _advance_one(self, wo_id: uuid.UUID, start: int) -> None:
        assert self.snapshot is not None
        wo = self.snapshot.work[wo_id]
        unfinished = [
            li
            for li in self._line_items(wo_id)
            if li["status"] in (LineItemStatus.PENDING, LineItemStatus.IN_PROCESS)
        ]
        session, actor = self.session, self.actor
        if wo["state"] is State.DRAFT:
            self._step(
                "advance: schedule",
                lambda: actions.schedule(session, actor, wo_id, start=at(start)),
            )
        elif wo["state"] is State.SCHEDULED:
            self._step("advance: start", lambda: actions.start(session, actor, wo_id))
        elif wo["on_hold"]:
            self._step("advance: resume", lambda: actions.resume(session, actor, wo_id))
        elif unfinished:
            body = ReportRequest(quantity_completed=wo["quantity"], done=True)
            li_id = unfinished[0]["id"]
            self._step(
                "advance: report",
                lambda: actions.report(session, actor, wo_id, li_id, body),
            )
        else:
            self._step(
                "advance: complete",
                lambda: actions.complete(session, actor, wo_id, CompleteRequest()),
            )

    @precondition(has_work)
    @rule(pick=picks)
    def finish_everything(self, pick: int) -> None:
        """Reports every unfinished line item of an IN_PROCESS work order done (so that
        complete has something to do), each as a step of its own."""
        wo_id = self._pick_work(pick, State.IN_PROCESS)
        for li in self._line_items(wo_id):
            if li["status"] in (LineItemStatus.PENDING, LineItemStatus.IN_PROCESS):
                body = ReportRequest(quantity_completed=Decimal(5), done=True)
                self._step(
                    "report done",
                    partial(actions.report, self.session, self.actor, wo_id, li["id"], body),
                )

    @precondition(has_work)
    @rule(pick=picks)
    def cancel_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
        self._step(
            "cancel work order",
            lambda: actions.cancel(self.session, self.actor, wo_id, "machine down"),
        )

    @precondition(has_work)
    @rule(pick=picks)
    def delete_work_order(self, pick: int) -> None:
        wo_id = self._pick_work(pick, State.DRAFT, State.CANCELED)
        self._step("delete work order", lambda: actions.delete_(self.session, self.actor, wo_id))

    @precondition(has_work)
    @rule(pick=picks, spec=st.none() | line_item_specs(), priority=st.integers(0, 100))
    def update_work_order(
        self, pick: int, spec: list[tuple[int, int, int, int | None]] | None, priority: int
    ) -> None:
        wo_id = self._pick_work(pick, State.DRAFT)
        if spec is None:
            body = WorkOrderUpdate(priority=priority)
        else:
            body = WorkOrderUpdate(line_items=self._fields((Decimal(1), spec))["line_items"])
        self._step(
            "update work order",
            lambda: editing.update_work_order(self.session, self.actor, wo_id, body, None),
        )


def test_random_actions_never_break_the_invariants(
    app: FastAPI, session: Session, tenant: Tenant
) -> None:
    actor = tenant.actor("planner")
    facility = FACILITIES.create(
        session, actor, FacilityCreate(name="Invariant Plant", timezone="America/Chicago")
    )
    machines: list[ProductionMachine] = []

    class Machine(ProductionMachine):
        def __init__(self) -> None:
            super().__init__(session, app.state.engine, actor, facility.id)
            machines.append(self)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            # The session and tenant are shared by the examples on purpose: each example
            # isolates itself with resources and an item of its own.
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    # The machine did explore: it took many steps, some refused and most of the actions
    # succeeded at least once.
    steps = sum(m.steps for m in machines)
    refusals = sum(m.refusals for m in machines)
    assert steps > 100
    assert 0 < refusals < steps
    succeeded = {name for m in machines for name, ok in m.outcomes if ok}
    assert {"create production order", "advance: schedule", "advance: start"} <= succeeded
