"""Production resources: the lines, machines and crews that do the work. A simple record
(`taktline.records.SimpleRecord`) with rules of its own: its facility is one of the
organisation's, and a PATCH keeps capacity_max at or above capacity_min and parallel
capacity at or above what is booked on it at once."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from taktline.errors import BookingConflict, FieldError, ValidationProblem
from taktline.orders.models import WorkOrder
from taktline.orgs.models import Facility
from taktline.permissions import Actor
from taktline.records import SimpleRecord, TextSearch
from taktline.resources.capacity import peak_load
from taktline.resources.models import Resource, ResourceBooking
from taktline.resources.schemas import ResourceCreate, ResourceOut, ResourceUpdate


def _facility_is_ours(session: Session, actor: Actor, values: Mapping[str, Any]) -> None:
    facility_id: uuid.UUID | None = values.get("facility_id")
    if facility_id is None:
        return
    found = session.scalar(
        select(Facility.id).where(Facility.id == facility_id, Facility.org_id == actor.org_id)
    )
    if found is None:
        raise ValidationProblem([FieldError(["body", "facility_id"], "no facility with this id")])


def _check_change(session: Session, resource: Resource, changes: Mapping[str, Any]) -> None:
    # On create the body's own validator compares the two; a PATCH may send only one of them.
    if (
        resource.capacity_min is not None
        and resource.capacity_max is not None
        and resource.capacity_max < resource.capacity_min
    ):
        raise ValidationProblem(
            [FieldError(["body", "capacity_max"], "must not be below capacity_min")]
        )
    if "parallel_capacity" in changes:
        _rebook_for_capacity(session, resource)


def _rebook_for_capacity(session: Session, resource: Resource) -> None:
    """A new parallel capacity must hold for what is booked already; the bookings' copy of
    "one job at a time" (which the PostgreSQL exclusion constraint reads) follows it.

    The resource row is locked by the update, so no booking can slip in meanwhile."""
    rows = session.execute(
        select(ResourceBooking.starts_at, ResourceBooking.ends_at, WorkOrder.number)
        .join(WorkOrder, WorkOrder.id == ResourceBooking.work_order_id)
        .where(ResourceBooking.resource_id == resource.id)
    ).all()
    windows = [(s, e) for s, e, _ in rows]
    if windows:
        span = (min(s for s, _ in windows), max(e for _, e in windows))
        if peak_load(span, windows) > resource.parallel_capacity:
            numbers = sorted(
                {n for s, e, n in rows if peak_load((s, e), windows) > resource.parallel_capacity}
            )
            raise BookingConflict(
                f"{resource.name} cannot run only {resource.parallel_capacity} job(s) at once: "
                f"work orders {', '.join(numbers)} are booked on it at the same time. "
                "Unschedule some of them first."
            )
    session.execute(
        sql_update(ResourceBooking)
        .where(ResourceBooking.resource_id == resource.id)
        .values(exclusive=resource.parallel_capacity == 1)
    )


RESOURCES = SimpleRecord(
    model=Resource,
    kind="resource",
    plural="resources",
    unique="code",
    create_body=ResourceCreate,
    update_body=ResourceUpdate,
    out=ResourceOut,
    filters=("kind", "facility_id", "active"),
    search=TextSearch(("code", "name"), "Text in the code or name."),
    check_refs=_facility_is_ours,
    check_change=_check_change,
)
