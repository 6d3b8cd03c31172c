"""The FastAPI application factory: JSON API, pages and static assets in one app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import cpxm
from cpxm.db import make_engine, session_factory


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

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": cpxm.__version__}

    return app
