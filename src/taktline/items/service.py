"""Items: the products and materials that work orders produce. A simple record: its use
cases are the generic ones of `taktline.records.SimpleRecord`."""

from taktline.items.models import Item
from taktline.items.schemas import ItemCreate, ItemOut, ItemUpdate
from taktline.records import SimpleRecord, TextSearch

ITEMS = SimpleRecord(
    model=Item,
    kind="item",
    plural="items",
    unique="sku",
    create_body=ItemCreate,
    update_body=ItemUpdate,
    out=ItemOut,
    filters=("type",),
    search=TextSearch(("sku", "name"), "Text in the SKU or name."),
)
