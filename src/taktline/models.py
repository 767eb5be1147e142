"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from taktline.auth.models import ApiToken, LoginAttempt, PortalSession, User
from taktline.boms.models import Bom, BomInput, BomOperation, BomOperationAlternative, BomVersion
from taktline.calendars.models import CalendarException, WorkingCalendar, WorkingShift
from taktline.db import Base
from taktline.events.models import Event
from taktline.idempotency import IdempotencyRecord
from taktline.inventory.models import Allocation, InventoryEntry, Lot
from taktline.items.models import Item
from taktline.numbering import NumberSequence
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    LineItemReport,
    ProductionOrder,
    ProductionOrderItem,
    WorkOrder,
    WorkOrderDependency,
    WorkOrderMaterial,
)
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.resources.models import Resource, ResourceBooking

__all__ = [
    "Allocation",
    "ApiToken",
    "Base",
    "Bom",
    "BomInput",
    "BomOperation",
    "BomOperationAlternative",
    "BomVersion",
    "CalendarException",
    "Customer",
    "Event",
    "Facility",
    "IdempotencyRecord",
    "InventoryEntry",
    "Item",
    "LineItem",
    "LineItemAlternative",
    "LineItemReport",
    "LoginAttempt",
    "Lot",
    "NumberSequence",
    "Organisation",
    "PortalSession",
    "ProductionOrder",
    "ProductionOrderItem",
    "Resource",
    "ResourceBooking",
    "User",
    "WorkOrder",
    "WorkOrderDependency",
    "WorkOrderMaterial",
    "WorkingCalendar",
    "WorkingShift",
]
