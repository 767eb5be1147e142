"""/items: create, list (by type, by text in the SKU or name), get, PATCH."""

from taktline.api.records import records_router
from taktline.items.service import ITEMS

router = records_router(ITEMS)
