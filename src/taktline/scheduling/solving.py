"""How many schedules an organisation may solve at once: SOLVES_PER_ORGANISATION. A solve
takes the CPU for its whole time limit; one organisation must not be able to fill the
servers with them (two 30 s previews at once made every page of the portal slow).

`slot(session, org_id)` holds one of the organisation's slots for as long as its block
runs, or refuses at once with `SolverBusy` (429, Retry-After) when all are taken:

- PostgreSQL (several app servers on one database): a session-level advisory lock
  (`pg_try_advisory_lock`) on a key made of the organisation and the slot's number, taken
  on a connection of its own in autocommit mode (so that it holds no transaction and no
  snapshot while the solver runs) and released in `finally`; should the unlock fail, the
  connection is discarded, which ends its database session and with it the lock. A server
  that dies mid-solve loses its connection, and PostgreSQL releases the lock.
- SQLite (one server process, see the README): a count per organisation in this process.
  A `taktline schedule` run in another process at the same time is not counted.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from taktline.db import is_postgres
from taktline.errors import TooManyRequests

log = logging.getLogger(__name__)

# Solves of one organisation at a time; the next one is refused until one ends.
SOLVES_PER_ORGANISATION = 1
# What a refusal tells the client to wait before trying again (Retry-After, seconds).
RETRY_AFTER_SECONDS = 5


class SolverBusy(TooManyRequests):
    """Every solving slot of the organisation is taken."""

    type_slug = "schedule-busy"
    title = "Another schedule is being solved"

    def __init__(self) -> None:
        super().__init__(
            "Another schedule is being solved for your organisation; try again in a moment.",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
        self.retry_after_seconds = RETRY_AFTER_SECONDS


@contextmanager
def slot(session: Session, org_id: uuid.UUID) -> Iterator[None]:
    """Holds one of the organisation's solving slots while the block runs; `SolverBusy` when
    none is free. Takes no transaction of `session`."""
    if is_postgres(session):
        with _advisory_slot(session.get_bind().engine, org_id):
            yield
    else:
        with _process_slot(org_id):
            yield


def advisory_key(org_id: uuid.UUID, number: int) -> int:
    """The advisory lock key of the organisation's slot `number`: a signed 64-bit hash, in
    a namespace of its own (no other lock of Taktline hashes this text)."""
    digest = hashlib.blake2b(
        f"taktline.schedule-solve:{org_id}:{number}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _advisory_slot(engine: Engine, org_id: uuid.UUID) -> Iterator[None]:
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        held = next(
            (
                key
                for key in (advisory_key(org_id, n) for n in range(SOLVES_PER_ORGANISATION))
                if conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            ),
            None,
        )
        if held is None:
            raise SolverBusy()
        try:
            yield
        finally:
            _unlock(conn, held)
    finally:
        conn.close()


def _unlock(conn: Connection, key: int) -> None:
    try:
        released = conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    except Exception:
        # The lock lives as long as the database session: end it rather than pool it.
        log.warning("could not release the solving slot %s; discarding its connection", key)
        conn.invalidate()
        return
    if not released:
        log.warning("the solving slot %s was not held at its release", key)


# SQLite: one server process, so a count in this process is the whole truth.
_guard = threading.Lock()
_running: dict[uuid.UUID, int] = {}


@contextmanager
def _process_slot(org_id: uuid.UUID) -> Iterator[None]:
    with _guard:
        if _running.get(org_id, 0) >= SOLVES_PER_ORGANISATION:
            raise SolverBusy()
        _running[org_id] = _running.get(org_id, 0) + 1
    try:
        yield
    finally:
        with _guard:
            left = _running[org_id] - 1
            if left:
                _running[org_id] = left
            else:
                del _running[org_id]
