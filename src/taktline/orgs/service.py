"""Facilities and customers of an organisation."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import records
from taktline.orgs.models import Customer, Facility
from taktline.orgs.schemas import CustomerCreate, CustomerUpdate, FacilityCreate, FacilityUpdate
from taktline.permissions import Actor, authorize


def create_facility(session: Session, actor: Actor, body: FacilityCreate) -> Facility:
    authorize(actor, "facility.create")
    return records.create_record(
        session, actor, Facility, body.model_dump(), kind="facility", unique="name"
    )


def get_facility(session: Session, actor: Actor, facility_id: uuid.UUID) -> Facility:
    authorize(actor, "facility.read")
    return records.get_owned(session, Facility, actor.org_id, facility_id, kind="facility")


def list_facilities(
    session: Session, actor: Actor, *, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[Facility], uuid.UUID | None]:
    authorize(actor, "facility.read")
    stmt = select(Facility).where(Facility.org_id == actor.org_id)
    return records.page(session, stmt, Facility, after, limit)


def update_facility(
    session: Session,
    actor: Actor,
    facility_id: uuid.UUID,
    body: FacilityUpdate,
    expected_version: int | None,
) -> Facility:
    authorize(actor, "facility.update")
    return records.update_record(
        session,
        actor,
        Facility,
        facility_id,
        body.changes(),
        expected_version,
        kind="facility",
        unique="name",
    )


def create_customer(session: Session, actor: Actor, body: CustomerCreate) -> Customer:
    authorize(actor, "customer.create")
    return records.create_record(
        session, actor, Customer, body.model_dump(), kind="customer", unique="name"
    )


def get_customer(session: Session, actor: Actor, customer_id: uuid.UUID) -> Customer:
    authorize(actor, "customer.read")
    return records.get_owned(session, Customer, actor.org_id, customer_id, kind="customer")


def list_customers(
    session: Session, actor: Actor, *, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[Customer], uuid.UUID | None]:
    authorize(actor, "customer.read")
    stmt = select(Customer).where(Customer.org_id == actor.org_id)
    return records.page(session, stmt, Customer, after, limit)


def update_customer(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    expected_version: int | None,
) -> Customer:
    authorize(actor, "customer.update")
    return records.update_record(
        session,
        actor,
        Customer,
        customer_id,
        body.changes(),
        expected_version,
        kind="customer",
        unique="name",
    )
