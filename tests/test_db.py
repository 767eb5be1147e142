"""The database layer: on SQLite a unit of work that writes takes the write lock at BEGIN
(writers take turns), while reads begin deferred and never wait for a writer; ids load
as the UUIDs they were."""

import pickle
import sqlite3
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from taktline.db import _uuid_of_hex, new_id
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
