from taktline.items.models import ItemType
from taktline.schemas import Code, Name, PatchBody, RecordOut, RequestBody, Unit


class ItemCreate(RequestBody):
    sku: Code
    name: Name
    unit: Unit
    type: ItemType = ItemType.FINISHED_GOOD


class ItemUpdate(PatchBody):
    sku: Code | None = None
    name: Name | None = None
    unit: Unit | None = None
    type: ItemType | None = None


class ItemOut(RecordOut):
    sku: str
    name: str
    unit: str
    type: ItemType
