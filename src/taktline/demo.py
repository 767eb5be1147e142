"""The Sunshine Beverages demo: a juice co-packer with one plant, five resources, two brand
customers and a production order of 10,000 bottles of apple juice.

Loading it twice adds nothing: every record is looked up by its natural key first.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.auth import service as auth_service
from taktline.calendars import service as calendars
from taktline.calendars.schemas import CalendarIn, ShiftIn, Weekday
from taktline.db import utcnow
from taktline.items import service as items
from taktline.items.models import Item, ItemType
from taktline.items.schemas import ItemCreate
from taktline.orders import production
from taktline.orders.models import ProductionOrder
from taktline.orders.schemas import (
    LineItemIn,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    WorkOrderFields,
)
from taktline.orgs import service as orgs
from taktline.orgs import settings
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.orgs.schemas import CustomerCreate, FacilityCreate, OrganisationUpdate
from taktline.permissions import Actor, Role
from taktline.resources import service as resources
from taktline.resources.models import Resource, ResourceKind
from taktline.resources.schemas import ResourceCreate

DEMO_ORG = "Sunshine Beverages"
DEMO_ADMIN_EMAIL = "admin@sunshine.example"
# One user per role, to try the portal as each of them.
DEMO_USERS = {
    DEMO_ADMIN_EMAIL: Role.ADMIN,
    "planner@sunshine.example": Role.PLANNER,
    "operator@sunshine.example": Role.OPERATOR,
    "viewer@sunshine.example": Role.VIEWER,
}
PLANT_ZONE = "America/Chicago"
ORDER_REFERENCE = "HJ-PO-1001"
# Two shifts on weekdays, one on Saturday: the working hours the scheduler plans within.
PLANT_HOURS = CalendarIn(
    shifts=[ShiftIn(weekday=d, start=time(6), end=time(22)) for d in list(Weekday)[:5]]
    + [ShiftIn(weekday=Weekday.SATURDAY, start=time(6), end=time(14))]
)

# (code, name, kind, capacity min, max, unit)
RESOURCES = [
    ("CP1", "Cold Press 1", ResourceKind.MACHINE, None, None, None),
    ("BL1", "Bottling Line 1", ResourceKind.LINE, Decimal(0), Decimal(1000), "gal"),
    ("LB1", "Labeler 1", ResourceKind.MACHINE, None, None, None),
    ("CS1", "Case Packer 1", ResourceKind.MACHINE, None, None, None),
    ("CREW-A", "Packaging Crew A", ResourceKind.PERSONNEL, None, None, None),
]
CUSTOMERS = [("Healthy Juices Inc.", "HJ"), ("Peak Kombucha Co.", "PK")]
# (operation, resource code, setup minutes, run minutes per bottle)
OPERATIONS = [
    ("Bottling", "BL1", Decimal(30), Decimal("0.012")),
    ("Labeling", "LB1", Decimal(15), Decimal("0.010")),
    ("Casing", "CS1", Decimal(10), Decimal("0.008")),
]


DEMO_TOLERANCE = Decimal(1)


def load(session: Session, org_name: str = DEMO_ORG) -> Organisation:
    """Loads the demo into `org_name`, creating the organisation and its admin if missing."""
    org = auth_service.get_or_create_org(session, org_name)
    admin = auth_service.get_or_create_user(session, org, _admin_email(org_name), Role.ADMIN)
    actor = auth_service.actor_for_user(admin)
    if org_name == DEMO_ORG:
        for email, role in DEMO_USERS.items():
            auth_service.get_or_create_user(session, org, email, role)

    facility = session.scalar(
        select(Facility).where(Facility.org_id == org.id, Facility.name == "Riverside Plant")
    ) or orgs.FACILITIES.create(
        session, actor, FacilityCreate(name="Riverside Plant", timezone=PLANT_ZONE)
    )
    if not org.over_production_tolerance_percent:
        # Fillers overfill a little: the plant accepts 1 % more than can reach a line item.
        settings.update_organisation(
            session, actor, OrganisationUpdate(over_production_tolerance_percent=DEMO_TOLERANCE)
        )
    if calendars.get(session, actor, "facility", facility.id).source != "own":
        calendars.set_weekly(session, actor, "facility", facility.id, PLANT_HOURS, None)
    by_code = _resources(session, actor, facility)
    customers = {}
    for name, code in CUSTOMERS:
        customers[code] = session.scalar(
            select(Customer).where(Customer.org_id == org.id, Customer.name == name)
        ) or orgs.CUSTOMERS.create(session, actor, CustomerCreate(name=name, code=code))
    juice = session.scalar(
        select(Item).where(Item.org_id == org.id, Item.sku == "AJ-16OZ")
    ) or items.ITEMS.create(
        session,
        actor,
        ItemCreate(
            sku="AJ-16OZ",
            name="16oz Organic Apple Juice Bottles",
            unit="bottle",
            type=ItemType.FINISHED_GOOD,
        ),
    )
    existing = session.scalar(
        select(ProductionOrder.id).where(
            ProductionOrder.org_id == org.id, ProductionOrder.reference == ORDER_REFERENCE
        )
    )
    if existing is None:
        _apple_juice_order(session, actor, juice, customers["HJ"], by_code)
    return org


def _admin_email(org_name: str) -> str:
    if org_name == DEMO_ORG:
        return DEMO_ADMIN_EMAIL
    slug = "".join(c for c in org_name.lower() if c.isalnum()) or "org"
    return f"admin@{slug}.example"


def _resources(session: Session, actor: Actor, facility: Facility) -> dict[str, Resource]:
    found = {
        r.code: r for r in session.scalars(select(Resource).where(Resource.org_id == actor.org_id))
    }
    for code, name, kind, low, high, unit in RESOURCES:
        if code not in found:
            found[code] = resources.RESOURCES.create(
                session,
                actor,
                ResourceCreate(
                    code=code,
                    name=name,
                    kind=kind,
                    facility_id=facility.id,
                    capacity_min=low,
                    capacity_max=high,
                    capacity_unit=unit,
                ),
            )
    return found


def _next(month: int, day: int, at: time, zone: ZoneInfo) -> datetime:
    today = utcnow().astimezone(zone).date()
    year = today.year if (today.month, today.day) <= (month, day) else today.year + 1
    return datetime.combine(datetime(year, month, day).date(), at, tzinfo=zone)


def _apple_juice_order(
    session: Session,
    actor: Actor,
    juice: Item,
    customer: Customer,
    by_code: dict[str, Resource],
) -> None:
    """10,000 bottles due 12 December, in two runs of 5,000: one run of 10,000 bottles would
    be 1,250 gallons, more than the bottling line's 1,000 per run. Scheduled from tomorrow
    06:00 at the plant, so the board and the shop floor have work to show."""
    zone = ZoneInfo(PLANT_ZONE)
    line_items = [
        LineItemIn(
            operation=operation,
            resource_id=by_code[code].id,
            setup_minutes=setup,
            run_minutes_per_unit=per_unit,
        )
        for operation, code, setup, per_unit in OPERATIONS
    ]
    po = production.create_production_order(
        session,
        actor,
        ProductionOrderCreate(
            owner_id=customer.id,
            reference=ORDER_REFERENCE,
            due_date=_next(12, 12, time(17, 0), zone),
            priority=70,
            items=[ProductionOrderItemIn(item_id=juice.id, quantity=Decimal(10_000))],
            work_orders=[
                WorkOrderFields(item_id=juice.id, quantity=Decimal(5_000), line_items=line_items)
                for _ in range(2)
            ],
        ),
    )
    tomorrow = utcnow().astimezone(zone).date() + timedelta(days=1)
    production.schedule(
        session, actor, po.id, start=datetime.combine(tomorrow, time(6, 0), tzinfo=zone)
    )
