"""The inventory ledger, on both databases: whatever sequence of movements is asked for, a
lot's balances are the sums of its entries, on hand never goes below zero and never below
what is allocated; a refused movement writes nothing; entries are never changed or deleted,
and the database itself refuses a balance that would break the rules."""

import uuid
from decimal import Decimal

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from taktline.db import transaction, utcnow
from taktline.errors import Conflict
from taktline.inventory import ledger
from taktline.inventory.kinds import EntryKind, LotOrigin, LotStatus
from taktline.inventory.models import InventoryEntry, Lot
from taktline.items.models import Item
from taktline.orgs.models import Facility
from tests.helpers import Tenant


@pytest.fixture
def lot_id(app: FastAPI, tenant: Tenant) -> uuid.UUID:
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session, transaction(session):
        item = Item(org_id=tenant.org_id, sku=f"L-{uuid.uuid4().hex[:8]}", name="Caps",
                    unit="ea", type="RAW_MATERIAL")  # fmt: skip
        facility = Facility(org_id=tenant.org_id, name=f"F-{uuid.uuid4().hex[:8]}",
                            timezone="UTC")  # fmt: skip
        session.add_all([item, facility])
        session.flush()
        lot = Lot(org_id=tenant.org_id, item_id=item.id, code="LOT-1", facility_id=facility.id,
                  status=LotStatus.AVAILABLE, origin=LotOrigin.RECEIVED, unit="ea",
                  quantity_on_hand=Decimal(0), quantity_allocated=Decimal(0))  # fmt: skip
        session.add(lot)
        session.flush()
        return lot.id


amounts = st.integers(min_value=1, max_value=40).map(Decimal)
# (kind, on hand change, allocated change) of each movement a use case writes.
movements = st.one_of(
    amounts.map(lambda q: (EntryKind.RECEIVE, q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.PRODUCE, q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.RETURN, q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.ADJUST, -q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.ADJUST, q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.SCRAP, -q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.ALLOCATE, Decimal(0), q)),
    amounts.map(lambda q: (EntryKind.RELEASE, Decimal(0), -q)),
    amounts.map(lambda q: (EntryKind.PULL, -q, Decimal(0))),
    amounts.map(lambda q: (EntryKind.PULL, -q, -q)),  # a pull of what was allocated
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(movements, min_size=1, max_size=25))
def test_balances_are_the_sums_of_their_entries_and_never_break_the_rules(
    app: FastAPI,
    tenant: Tenant,
    lot_id: uuid.UUID,
    history: list[tuple[EntryKind, Decimal, Decimal]],
) -> None:
    factory: sessionmaker[Session] = app.state.session_factory
    actor = tenant.actor("planner")
    for kind, on_hand, allocated in history:
        with factory() as session:
            before = _balances(session, lot_id)
            try:
                with transaction(session):
                    locked = ledger.lock_lots(session, tenant.org_id, [lot_id])
                    movement = ledger.Movement(
                        lot_id, kind, on_hand_change=on_hand, allocated_change=allocated
                    )
                    ledger.post(session, actor, locked, [movement], utcnow())
            except Conflict:
                assert _balances(session, lot_id) == before  # a refusal writes nothing
        with factory() as session:
            on_hand_now, allocated_now, entries_on_hand, entries_allocated = _balances(
                session, lot_id
            )
            assert on_hand_now == entries_on_hand
            assert allocated_now == entries_allocated
            assert on_hand_now >= 0
            assert 0 <= allocated_now <= on_hand_now


def _balances(session: Session, lot_id: uuid.UUID) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    lot = session.execute(
        select(Lot.quantity_on_hand, Lot.quantity_allocated).where(Lot.id == lot_id)
    ).one()
    sums = session.execute(
        select(
            func.coalesce(func.sum(InventoryEntry.on_hand_change), 0),
            func.coalesce(func.sum(InventoryEntry.allocated_change), 0),
        ).where(InventoryEntry.lot_id == lot_id)
    ).one()
    session.rollback()
    return lot[0], lot[1], Decimal(sums[0]), Decimal(sums[1])


def test_the_database_refuses_a_negative_balance_or_an_allocation_above_on_hand(
    app: FastAPI, lot_id: uuid.UUID
) -> None:
    factory: sessionmaker[Session] = app.state.session_factory
    for values in ({"quantity_on_hand": Decimal(-1)}, {"quantity_allocated": Decimal(1)}):
        with factory() as session, pytest.raises(IntegrityError), transaction(session):
            session.execute(update(Lot).where(Lot.id == lot_id).values(**values))


def test_entries_are_never_changed_or_deleted(
    app: FastAPI, tenant: Tenant, lot_id: uuid.UUID
) -> None:
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session, transaction(session):
        locked = ledger.lock_lots(session, tenant.org_id, [lot_id])
        movement = ledger.Movement(lot_id, EntryKind.RECEIVE, on_hand_change=Decimal(5))
        ledger.post(session, tenant.actor(), locked, [movement], utcnow())
    for statement in (
        "UPDATE inventory_entries SET on_hand_change = 500",
        "DELETE FROM inventory_entries",
    ):
        with (
            factory() as session,
            pytest.raises(DBAPIError, match="append-only"),
            transaction(session),
        ):
            session.execute(text(statement))
