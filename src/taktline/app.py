"""create_app(): the API routers, the error handlers and the middleware, on one database."""

from fastapi import APIRouter, FastAPI

from taktline import __version__
from taktline.api import problems
from taktline.api.body_limit import BodyLimitMiddleware
from taktline.api.health import router as health_router
from taktline.config import Settings, get_settings
from taktline.db import create_db_engine, create_session_factory
from taktline.items.router import router as items_router
from taktline.orgs.router import customers, facilities
from taktline.production_orders.router import router as production_orders_router
from taktline.resources.router import router as resources_router
from taktline.work_orders.router import router as work_orders_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Taktline",
        version=__version__,
        summary="Production orders, work orders, resources and their lifecycle.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    engine = create_db_engine(settings.database_url)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(health_router)
    for router in (
        facilities,
        customers,
        items_router,
        resources_router,
        production_orders_router,
        work_orders_router,
    ):
        api.include_router(router)
    app.include_router(api)
    problems.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
