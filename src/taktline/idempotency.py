"""The stored answers of `Idempotency-Key` requests (the API replays them: `api/idempotency.py`)
and their purge, which `taktline db purge` runs."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from taktline.db import Base, transaction, utcnow


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def purge_expired(session: Session, ttl_hours: int) -> int:
    """Deletes the stored answers older than `ttl_hours`; a retry after that creates anew."""
    cutoff = utcnow() - timedelta(hours=ttl_hours)
    with transaction(session):
        result = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)
