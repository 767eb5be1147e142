"""The few data-access moves every feature shares: load one record of the actor's
organisation, page through a list, and apply a PATCH under optimistic locking."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

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
from taktline.permissions import Actor

M = TypeVar("M", bound=OrgScoped)


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


def check_version(record: OrgScoped, expected: int | None, number: str | None = None) -> None:
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


def create_record(
    session: Session,
    actor: Actor,
    model: type[M],
    values: Mapping[str, Any],
    *,
    kind: str,
    unique: str,
) -> M:
    """Creates a simple record (item, facility, customer, resource), audited, in one transaction."""
    with transaction(session):
        ensure_unique(session, model, actor.org_id, unique, values[unique], kind=kind)
        record: M = cast(Any, model)(org_id=actor.org_id, **values)
        session.add(record)
        session.flush()
        events.record(
            session,
            actor,
            kind,
            record.id,
            "create",
            changes={k: _jsonable(v) for k, v in values.items()},
        )
    return record


def update_record(
    session: Session,
    actor: Actor,
    model: type[M],
    record_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
    *,
    kind: str,
    unique: str,
    check: Callable[[M], None] | None = None,
) -> M:
    """Applies a PATCH to a simple record under optimistic locking; `check` sees the result."""
    with transaction(session):
        record = get_owned(session, model, actor.org_id, record_id, kind=kind, for_update=True)
        check_version(record, expected_version, getattr(record, unique))
        if unique in changes:
            ensure_unique(
                session, model, actor.org_id, unique, changes[unique], kind=kind, but=record.id
            )
        diff = apply_changes(record, changes)
        if check is not None:
            check(record)
        if diff:
            events.record(session, actor, kind, record.id, "update", changes=diff)
            session.flush()
    return record


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
