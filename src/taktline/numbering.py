"""Human numbers (PO-000001, WO-000001), unique and gap-free per organisation."""

import uuid

from sqlalchemy import Integer, String, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from taktline.db import Base

PREFIXES = {"production_order": "PO", "work_order": "WO"}


class NumberSequence(Base):
    __tablename__ = "number_sequences"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


def next_numbers(session: Session, org_id: uuid.UUID, kind: str, count: int = 1) -> list[str]:
    """Reserves `count` numbers in the caller's transaction. The row lock taken by the UPDATE
    makes concurrent creators in one organisation take turns; a rollback returns the numbers."""
    stmt = (
        update(NumberSequence)
        .where(NumberSequence.org_id == org_id, NumberSequence.kind == kind)
        .values(last_value=NumberSequence.last_value + count)
        .returning(NumberSequence.last_value)
    )
    last = session.execute(stmt).scalar_one_or_none()
    if last is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(NumberSequence).values(org_id=org_id, kind=kind, last_value=0)
                )
        except IntegrityError:
            pass  # another transaction created it first; the UPDATE below waits for it
        last = session.execute(stmt).scalar_one()
    prefix = PREFIXES[kind]
    return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]
