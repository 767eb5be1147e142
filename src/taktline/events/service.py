"""Writing and reading the audit trail. Services call `record` (or, for many records at
once, `record_many`) in their own transaction."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select, union_all
from sqlalchemy.orm import Session, aliased

from taktline.db import new_id, utcnow
from taktline.events.models import Event
from taktline.permissions import Actor


def record(
    session: Session,
    actor: Actor | None,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    parent_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> Event:
    event = Event(
        org_id=actor.org_id if actor else org_id,
        entity_type=entity_type,
        entity_id=entity_id,
        parent_id=parent_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.user_id if actor else None,
        actor_email=actor.email if actor else None,
        reason=reason,
        changes=changes or {},
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class Change:
    """What one record's event of `record_many` says of it."""

    entity_id: uuid.UUID
    changes: dict[str, Any] = field(default_factory=dict)
    parent_id: uuid.UUID | None = None


_INSERT_EVENTS = insert(cast(Table, Event.__table__))  # (built once: see orders.actions)


def record_many(
    session: Session,
    actor: Actor,
    entity_type: str,
    action: str,
    changed: Iterable[Change],
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
) -> int:
    """The events of one action on many records, written at once (one INSERT of many rows,
    no object per event), in the order given: their ids ascend in that order. Whatever the
    session holds is flushed first, so that events recorded before come before these.
    Returns how many were written."""
    # Before the ids below are drawn: the pending events take theirs when flushed.
    session.flush()
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "org_id": actor.org_id,
            "entity_type": entity_type,
            "entity_id": c.entity_id,
            "parent_id": c.parent_id,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "actor_id": actor.user_id,
            "actor_email": actor.email,
            "at": now,
            "reason": reason,
            "changes": c.changes,
        }
        for c in changed
    ]
    if rows:
        session.execute(_INSERT_EVENTS, rows)
    return len(rows)


def for_entity(
    session: Session, org_id: uuid.UUID, entity_id: uuid.UUID, *, with_children: bool = False
) -> Sequence[Event]:
    """The events of one record, oldest first; with its work orders' for a production order."""
    own = select(Event).where(Event.org_id == org_id, Event.entity_id == entity_id)
    if not with_children:
        return session.scalars(own.order_by(Event.id)).all()
    # Two walks, each along its own index ((org, entity, id) and parent), in one statement:
    # `entity_id = x OR parent_id = x` is served by neither. An event of both is read once.
    children = select(Event).where(
        Event.org_id == org_id, Event.parent_id == entity_id, Event.entity_id != entity_id
    )
    both = aliased(Event, union_all(own, children).subquery())
    return session.scalars(select(both).order_by(both.id)).all()
