"""Engine, session factory, the declarative Base, column types and the transaction helper."""

import functools
import os
import secrets
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    MetaData,
    Numeric,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import ConnectionPoolEntry

# Quantities keep six decimal places: enough for grams of a tonne, and exact on every database.
QUANTITY_SCALE = 6
_QUANTITY_FACTOR = Decimal(10) ** QUANTITY_SCALE


_id_lock = threading.Lock()
_last_id = 0


def new_id() -> uuid.UUID:
    """A UUIDv7: opaque to clients, yet ordered by creation so that ids make a stable sort key.

    Strictly increasing within a process (the events of one transaction keep their order even
    within a millisecond); across servers, ordered to the millisecond.
    """
    global _last_id
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    random = secrets.randbits(74)  # (one draw: each is a system call)
    value |= (random >> 62) << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= random & ((1 << 62) - 1)
    with _id_lock:
        if value <= _last_id:
            # Same millisecond: count up in the random bits, keeping version and variant.
            value = _last_id + 1
            if (value >> 62) & 0b11 != 0b10:
                value = (value & ~(0b11 << 62)) | (0b10 << 62) | (1 << 64)
        _last_id = value
    return uuid.UUID(int=value)


_new_object = object.__new__
_set_slot = object.__setattr__
_SAFETY_UNKNOWN = uuid.SafeUUID.unknown


def _uuid_of_hex(value: str) -> uuid.UUID:
    """`uuid.UUID(value)` for the 32 hex digits SQLite keeps an id as, in half its time (a
    trace or a page loads hundreds): the constructor's checks are for text of any form.
    The slots are set as `uuid.UUID.__setstate__` sets them."""
    made = _new_object(uuid.UUID)
    _set_slot(made, "int", int(value, 16))
    _set_slot(made, "is_safe", _SAFETY_UNKNOWN)
    return made


class Id(Uuid[uuid.UUID]):
    """An id: native `uuid` on PostgreSQL, 32 hex digits on SQLite (loaded by
    `_uuid_of_hex`)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.supports_native_uuid:
            return super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]

        def process(value: str | None) -> uuid.UUID | None:
            return None if value is None else _uuid_of_hex(value)

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Time-zone aware on the way in and out, UTC inside.

    PostgreSQL keeps `timestamptz`; SQLite has no zone, so UTC is stored naive and the zone
    restored on load. Naive datetimes are refused: a time without a zone is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a time-zone aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Quantity(TypeDecorator[Decimal]):
    """An exact decimal quantity.

    NUMERIC(24, 6) on PostgreSQL. SQLite would round NUMERIC through a float, so there it is a
    whole number of millionths, which keeps sums in SQL exact as well.
    """

    impl = Numeric(24, QUANTITY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(24, QUANTITY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            scaled = value * _QUANTITY_FACTOR
            if scaled != scaled.to_integral_value():
                raise ValueError(f"quantity {value} has more than {QUANTITY_SCALE} decimals")
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return _of_millionths(int(value))
        return normalize(Decimal(value))

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # (SQLite's integers need no processing of their own: straight to the Decimal)
        def process(value: int | None) -> Decimal | None:
            return None if value is None else _of_millionths(int(value))

        return process


@functools.lru_cache(maxsize=4096)
def _of_millionths(value: int) -> Decimal:
    """A quantity SQLite keeps as whole millionths, in its shortest form; a plant's
    quantities repeat (10, 500, 4000), and a Decimal, immutable, can be shared."""
    return normalize(Decimal(value) / _QUANTITY_FACTOR)


def normalize(value: Decimal) -> Decimal:
    """10000.000000 -> 10000, 2.500 -> 2.5: the shortest exact form, never exponent notation."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return normalized.quantize(Decimal(1))
    return normalized


# Constraint names that Alembic can rely on, identical on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Quantity(), uuid.UUID: Id()}


class OrgScoped:
    """Columns of every tenant-owned record: an opaque id, its organisation, version, times.

    `version` is SQLAlchemy's optimistic lock: an UPDATE whose version moved on in between
    touches no row and fails, so two writers never both succeed.
    """

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys on, WAL for concurrent readers, and a generous wait for the write lock.
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, see _begin_immediate
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The execution option that marks a connection whose transaction will write (see transaction).
_WRITES = "taktline_writes"


def _begin(conn: Any) -> None:
    # SQLite upgrades a read lock to a write lock lazily and then fails at once under
    # contention. A unit of work that writes takes the write lock at BEGIN instead, which
    # serialises writers, so that a read-check-write sequence is never interleaved with
    # another. Reads begin deferred: in WAL mode they never wait for a writer, nor it for them.
    immediate = conn.get_execution_options().get(_WRITES, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Connections kept open: a connection opened beyond them (an overflow) is closed when
    # returned, and opening one costs the database a process, so the pool holds what a
    # busy server process uses at once (issue 8 measured 85 connections opened in 10 s by
    # 32 clients on 2 processes with 10); a burst beyond may open half as many again.
    pool_size = int(os.environ.get("TAKTLINE_DB_POOL_SIZE", "20"))
    return create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max(pool_size // 2, 1)
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# PostgreSQL engines of the statements that commit on their own, one per engine of the
# application (see committed_apart).
_apart: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()
_apart_lock = threading.Lock()


@contextmanager
def committed_apart(session: Session) -> Iterator[Connection]:
    """A connection whose statements commit at once, apart from the session's transaction:
    for a number claimed (a lot code's), so that transactions wanting the next one do not
    wait for each other to end. A number claimed by a transaction that then fails stays
    unused.

    On PostgreSQL the connection comes from a small pool of its own: one from the
    application's pool could wait for connections that requests hold while they wait for
    this. SQLite has one writer, held by the session's transaction: there the statements
    join that transaction (a second connection would wait for it)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    if engine.dialect.name == "sqlite":
        yield session.connection()
        return
    with _apart_lock:
        apart = _apart.get(engine)
        if apart is None:
            apart = _apart[engine] = create_engine(
                engine.url,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=6,
                # A claim waits for nothing but another claim; should it wait for a lock
                # its own request holds, it fails rather than waiting for ever.
                connect_args={"options": "-c lock_timeout=5s"},
            )
            # Disposing of the application's engine (a server stopping) closes these too.
            event.listen(engine, "engine_disposed", lambda _: apart.dispose())
    with apart.begin() as conn:
        yield conn


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """One unit of work: commit at the end, roll everything back on any error.

    Re-entrant: a service called inside another's transaction (an idempotent create wraps
    the create and the stored answer in one) joins it rather than committing half of it.
    """
    if session.info.get("in_transaction"):
        yield session
        return
    session.info["in_transaction"] = True
    try:
        if session.get_bind().dialect.name == "sqlite":
            # A read before (who is acting, say) ends here, so that the unit of work begins
            # afresh with the write lock rather than upgrading a read lock midway.
            if session.in_transaction():
                session.commit()
            session.connection(execution_options={_WRITES: True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info["in_transaction"] = False
