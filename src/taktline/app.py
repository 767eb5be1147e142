"""create_app(): the API routers, the error handlers and the middleware, on one database."""

from typing import Any, cast

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from taktline import __version__
from taktline.api import openapi, problems
from taktline.api.body_limit import BodyLimitMiddleware
from taktline.api.health import router as health_router
from taktline.api.security_headers import HeaderPolicies, SecurityHeadersMiddleware
from taktline.auth.router import router as tokens_router
from taktline.boms.router import boms as boms_router
from taktline.boms.router import generating as generating_router
from taktline.calendars.router import facility_calendar, resource_calendar
from taktline.config import Settings, get_settings
from taktline.db import create_db_engine, create_session_factory
from taktline.inventory import router as inventory
from taktline.inventory import tracing_router
from taktline.items.router import router as items_router
from taktline.orders.router import production_orders as production_orders_router
from taktline.orders.router import work_orders as work_orders_router
from taktline.orgs.router import customers, facilities, organisation
from taktline.portal import router as portal
from taktline.resources.router import router as resources_router
from taktline.scheduling.router import router as scheduling_router

API_PREFIX = "/api/v1"
DOCS_HTML = bytes(
    get_swagger_ui_html(
        openapi_url=f"{API_PREFIX}/openapi.json",
        title="Taktline API",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        # No badge from validator.swagger.io: the docs send nothing to other sites.
        swagger_ui_parameters={"validatorUrl": None},
    ).body
).decode()


class Taktline(FastAPI):
    """FastAPI with the security headers around everything, the answers of the server-error
    handler included, and outside them a trusted proxy's scheme and client address."""

    def __init__(self, *, forwarded_allow_ips: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.forwarded_allow_ips = forwarded_allow_ips
        self.header_policies = HeaderPolicies.for_docs_page(DOCS_HTML)

    def build_middleware_stack(self) -> ASGIApp:
        stack: ASGIApp = SecurityHeadersMiddleware(
            super().build_middleware_stack(), self.header_policies
        )
        if self.forwarded_allow_ips:
            stack = cast(
                ASGIApp,
                ProxyHeadersMiddleware(cast(Any, stack), trusted_hosts=self.forwarded_allow_ips),
            )
        return stack


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = Taktline(
        forwarded_allow_ips=settings.forwarded_allow_ips,
        title="Taktline",
        version=__version__,
        summary="Production orders, work orders, resources and their lifecycle.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from the installed Swagger UI: no CDN needed
        redoc_url=None,
    )
    engine = create_db_engine(settings.database_url)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(health_router)
    # FastAPI tries the routes in turn, so the floor's (work orders, many a minute from every
    # line) come first; no two routers share a path, so the order changes nothing else.
    for router in (
        work_orders_router,
        production_orders_router,
        generating_router,
        boms_router,
        organisation,
        facilities,
        facility_calendar,
        customers,
        items_router,
        resources_router,
        resource_calendar,
        scheduling_router,
        tokens_router,
        inventory.receipts,
        inventory.lots,
        inventory.work_order_stock,
        inventory.materials,
        tracing_router.router,
    ):
        api.include_router(router)
    app.include_router(api)
    openapi.install(app, health_path=f"{API_PREFIX}/health")
    _install_docs(app)
    problems.install(app, html=portal.problem_page)
    portal.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app


def _install_docs(app: FastAPI) -> None:
    """Interactive API docs whose scripts come from this server, so they work offline."""
    app.mount(
        "/static/swagger-ui",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # Its start-up script is inline: the docs' CSP allows it by its hash (security_headers).
        return HTMLResponse(DOCS_HTML)
