"""What every test builds on: tenants, row counts, API helpers, request bodies, a live server.

The fixtures themselves are in tests/conftest.py.
"""

from tests.helpers import bodies
from tests.helpers.api import API, assert_problem, create, error_fields, list_all
from tests.helpers.counts import db_counts
from tests.helpers.server import serve_in_thread
from tests.helpers.tenants import ROLES, Tenant, TenantUser, create_tenant

__all__ = [
    "API",
    "ROLES",
    "Tenant",
    "TenantUser",
    "assert_problem",
    "bodies",
    "create",
    "create_tenant",
    "db_counts",
    "error_fields",
    "list_all",
    "serve_in_thread",
]
