"""The FastAPI application factory: JSON API, pages and static assets in one app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import cpxm
from cpxm.db import make_engine, session_factory
from cpxm.errors import install_error_handlers
from cpxm.interactions.api import router as interactions_router
from cpxm.stakeholders.api import router as stakeholders_router
from cpxm.surveys.api import responses_router, surveys_router

API_PREFIX = "/api/v1"


def create_app(
    engine: Engine | None = None, sessionmaker_: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the app on ``engine`` (default ``CPXM_DATABASE_URL``), or on a given sessionmaker."""
    app = FastAPI(
        title="CPXM",
        version=cpxm.__version__,
        description="Customer & Patient Experience Management for life sciences.",
    )
    app.state.sessionmaker = sessionmaker_ or session_factory(engine or make_engine())
    install_error_handlers(app)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": cpxm.__version__}

    api = APIRouter(prefix=API_PREFIX)
    for router in (stakeholders_router, interactions_router, surveys_router, responses_router):
        api.include_router(router)
    app.include_router(api)
    return app
