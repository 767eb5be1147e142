"""Writing and reading the audit trail. Services call `record` in their own transaction."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

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


def for_entity(
    session: Session, org_id: uuid.UUID, entity_id: uuid.UUID, *, with_children: bool = False
) -> Sequence[Event]:
    """The events of one record, oldest first; with its work orders' for a production order."""
    where = Event.entity_id == entity_id
    if with_children:
        where = or_(where, Event.parent_id == entity_id)
    return session.scalars(
        select(Event).where(Event.org_id == org_id, where).order_by(Event.id)
    ).all()
