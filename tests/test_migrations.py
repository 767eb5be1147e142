"""The migrations build the schema the models describe, on SQLite and on PostgreSQL, and add
what the models cannot say: append-only events and, on PostgreSQL, no overlapping bookings."""

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from taktline import migrate
from taktline.db import create_db_engine, create_session_factory, new_id
from taktline.events.models import Event
from taktline.items.models import Item, ItemType
from taktline.models import Base
from taktline.orders.models import LineItem, WorkOrder
from taktline.orgs.models import Facility, Organisation
from taktline.resources.models import Resource, ResourceBooking, ResourceKind


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db_engine = create_db_engine(database_url)
    yield db_engine
    db_engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table_and_reaches_head(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)

    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert set(Base.metadata.tables) <= _table_names(empty_database_url)


def test_upgrade_at_head_changes_nothing(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    tables = _table_names(empty_database_url)

    migrate.upgrade(empty_database_url)

    assert _table_names(empty_database_url) == tables
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)

    # If this fails after a model change: regenerate or add a revision (see README).
    assert migrate.pending_changes(empty_database_url) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url)

    migrate.downgrade(empty_database_url, "base")

    assert _table_names(empty_database_url) <= {"alembic_version"}
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert migrate.pending_changes(empty_database_url) == []


@pytest.mark.postgres_only
def test_concurrent_upgrades_take_turns_and_all_succeed(empty_database_url: str) -> None:
    # Several app servers may run `taktline up` at the same moment. Separate processes, as
    # in production (Alembic's context is global to a process).
    code = "import sys; from taktline import migrate; migrate.upgrade(sys.argv[1])"
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in upgrades]

    assert [process.returncode for process in upgrades] == [0, 0, 0], outputs
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert migrate.pending_changes(empty_database_url) == []


def _insert_event(engine: Engine) -> uuid.UUID:
    org_id, event_id = new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(
            insert(Organisation).values(
                id=org_id, name=f"Audit {secrets.token_hex(4)}", created_at=datetime.now(UTC)
            )
        )
        conn.execute(
            insert(Event).values(
                id=event_id,
                org_id=org_id,
                entity_type="item",
                entity_id=new_id(),
                action="create",
                at=datetime.now(UTC),
                changes={},
            )
        )
    return event_id


def _event_action(engine: Engine, event_id: uuid.UUID) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(Event.action).where(Event.id == event_id))


def test_events_refuse_update(engine: Engine) -> None:
    event_id = _insert_event(engine)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(update(Event).where(Event.id == event_id).values(action="tampered"))

    assert _event_action(engine, event_id) == "create"


def test_events_refuse_delete(engine: Engine) -> None:
    event_id = _insert_event(engine)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(Event).where(Event.id == event_id))

    assert _event_action(engine, event_id) == "create"


@pytest.mark.postgres_only
def test_events_refuse_truncate(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = create_db_engine(empty_database_url)
    try:
        event_id = _insert_event(engine)

        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE events"))

        assert _event_action(engine, event_id) == "create"
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_text_filters_are_served_by_trigram_indexes_on_postgresql(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(
                conn.execute(
                    text("EXPLAIN SELECT id FROM work_orders WHERE number ILIKE '%000123%'")
                ).scalars()
            )
    finally:
        engine.dispose()

    assert "ix_trgm_work_orders_number" in plan


def _line_items_on_one_resource(session: Session, count: int) -> list[LineItem]:
    """`count` line items of one work order, all on one new resource."""
    org = Organisation(name=f"Bookings {secrets.token_hex(4)}")
    session.add(org)
    session.flush()
    facility = Facility(org_id=org.id, name="Plant", timezone="UTC")
    item = Item(org_id=org.id, sku="SKU", name="Juice", unit="ea", type=ItemType.FINISHED_GOOD)
    session.add_all([facility, item])
    session.flush()
    resource = Resource(
        org_id=org.id, code="LINE-1", name="Line 1", kind=ResourceKind.LINE, facility_id=facility.id
    )
    work_order = WorkOrder(
        org_id=org.id, number="WO-000001", item_id=item.id, quantity=Decimal(10), unit="ea"
    )
    session.add_all([resource, work_order])
    session.flush()
    line_items = [
        LineItem(
            org_id=org.id,
            work_order_id=work_order.id,
            sequence=n,
            operation=f"Step {n}",
            resource_id=resource.id,
        )
        for n in range(1, count + 1)
    ]
    session.add_all(line_items)
    session.commit()
    return line_items


def _book(
    session: Session, line_item: LineItem, start_hour: int, end_hour: int, exclusive: bool = True
) -> None:
    day = datetime(2030, 1, 7, tzinfo=UTC)
    assert line_item.resource_id is not None
    session.add(
        ResourceBooking(
            org_id=line_item.org_id,
            resource_id=line_item.resource_id,
            work_order_id=line_item.work_order_id,
            line_item_id=line_item.id,
            starts_at=day + timedelta(hours=start_hour),
            ends_at=day + timedelta(hours=end_hour),
            exclusive=exclusive,
        )
    )
    session.commit()


@pytest.mark.postgres_only
def test_database_refuses_two_overlapping_exclusive_bookings_of_one_resource(
    engine: Engine,
) -> None:
    with create_session_factory(engine)() as session:
        first, second = _line_items_on_one_resource(session, 2)
        _book(session, first, 8, 10)

        with pytest.raises(IntegrityError, match="ex_resource_bookings_no_overlap"):
            _book(session, second, 9, 11)


@pytest.mark.postgres_only
def test_database_accepts_back_to_back_and_non_exclusive_bookings(engine: Engine) -> None:
    with create_session_factory(engine)() as session:
        first, adjacent, shared = _line_items_on_one_resource(session, 3)

        _book(session, first, 8, 10)
        _book(session, adjacent, 10, 12)  # [8, 10) and [10, 12) touch but do not overlap
        _book(session, shared, 9, 11, exclusive=False)

        booked = session.scalars(
            select(ResourceBooking.line_item_id).where(
                ResourceBooking.resource_id == first.resource_id
            )
        ).all()
        assert set(booked) == {first.id, adjacent.id, shared.id}
