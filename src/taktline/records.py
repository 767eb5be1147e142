"""The data-access moves every feature shares (load one record of the actor's organisation,
page through a list, apply a PATCH under optimistic locking), and the use cases of a simple
record: one that is only created, listed, read and changed (`SimpleRecord`)."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from taktline.db import OrgScoped, transaction
from taktline.errors import (
    Conflict,
    FieldError,
    Loc,
    NotFound,
    PreconditionFailed,
    ValidationProblem,
)
from taktline.events import service as events
from taktline.permissions import PERMISSIONS, Actor, authorize
from taktline.schemas import PatchBody, RecordOut, RequestBody

M = TypeVar("M", bound=OrgScoped)
C = TypeVar("C", bound=RequestBody)
U = TypeVar("U", bound=PatchBody)


def get_owned(
    session: Session,
    model: type[M],
    org_id: uuid.UUID,
    record_id: uuid.UUID,
    *,
    kind: str,
    for_update: bool = False,
) -> M:
    """The record if it belongs to `org_id`. Another organisation's id is simply not found."""
    stmt = select(model).where(model.id == record_id, model.org_id == org_id)
    if for_update:
        # On PostgreSQL, concurrent actions on one record take turns; the second then sees
        # the first one's result. SQLite serialises writers at BEGIN already.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    record = session.scalars(stmt).first()
    if record is None:
        raise NotFound(kind, record_id)
    return record


class Versioned(Protocol):
    """A record, or a row of one, that carries its id and version."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...


def check_version(record: Versioned, expected: int | None, number: str | None = None) -> None:
    if expected is not None and record.version != expected:
        name = number or str(record.id)
        raise PreconditionFailed(
            f"{name} is at version {record.version}, not {expected}: "
            "someone changed it since you read it. Reload and try again.",
            current_version=record.version,
        )


def page(
    session: Session, stmt: Select[M], model: type[M], after: uuid.UUID | None, limit: int
) -> tuple[Sequence[M], uuid.UUID | None]:
    """One page in id order (ids are time-ordered, so: creation order) and the next cursor."""
    if after is not None:
        stmt = stmt.where(model.id > after)
    rows = session.scalars(stmt.order_by(model.id).limit(limit + 1)).all()
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def apply_changes(record: Any, changes: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Sets the given fields and returns what changed as {field: [old, new]} for the audit."""
    diff: dict[str, list[Any]] = {}
    for field, value in changes.items():
        old = getattr(record, field)
        if old != value:
            setattr(record, field, value)
            diff[field] = [_jsonable(old), _jsonable(value)]
    return diff


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def ensure_unique(
    session: Session,
    model: type[M],
    org_id: uuid.UUID,
    field: str,
    value: Any,
    *,
    kind: str,
    but: uuid.UUID | None = None,
) -> None:
    """Refuses a second record with the same natural key (SKU, code, name) in one organisation."""
    column = getattr(model, field)
    stmt = select(model.id).where(model.org_id == org_id, column == value)
    if but is not None:
        stmt = stmt.where(model.id != but)
    if session.scalar(stmt) is not None:
        raise Conflict(f"A {kind} with {field} {value!r} already exists.")


def resolve_refs(
    session: Session,
    model: type[M],
    org_id: uuid.UUID,
    refs: Sequence[tuple[Loc, uuid.UUID]],
    *,
    kind: str,
) -> dict[uuid.UUID, M]:
    """Loads every record a body refers to in one query; each id that is not the actor's
    organisation's is reported at its place in the body, exactly as an id that does not exist."""
    wanted = {ref for _, ref in refs}
    if not wanted:
        return {}
    found = {
        r.id: r
        for r in session.scalars(select(model).where(model.id.in_(wanted), model.org_id == org_id))
    }
    missing = [FieldError(loc, f"no {kind} with this id") for loc, ref in refs if ref not in found]
    if missing:
        raise ValidationProblem(missing)
    return found


def text_match(q: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive "contains `q`" over any of the columns. `%` and `_` in the text are
    matched literally. ILIKE on PostgreSQL, where trigram indexes serve it."""
    escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


# A rule between the fields a body sends and the database, checked before anything is
# written (a reference names a record of the actor's organisation): given every field of a
# create, the fields a PATCH sends.
RefsCheck = Callable[[Session, Actor, Mapping[str, Any]], None]
# A rule the record must meet once a PATCH is applied, run in its transaction with the row
# locked, given the fields sent; raising rolls the change back.
ChangeCheck = Callable[[Session, M, Mapping[str, Any]], None]


@dataclass(frozen=True)
class TextSearch:
    """What a list's `q` looks in: case-insensitive text in any of `columns`."""

    columns: tuple[str, ...]
    help: str  # how the API describes `q`: "Text in the SKU or name."


@dataclass(frozen=True)
class SimpleRecord(Generic[M, C, U]):
    """A record that is only created, listed, read and changed: items, facilities, customers,
    resources. Declared once, it has its use cases here (each one transaction, audited) and
    its API routes from `taktline.api.records.records_router`. Who may is decided by
    `<kind>.read`, `<kind>.create` and `<kind>.update` of taktline.permissions. A new one:

        LOTS = SimpleRecord(model=Lot, kind="lot", plural="lots", unique="code",
                            create_body=LotCreate, update_body=LotUpdate, out=LotOut)
        router = records_router(LOTS)  # lots/router.py, included in app.py
        **_records("lot", "lots"),     # in PERMISSIONS
    """

    model: type[M]
    kind: str  # the permission's and the audit's name of it, and its word in errors: "item"
    plural: str  # its collection in URLs and the API's tags: "items"
    unique: str  # the field unique within an organisation: "sku"
    create_body: type[C]
    update_body: type[U]
    out: type[RecordOut]
    filters: tuple[str, ...] = ()  # fields of `out` that a list may be narrowed to by equality
    search: TextSearch | None = None
    check_refs: RefsCheck | None = None
    check_change: ChangeCheck[M] | None = None

    def __post_init__(self) -> None:
        # A wrong name would only show at the first request; refuse it at import instead.
        for action in ("read", "create", "update"):
            if f"{self.kind}.{action}" not in PERMISSIONS:
                raise ValueError(f"taktline.permissions has no rule {self.kind}.{action}")
        columns = (self.unique, *self.filters, *(self.search.columns if self.search else ()))
        for name in columns:
            if not hasattr(self.model, name):
                raise ValueError(f"{self.model.__name__} has no column {name}")
        for name in self.filters:
            if name not in self.out.model_fields:
                raise ValueError(f"{self.out.__name__} has no field {name} to filter by")

    def create(self, session: Session, actor: Actor, body: C) -> M:
        authorize(actor, f"{self.kind}.create")
        values = body.model_dump()
        if self.check_refs is not None:
            self.check_refs(session, actor, values)
        with transaction(session):
            ensure_unique(
                session, self.model, actor.org_id, self.unique, values[self.unique], kind=self.kind
            )
            record: M = cast(Any, self.model)(org_id=actor.org_id, **values)
            session.add(record)
            session.flush()
            events.record(
                session,
                actor,
                self.kind,
                record.id,
                "create",
                changes={k: _jsonable(v) for k, v in values.items()},
            )
        return record

    def get(self, session: Session, actor: Actor, record_id: uuid.UUID) -> M:
        authorize(actor, f"{self.kind}.read")
        return get_owned(session, self.model, actor.org_id, record_id, kind=self.kind)

    def list_page(
        self,
        session: Session,
        actor: Actor,
        *,
        after: uuid.UUID | None,
        limit: int,
        q: str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> tuple[Sequence[M], uuid.UUID | None]:
        """One page of the organisation's records; a filter given as None is not applied."""
        authorize(actor, f"{self.kind}.read")
        stmt = select(self.model).where(self.model.org_id == actor.org_id)
        for field, value in (filters or {}).items():
            if field not in self.filters:
                raise TypeError(f"a list of {self.plural} has no filter {field}")
            if value is not None:
                stmt = stmt.where(getattr(self.model, field) == value)
        if q and self.search is not None:
            columns = [getattr(self.model, column) for column in self.search.columns]
            stmt = stmt.where(text_match(q, *columns))
        return page(session, stmt, self.model, after, limit)

    def update(
        self,
        session: Session,
        actor: Actor,
        record_id: uuid.UUID,
        body: U,
        expected_version: int | None,
    ) -> M:
        """Applies a PATCH under optimistic locking: `expected_version` None skips the check."""
        authorize(actor, f"{self.kind}.update")
        changes = body.changes()
        if self.check_refs is not None:
            self.check_refs(session, actor, changes)
        with transaction(session):
            record = get_owned(
                session, self.model, actor.org_id, record_id, kind=self.kind, for_update=True
            )
            check_version(record, expected_version, getattr(record, self.unique))
            if self.unique in changes:
                ensure_unique(
                    session,
                    self.model,
                    actor.org_id,
                    self.unique,
                    changes[self.unique],
                    kind=self.kind,
                    but=record.id,
                )
            diff = apply_changes(record, changes)
            if self.check_change is not None:
                self.check_change(session, record, changes)
            if diff:
                events.record(session, actor, self.kind, record.id, "update", changes=diff)
                session.flush()
        return record
