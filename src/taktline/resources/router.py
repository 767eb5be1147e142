"""/resources: create, list (by kind, facility, active, text in the code or name), get,
PATCH."""

from taktline.api.records import records_router
from taktline.resources.service import RESOURCES

router = records_router(RESOURCES)
