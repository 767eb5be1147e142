"""The Sunshine Beverages demo: a juice co-packer with one plant, five resources, two brand
customers, the bills of material of its apple juice (the juice, the 16oz bottle, a case of 24),
a production order of 10,000 bottles generated from them, and the stock it is to be made of:
lots of concentrate (one supplied by Healthy Juices Inc., one awaiting QA), ascorbic acid,
bottles, caps and labels with their expiry dates, allocated to the order's work orders, three
of them short (so that the shortages and a work order's materials show something).

Loading it twice adds nothing: every record is looked up by its natural key first (an item by
its SKU, a resource or a BOM by its code, the order by its reference, a lot by its item and
code, a balance by its item). It is loaded in one transaction: all of it, or nothing.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.auth import service as auth_service
from taktline.boms import editing as boms
from taktline.boms.explosion import Split
from taktline.boms.models import Bom, BomType
from taktline.boms.schemas import BomCreate, InputIn, OperationIn, VersionContent
from taktline.calendars import service as calendars
from taktline.calendars.schemas import CalendarIn, ShiftIn, Weekday
from taktline.db import transaction, utcnow
from taktline.inventory import allocating, receiving
from taktline.inventory.models import Lot
from taktline.inventory.schemas import ReceiptCreate, StatusRequest
from taktline.items import service as items
from taktline.items.kinds import AllocationStrategy, NewLotStatus, Tracking
from taktline.items.models import Item, ItemType
from taktline.items.schemas import ItemCreate, ItemUpdate
from taktline.orders import production
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.orders.schemas import GenerateRequest, ProductionOrderCreate, ProductionOrderItemIn
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

# (code, name, kind, capacity min, max, unit): each capacity in the unit of the BOMs that use
# the resource (activation refuses another): the press in gallons of juice, the bottling line
# in bottles (8,000 of 16 oz are its 1,000 gallons a run).
RESOURCES = [
    ("CP1", "Cold Press 1", ResourceKind.MACHINE, Decimal(0), Decimal(1000), "gal"),
    ("BL1", "Bottling Line 1", ResourceKind.LINE, Decimal(0), Decimal(8000), "bottle"),
    ("LB1", "Labeler 1", ResourceKind.MACHINE, None, None, None),
    ("CS1", "Case Packer 1", ResourceKind.MACHINE, None, None, None),
    ("CREW-A", "Packaging Crew A", ResourceKind.PERSONNEL, None, None, None),
]
CUSTOMERS = [("Healthy Juices Inc.", "HJ"), ("Peak Kombucha Co.", "PK")]

BOTTLE_SKU = "AJ-16OZ"
JUICE_SKU = "AJ-JUICE"
CASE_SKU = "AJ-16OZ-C24"
# (SKU, name, unit, type, precision: decimal places, rounded up)
ITEMS = [
    (BOTTLE_SKU, "16oz Organic Apple Juice Bottles", "bottle", ItemType.FINISHED_GOOD, 0),
    (CASE_SKU, "Case of 24 16oz Organic Apple Juice Bottles", "case", ItemType.FINISHED_GOOD, 0),
    (JUICE_SKU, "Organic Apple Juice", "gal", ItemType.WORK_IN_PROGRESS, 3),
    ("AJC-70", "Organic Apple Juice Concentrate, 70 Brix", "gal", ItemType.RAW_MATERIAL, 3),
    ("WATER-F", "Filtered Water", "gal", ItemType.RAW_MATERIAL, 1),
    ("ASC-ACID", "Ascorbic Acid", "kg", ItemType.RAW_MATERIAL, 3),
    ("BTL-PET-16", "16oz PET Bottle", "ea", ItemType.RAW_MATERIAL, 0),
    ("CAP-38", "38 mm Cap", "ea", ItemType.RAW_MATERIAL, 0),
    ("LBL-AJ-16", "Label, 16oz Organic Apple Juice", "ea", ItemType.RAW_MATERIAL, 0),
    ("CTN-24", "Case Carton, 24 x 16oz", "ea", ItemType.RAW_MATERIAL, 0),
]


@dataclass(frozen=True)
class Stocking:
    """How the demo keeps an item: lot by lot or as one balance, how long a lot keeps (days),
    which lot allocation takes first, whether new lots wait for QA, its GTIN."""

    tracking: Tracking = Tracking.LOT
    shelf_life_days: int | None = None
    strategy: AllocationStrategy = AllocationStrategy.FEFO
    new_lot_status: NewLotStatus = NewLotStatus.AVAILABLE
    gtin: str | None = None


# Food keeps by expiry (FEFO), packaging by age (FIFO); concentrate waits for QA's Brix test;
# water (from the plant's own filter) and cartons are kept as one balance, not lot by lot.
# GTINs of GS1's example company prefix 0614141: the bottle's (GTIN-12) and its case of 24's
# (GTIN-14, packaging level 1), kept as GTIN-14.
STOCKING = {
    BOTTLE_SKU: Stocking(shelf_life_days=180, gtin="00061414100014"),
    CASE_SKU: Stocking(shelf_life_days=180, gtin="10061414100011"),
    JUICE_SKU: Stocking(shelf_life_days=3),
    "AJC-70": Stocking(shelf_life_days=365, new_lot_status=NewLotStatus.QUARANTINE),
    "WATER-F": Stocking(tracking=Tracking.NONE),
    "ASC-ACID": Stocking(shelf_life_days=730),
    "BTL-PET-16": Stocking(shelf_life_days=730, strategy=AllocationStrategy.FIFO),
    "CAP-38": Stocking(shelf_life_days=730, strategy=AllocationStrategy.FIFO),
    "LBL-AJ-16": Stocking(shelf_life_days=365, strategy=AllocationStrategy.FIFO),
    "CTN-24": Stocking(tracking=Tracking.NONE, strategy=AllocationStrategy.FIFO),
}


@dataclass(frozen=True)
class Receipt:
    """A demo receipt: a lot (or, without a code, the balance of an item that is not
    lot-tracked) received `days_ago` (at 09:00 at the plant), its expiry from the item's
    shelf life; `owner`, the code of the customer who supplied it; `released`, QA's release
    of a lot that arrived in QUARANTINE."""

    sku: str
    code: str | None
    quantity: Decimal
    days_ago: int
    supplier: str
    supplier_lot_code: str | None
    reference: str
    owner: str | None = None
    released: bool = False


# The order needs 204 gal of concentrate, 1,071 gal of water, 1.53 kg of ascorbic acid and
# 10,000 each of bottles, caps and labels. Enough concentrate is AVAILABLE (the oldest lot,
# expiring within the month, is the one FEFO takes first; Healthy Juices' own is for their
# orders only), a fresh tote waits for QA; ascorbic acid, caps and labels are short.
RECEIPTS = [
    Receipt("AJC-70", "AJC70-L001", Decimal(110), 345, "Cascade Orchards Co-op", "CO-77812",
            "BOL-CO-55120", released=True),
    Receipt("AJC-70", "AJC70-HJ01", Decimal(165), 30, "Healthy Juices Inc.", "HJ-CONC-0117",
            "HJ-ASN-0117", owner="HJ", released=True),
    Receipt("AJC-70", "AJC70-L002", Decimal(275), 1, "Cascade Orchards Co-op", "CO-78140",
            "BOL-CO-55307"),
    Receipt("WATER-F", None, Decimal(2000), 2, "Riverside Plant RO filter", None, "RO-METER-0412"),
    Receipt("ASC-ACID", "ASC-L001", Decimal(1), 120, "Nutra Ingredients Ltd.", "NI-AA-3391",
            "BOL-NI-2210"),
    Receipt("BTL-PET-16", "BTL16-L001", Decimal(6000), 60, "ClearForm Packaging", "CF-88102",
            "BOL-CF-10233"),
    Receipt("BTL-PET-16", "BTL16-L002", Decimal(6000), 12, "ClearForm Packaging", "CF-88517",
            "BOL-CF-10391"),
    Receipt("CAP-38", "CAP38-L001", Decimal(5000), 45, "Summit Closures", "SC-4471",
            "BOL-SC-7781"),
    Receipt("CAP-38", "CAP38-L002", Decimal(2200), 9, "Summit Closures", "SC-4502",
            "BOL-SC-7829"),
    Receipt("LBL-AJ-16", "LBLAJ-L001", Decimal(3500), 20, "PrintWell Labels", "PW-20931",
            "BOL-PW-3318"),
    Receipt("CTN-24", None, Decimal(1200), 25, "Midwest Corrugated", None, "BOL-MC-9042"),
]  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """A demo BOM and its one version: (SKU, quantity per batch, loss %) inputs and
    (operation, resource code, setup minutes, run minutes per unit) steps. Every step takes
    time: the scheduler cannot place a line item that takes none."""

    code: str
    name: str
    sku: str
    type: BomType
    batch: Decimal
    inputs: tuple[tuple[str, Decimal, Decimal], ...]
    routing: tuple[tuple[str, str, Decimal, Decimal], ...]


BOMS = [
    # 1,000 gal batches: 16 % concentrate, 84 % water, vitamin C.
    Recipe(
        "BOM-AJ-JUICE",
        "Apple Juice",
        JUICE_SKU,
        BomType.FORMULA,
        Decimal(1000),
        (
            ("AJC-70", Decimal(160), Decimal(0)),
            ("WATER-F", Decimal(840), Decimal(0)),
            ("ASC-ACID", Decimal("1.2"), Decimal(0)),
        ),
        (("Blending", "CP1", Decimal(30), Decimal("0.16")),),
    ),
    # One bottle: 16 oz of juice, 2 % of it lost in filling, a bottle, a cap and a label.
    Recipe(
        "BOM-AJ-16OZ",
        "16oz Organic Apple Juice Bottle",
        BOTTLE_SKU,
        BomType.PACKAGING,
        Decimal(1),
        (
            (JUICE_SKU, Decimal("0.125"), Decimal(2)),
            ("BTL-PET-16", Decimal(1), Decimal(0)),
            ("CAP-38", Decimal(1), Decimal(0)),
            ("LBL-AJ-16", Decimal(1), Decimal(0)),
        ),
        (
            ("Bottling", "BL1", Decimal(30), Decimal("0.012")),
            ("Labeling", "LB1", Decimal(15), Decimal("0.010")),
            ("Casing", "CS1", Decimal(10), Decimal("0.008")),
        ),
    ),
    Recipe(
        "BOM-AJ-16OZ-C24",
        "Case of 24 16oz Organic Apple Juice Bottles",
        CASE_SKU,
        BomType.SECONDARY_PACKAGING,
        Decimal(1),
        ((BOTTLE_SKU, Decimal(24), Decimal(0)), ("CTN-24", Decimal(1), Decimal(0))),
        (("Palletizing", "CREW-A", Decimal(5), Decimal("0.25")),),
    ),
]

ORDER_QUANTITY = Decimal(10_000)
# Two even bottling runs of 5,000 (one of 10,000 would be more than the line's 8,000 a run),
# each fed by its own batch of 637.5 gal of juice.
ORDER_SPLIT = Split.EVEN
DEMO_TOLERANCE = Decimal(1)


def load(session: Session, org_name: str = DEMO_ORG) -> Organisation:
    """Loads the demo into `org_name`, creating the organisation and its admin if missing."""
    with transaction(session):
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
                session,
                actor,
                OrganisationUpdate(over_production_tolerance_percent=DEMO_TOLERANCE),
            )
        if calendars.get(session, actor, "facility", facility.id).source != "own":
            calendars.set_weekly(session, actor, "facility", facility.id, PLANT_HOURS, None)
        by_code = _resources(session, actor, facility)
        customers = {}
        for name, code in CUSTOMERS:
            customers[code] = session.scalar(
                select(Customer).where(Customer.org_id == org.id, Customer.name == name)
            ) or orgs.CUSTOMERS.create(session, actor, CustomerCreate(name=name, code=code))
        by_sku = _items(session, actor)
        _boms(session, actor, by_sku, by_code)
        existing = session.scalar(
            select(ProductionOrder.id).where(
                ProductionOrder.org_id == org.id, ProductionOrder.reference == ORDER_REFERENCE
            )
        )
        if existing is None:
            _apple_juice_order(session, actor, by_sku[BOTTLE_SKU], customers["HJ"])
        _stock(session, actor, facility, by_sku, customers)
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


def _items(session: Session, actor: Actor) -> dict[str, Item]:
    skus = [sku for sku, *_ in ITEMS]
    found = {
        i.sku: i
        for i in session.scalars(
            select(Item).where(Item.org_id == actor.org_id, Item.sku.in_(skus))
        )
    }
    for sku, name, unit, type_, precision in ITEMS:
        if sku not in found:
            how = STOCKING[sku]
            found[sku] = items.ITEMS.create(
                session,
                actor,
                ItemCreate(
                    sku=sku,
                    name=name,
                    unit=unit,
                    type=type_,
                    precision=precision,
                    tracking=how.tracking,
                    shelf_life_days=how.shelf_life_days,
                    allocation_strategy=how.strategy,
                    gtin=how.gtin,
                    new_lot_status=how.new_lot_status,
                ),
            )
    return found


def _boms(
    session: Session, actor: Actor, by_sku: dict[str, Item], by_code: dict[str, Resource]
) -> None:
    """Each demo BOM that is not there yet, with its version 1 ACTIVE."""
    codes = set(
        session.scalars(
            select(Bom.code).where(Bom.org_id == actor.org_id, Bom.code.in_(b.code for b in BOMS))
        )
    )
    for recipe in BOMS:
        if recipe.code in codes:
            continue
        bom = boms.create_bom(
            session,
            actor,
            BomCreate(
                code=recipe.code,
                name=recipe.name,
                item_id=by_sku[recipe.sku].id,
                type=recipe.type,
                version=VersionContent(
                    batch_quantity=recipe.batch,
                    inputs=[
                        InputIn(item_id=by_sku[sku].id, quantity=quantity, loss_percent=loss)
                        for sku, quantity, loss in recipe.inputs
                    ],
                    operations=[
                        OperationIn(
                            operation=operation,
                            resource_id=by_code[code].id,
                            setup_minutes=setup,
                            run_minutes_per_unit=per_unit,
                        )
                        for operation, code, setup, per_unit in recipe.routing
                    ],
                ),
            ),
        )
        boms.activate(session, actor, bom.id, 1, None)


def _next(month: int, day: int, at: time, zone: ZoneInfo) -> datetime:
    """The next `day` of `month` from tomorrow on (when the demo's work is scheduled)."""
    tomorrow = utcnow().astimezone(zone).date() + timedelta(days=1)
    year = tomorrow.year if (tomorrow.month, tomorrow.day) <= (month, day) else tomorrow.year + 1
    return datetime.combine(datetime(year, month, day).date(), at, tzinfo=zone)


def _apple_juice_order(session: Session, actor: Actor, bottle: Item, customer: Customer) -> None:
    """10,000 bottles due 12 December, their work orders generated from the BOMs: two
    bottling runs of 5,000 (WO-000001 and WO-000002 in a fresh organisation), each waiting
    for its batch of juice (WO-000003 and WO-000004). Scheduled from 06:00 at the plant on
    its next working day (`first_day`; each run once its batch is made), so that the board
    and the shop floor have work to show."""
    zone = ZoneInfo(PLANT_ZONE)
    po = production.create_production_order(
        session,
        actor,
        ProductionOrderCreate(
            owner_id=customer.id,
            reference=ORDER_REFERENCE,
            due_date=_next(12, 12, time(17, 0), zone),
            priority=70,
            items=[ProductionOrderItemIn(item_id=bottle.id, quantity=ORDER_QUANTITY)],
            generate=True,
            generation=GenerateRequest(split=ORDER_SPLIT),
        ),
    )
    production.schedule(
        session, actor, po.id, start=datetime.combine(first_day(), time(6, 0), tzinfo=zone)
    )


def _stock(
    session: Session,
    actor: Actor,
    facility: Facility,
    by_sku: dict[str, Item],
    customers: dict[str, Customer],
) -> None:
    """The receipts that are not there yet (a lot by its item and code, a balance by its
    item), through the use cases: received, released by QA where the demo says so, and then
    allocated, automatically, to the demo order's work orders that still take allocations.
    The first time, the demo's items are brought to how the demo keeps them (an older demo's
    items keep their ids)."""
    ids = [by_sku[r.sku].id for r in RECEIPTS]
    there = {
        (item_id, code)
        for item_id, code in session.execute(
            select(Lot.item_id, Lot.code).where(
                Lot.org_id == actor.org_id, Lot.item_id.in_(ids), Lot.facility_id == facility.id
            )
        )
    }
    missing = [r for r in RECEIPTS if (by_sku[r.sku].id, r.code) not in there]
    if not missing:
        return
    for sku, how in STOCKING.items():
        item = by_sku[sku]
        items.ITEMS.update(
            session,
            actor,
            item.id,
            ItemUpdate(
                tracking=how.tracking,
                shelf_life_days=how.shelf_life_days,
                allocation_strategy=how.strategy,
                gtin=how.gtin,
                new_lot_status=how.new_lot_status,
            ),
            None,
        )
    today = utcnow().astimezone(ZoneInfo(PLANT_ZONE)).date()
    for r in missing:
        lot = receiving.receive(
            session,
            actor,
            ReceiptCreate(
                item_id=by_sku[r.sku].id,
                facility_id=facility.id,
                quantity=r.quantity,
                lot_code=r.code,
                supplier=r.supplier,
                supplier_lot_code=r.supplier_lot_code,
                owner_id=customers[r.owner].id if r.owner else None,
                reference=r.reference,
                received_at=received(today, r.days_ago),
            ),
        )
        if r.released:
            receiving.change_status(session, actor, lot.id, "release", StatusRequest())
    order = select(ProductionOrder.id).where(
        ProductionOrder.org_id == actor.org_id, ProductionOrder.reference == ORDER_REFERENCE
    )
    work = session.scalars(
        select(WorkOrder.id).where(
            WorkOrder.org_id == actor.org_id,
            WorkOrder.production_order_id == order.scalar_subquery(),
            WorkOrder.state.in_(sorted(allocating.ALLOCATION_EDITABLE_STATES)),
        )
    ).all()
    if work:
        allocating.allocate_many(session, actor, work)


def received(today: date, days_ago: int) -> datetime:
    """When a demo receipt came in: at 09:00 at the plant, `days_ago` days before today."""
    return datetime.combine(today - timedelta(days=days_ago), time(9), tzinfo=ZoneInfo(PLANT_ZONE))


def first_day() -> date:
    """The day the demo's order starts: tomorrow at the plant, or the first day after today
    with a shift (the plant does not work on Sundays)."""
    day = utcnow().astimezone(ZoneInfo(PLANT_ZONE)).date() + timedelta(days=1)
    working = {shift.weekday.number for shift in PLANT_HOURS.shifts}
    while day.weekday() not in working:
        day += timedelta(days=1)
    return day
