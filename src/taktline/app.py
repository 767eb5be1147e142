"""create_app(): the API routers, the error handlers and the middleware, on one database."""

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from taktline import __version__
from taktline.api import problems
from taktline.api.body_limit import BodyLimitMiddleware
from taktline.api.health import router as health_router
from taktline.calendars.router import facility_calendar, resource_calendar
from taktline.config import Settings, get_settings
from taktline.db import create_db_engine, create_session_factory
from taktline.items.router import router as items_router
from taktline.orders.router import production_orders as production_orders_router
from taktline.orders.router import work_orders as work_orders_router
from taktline.orgs.router import customers, facilities
from taktline.portal import router as portal
from taktline.resources.router import router as resources_router
from taktline.scheduling.router import router as scheduling_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
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
    for router in (
        facilities,
        facility_calendar,
        customers,
        items_router,
        resources_router,
        resource_calendar,
        production_orders_router,
        work_orders_router,
        scheduling_router,
    ):
        api.include_router(router)
    app.include_router(api)
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
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Taktline API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )
