"""/facilities and /customers: create, list, get, PATCH."""

from taktline.api.records import records_router
from taktline.orgs.service import CUSTOMERS, FACILITIES

facilities = records_router(FACILITIES)
customers = records_router(CUSTOMERS)
