"""The database layer: on SQLite a unit of work that writes takes the write lock at BEGIN
(writers take turns), while reads begin deferred and never wait for a writer; ids load
as the UUIDs they were."""

import pickle
import sqlite3
import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, make_url, text
from sqlalchemy.orm import Session

from taktline.db import (
    Id,
    _apart,
    _uuid_of_hex,
    committed_apart,
    create_db_engine,
    new_id,
    transaction,
)
from tests.helpers import API, Tenant, bodies, create


def test_on_sqlite_a_read_answers_while_a_writer_holds_the_write_lock(
    client: TestClient, tenant: Tenant, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL readers never wait for writers anyway")
    item = create(client, tenant, "/items", bodies.item())
    # The token's first use records when it was last used, a write of its own: done first.
    assert client.get(f"{API}/items", headers=tenant.headers("viewer")).status_code == 200
    writer = sqlite3.connect(make_url(database_url).database or "", timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a long write, somewhere else, holds the lock
        writer.execute("UPDATE items SET name = 'in flight' WHERE id = id")

        listed = client.get(f"{API}/items", headers=tenant.headers("viewer"))
        one = client.get(f"{API}/items/{item['id']}", headers=tenant.headers("viewer"))

        assert listed.status_code == 200, listed.text
        assert one.status_code == 200, one.text
        assert one.json()["name"] == item["name"]  # the committed state, not the writer's
    finally:
        writer.rollback()
        writer.close()


def test_an_id_loaded_from_sqlite_is_the_uuid_it_was() -> None:
    """`db._uuid_of_hex` (the fast load of SQLite's 32 hex digits) makes the same UUID as
    `uuid.UUID` would: equal, hashing alike, printing alike, pickled alike."""
    for original in (new_id(), uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
        loaded = _uuid_of_hex(original.hex)
        assert loaded == original
        assert hash(loaded) == hash(original)
        assert str(loaded) == str(original)
        assert loaded.version == original.version
        assert {loaded: 1}[original] == 1
        assert pickle.loads(pickle.dumps(loaded)) == original


def test_a_number_claimed_apart_stays_claimed_when_the_transaction_fails(
    database_url: str,
) -> None:
    """On PostgreSQL `committed_apart` commits at once, whatever becomes of the session's
    transaction (a lot number is never handed out twice), and its pool goes with its
    engine; on SQLite it is the session's own transaction (one writer), rolled back with it."""
    engine = create_db_engine(database_url)
    key = {"org": new_id(), "item": new_id(), "day": date(2026, 12, 1)}
    claim = text(
        "INSERT INTO lot_code_counters (org_id, item_id, day, last_number) "
        "VALUES (:org, :item, :day, 1)"
    ).bindparams(bindparam("org", type_=Id()), bindparam("item", type_=Id()))
    count = text(
        "SELECT count(*) FROM lot_code_counters WHERE org_id = :org AND item_id = :item"
    ).bindparams(bindparam("org", type_=Id()), bindparam("item", type_=Id()))
    try:

        def claim_then_fail() -> None:
            with Session(engine) as session, transaction(session):
                with committed_apart(session) as conn:
                    conn.execute(claim, key)
                raise RuntimeError("the report fails after its number was claimed")

        with pytest.raises(RuntimeError):
            claim_then_fail()
        with engine.connect() as conn:
            kept = conn.execute(count, key).scalar_one()
        assert kept == (0 if engine.dialect.name == "sqlite" else 1)
    finally:
        engine.dispose()
    if engine.dialect.name == "postgresql":
        assert _apart[engine].pool.checkedin() == 0  # type: ignore[attr-defined]
