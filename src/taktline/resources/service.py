"""Production resources: the lines, machines and crews that do the work."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from taktline import records
from taktline.db import transaction
from taktline.errors import BookingConflict, FieldError, ValidationProblem
from taktline.orders.models import WorkOrder
from taktline.orgs.models import Facility
from taktline.permissions import Actor, authorize
from taktline.resources.capacity import peak_load
from taktline.resources.models import Resource, ResourceBooking, ResourceKind
from taktline.resources.schemas import ResourceCreate, ResourceUpdate


def _check_facility(session: Session, actor: Actor, facility_id: uuid.UUID) -> None:
    found = session.scalar(
        select(Facility.id).where(Facility.id == facility_id, Facility.org_id == actor.org_id)
    )
    if found is None:
        raise ValidationProblem([FieldError(["body", "facility_id"], "no facility with this id")])


def _check_capacity(resource: Resource) -> None:
    if (
        resource.capacity_min is not None
        and resource.capacity_max is not None
        and resource.capacity_max < resource.capacity_min
    ):
        raise ValidationProblem(
            [FieldError(["body", "capacity_max"], "must not be below capacity_min")]
        )


def create(session: Session, actor: Actor, body: ResourceCreate) -> Resource:
    authorize(actor, "resource.create")
    _check_facility(session, actor, body.facility_id)
    return records.create_record(
        session, actor, Resource, body.model_dump(), kind="resource", unique="code"
    )


def get(session: Session, actor: Actor, resource_id: uuid.UUID) -> Resource:
    authorize(actor, "resource.read")
    return records.get_owned(session, Resource, actor.org_id, resource_id, kind="resource")


def list_page(
    session: Session,
    actor: Actor,
    *,
    kind: ResourceKind | None,
    facility_id: uuid.UUID | None,
    active: bool | None,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[Resource], uuid.UUID | None]:
    authorize(actor, "resource.read")
    stmt = select(Resource).where(Resource.org_id == actor.org_id)
    if kind is not None:
        stmt = stmt.where(Resource.kind == kind)
    if facility_id is not None:
        stmt = stmt.where(Resource.facility_id == facility_id)
    if active is not None:
        stmt = stmt.where(Resource.active == active)
    if q:
        stmt = stmt.where(records.text_match(q, Resource.code, Resource.name))
    return records.page(session, stmt, Resource, after, limit)


def update(
    session: Session,
    actor: Actor,
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    expected_version: int | None,
) -> Resource:
    authorize(actor, "resource.update")
    changes = body.changes()
    if "facility_id" in changes:
        _check_facility(session, actor, changes["facility_id"])
    with transaction(session):
        resource = records.update_record(
            session,
            actor,
            Resource,
            resource_id,
            changes,
            expected_version,
            kind="resource",
            unique="code",
            check=_check_capacity,
        )
        if "parallel_capacity" in changes:
            _rebook_for_capacity(session, resource)
    return resource


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
