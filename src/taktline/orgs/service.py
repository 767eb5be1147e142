"""Facilities and customers of an organisation: simple records, whose use cases are the
generic ones of `taktline.records.SimpleRecord`."""

from taktline.orgs.models import Customer, Facility
from taktline.orgs.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    FacilityCreate,
    FacilityOut,
    FacilityUpdate,
)
from taktline.records import SimpleRecord

FACILITIES = SimpleRecord(
    model=Facility,
    kind="facility",
    plural="facilities",
    unique="name",
    create_body=FacilityCreate,
    update_body=FacilityUpdate,
    out=FacilityOut,
)
CUSTOMERS = SimpleRecord(
    model=Customer,
    kind="customer",
    plural="customers",
    unique="name",
    create_body=CustomerCreate,
    update_body=CustomerUpdate,
    out=CustomerOut,
)
