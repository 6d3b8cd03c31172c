"""The FastAPI application factory: JSON API, pages and static assets in one app."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import cpxm
from cpxm.access import PUBLIC, requires
from cpxm.access.api import router as privacy_settings_router
from cpxm.access.errors import install_access_handlers
from cpxm.analytics.api import router as analytics_api_router
from cpxm.analytics.ex_api import router as ex_api_router
from cpxm.analytics.ex_pages import router as ex_pages
from cpxm.analytics.pages import router as analytics_pages
from cpxm.analytics.pages import warm_up as warm_up_overview
from cpxm.analytics.service import OverviewCache
from cpxm.auth.admin_pages import router as admin_pages
from cpxm.auth.api import admin_router, me_router
from cpxm.auth.oidc import install_oidc
from cpxm.auth.oidc import router as oidc_pages
from cpxm.auth.pages import router as auth_pages
from cpxm.cases.api import notifications_router
from cpxm.cases.api import router as cases_router
from cpxm.cases.pages import router as cases_pages
from cpxm.db import make_engine, session_factory
from cpxm.digest.pages import router as digest_pages
from cpxm.feedback.api import router as feedback_router
from cpxm.feedback.pages import router as feedback_pages
from cpxm.governance.api import router as governance_router
from cpxm.governance.pages import router as governance_pages
from cpxm.identity.api import router as identity_router
from cpxm.identity.pages import router as identity_pages
from cpxm.ingest.api import events_router, imports_router, quarantine_router
from cpxm.ingest.pages import router as import_pages
from cpxm.initiatives.api import maturity_router
from cpxm.initiatives.api import router as initiatives_router
from cpxm.initiatives.pages import router as initiatives_pages
from cpxm.interactions.api import router as interactions_router
from cpxm.predict.api import router as predictions_router
from cpxm.predict.pages import router as predictions_pages
from cpxm.privacy.api import router as privacy_router
from cpxm.privacy.pages import router as privacy_pages
from cpxm.retention.api import router as retention_router
from cpxm.safety import arrival
from cpxm.safety.api import router as safety_router
from cpxm.safety.pages import router as safety_pages
from cpxm.safety.respondent import router as safety_respondent_pages
from cpxm.stakeholders.api import router as stakeholders_router
from cpxm.stakeholders.pages import router as stakeholders_pages
from cpxm.surveys.api import responses_router, surveys_router
from cpxm.surveys.pages import router as survey_pages
from cpxm.surveys.people_team import router as pulse_router
from cpxm.surveys.respondent import router as respondent_pages
from cpxm.surveys.send_pages import router as survey_send_pages
from cpxm.web.apidocs import router as api_docs
from cpxm.web.assets import router as vendor_assets
from cpxm.web.assets import vega_embed_bundle
from cpxm.web.error_handlers import install_error_handlers
from cpxm.web.security import SecurityHeadersMiddleware
from cpxm.web.store_errors import StoreUnavailableMiddleware
from cpxm.web.strict_json import StrictJsonMiddleware
from cpxm.web.templating import STATIC_DIRECTORY

API_PREFIX = "/api/v1"

logger = logging.getLogger(__name__)


def create_app(
    engine: Engine | None = None, sessionmaker_: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the app on ``engine`` (default ``CPXM_DATABASE_URL``), or on a given sessionmaker."""
    app = FastAPI(
        title="CPXM",
        version=cpxm.__version__,
        description="Customer & Patient Experience Management for life sciences.",
        # A given sessionmaker may be bound to one connection (the tests' transaction), which
        # must not be used from the warm-up thread; only the app's own engine is warmed.
        lifespan=_warm_up_lifespan(warm_overview=sessionmaker_ is None),
        # Served by cpxm.web.apidocs from installed files, not FastAPI's CDN defaults.
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine or (None if sessionmaker_ else make_engine())
    app.state.sessionmaker = sessionmaker_ or session_factory(app.state.engine)
    app.state.read_sessionmaker = sessionmaker_ or session_factory(app.state.engine, reader=True)
    app.state.overview_cache = OverviewCache()
    # Feedback committed by any request is queued for screening as it commits.
    arrival.install()
    install_error_handlers(app)
    install_access_handlers(app)
    # The last added is the outermost: JSON bodies are checked before any route (or the 422
    # handler) sees them, the store's failures are caught around the routes, and every answer,
    # a 503 too, gets the security headers.
    app.add_middleware(StrictJsonMiddleware)
    app.add_middleware(StoreUnavailableMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/health", tags=["meta"], dependencies=[requires(PUBLIC)])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": cpxm.__version__}

    api = APIRouter(prefix=API_PREFIX)
    for router in (
        stakeholders_router,
        interactions_router,
        surveys_router,
        responses_router,
        imports_router,
        events_router,
        quarantine_router,
        identity_router,
        ex_api_router,
        analytics_api_router,
        me_router,
        cases_router,
        notifications_router,
        feedback_router,
        safety_router,
        governance_router,
        admin_router,
        privacy_router,
        privacy_settings_router,
        retention_router,
        pulse_router,
        initiatives_router,
        maturity_router,
        predictions_router,
    ):
        api.include_router(router)
    # Respondents first: routes are matched in order, and a survey wave's submits should not
    # be compared with a hundred other routes each (a sixth of a submit's CPU time).
    app.include_router(respondent_pages)
    app.include_router(api)
    app.include_router(auth_pages)
    app.include_router(oidc_pages)
    app.include_router(admin_pages)
    app.include_router(privacy_pages)
    install_oidc(app)
    app.include_router(cases_pages)
    app.include_router(predictions_pages)
    app.include_router(governance_pages)
    app.include_router(ex_pages)
    app.include_router(analytics_pages)
    app.include_router(feedback_pages)
    app.include_router(initiatives_pages)
    app.include_router(digest_pages)
    app.include_router(safety_pages)
    app.include_router(safety_respondent_pages)
    app.include_router(identity_pages)
    app.include_router(stakeholders_pages)
    app.include_router(survey_pages)
    app.include_router(survey_send_pages)
    app.include_router(import_pages)
    # Vendor routes come before the /static mount, which would otherwise answer their paths.
    app.include_router(vendor_assets)
    app.include_router(api_docs)
    app.mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static")
    return app


def _warm_up_lifespan(
    *, warm_overview: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Build the slow first-use things (JS bundle, overview aggregates) while the server starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(
            target=_warm_up, args=(app, warm_overview), name="cpxm-warm-up", daemon=True
        )
        thread.start()
        _freeze_startup_heap()
        yield

    return lifespan


_heap_frozen = threading.Event()


def _freeze_startup_heap() -> None:
    """Keep what the process holds at start-up (modules, routes, models) out of the collector.

    The collector's oldest generation scans every tracked object, and a server process holds
    hundreds of thousands from its imports; each full collection was a pause of tens of ms in
    whatever requests were in flight. Frozen, those objects are never scanned (nor freed:
    they live as long as the process anyway). Measured with benchmarks/survey_submit.py on
    PostgreSQL at 8 connections: p99 257-407 ms without, 83-99 ms with (the bare endpoint
    92-154 ms), throughput the same. Once per process: apps built later (tests build many)
    are left to the collector, so their cycles are still freed.
    """
    if _heap_frozen.is_set():
        return
    _heap_frozen.set()
    gc.collect()  # what is garbage already is freed, not frozen
    gc.freeze()


def _warm_up(app: FastAPI, warm_overview: bool) -> None:
    # The page is asked for before the script it loads, so the overview goes first.
    if warm_overview:
        try:
            with app.state.read_sessionmaker() as session:
                warm_up_overview(session, app.state.overview_cache)
        except Exception:
            # Only a head start: the first page request computes (and reports) the same thing.
            logger.warning("could not precompute the overview", exc_info=True)
    vega_embed_bundle()
