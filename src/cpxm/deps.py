"""Request dependencies shared by every router: the database session and its transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cpxm.errors import DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITER_SCOPE_KEY = "cpxm.writer"
"""Set in a request's scope to open its sessions as writers, even for a safe method."""


def request_sessionmaker(request: Request) -> sessionmaker[Session]:
    """The sessions a request works in: readers for a safe method, writers otherwise.

    On SQLite a writer's transaction takes the write lock when it begins, so a request that
    writes waits its turn instead of failing half-way; a page view begins deferred and never
    waits for a writer. (On PostgreSQL both are the same.)
    """
    if request.method in SAFE_METHODS and not request.scope.get(WRITER_SCOPE_KEY):
        return request.app.state.read_sessionmaker  # type: ignore[no-any-return]
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


async def get_db_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed as soon as the endpoint (and the serialisation of
    its answer) is done, before the response is sent; rolled back if anything raised.

    Declared with ``scope="function"`` below: FastAPI then ends it before sending the response,
    so a client told "created" can read what it created in its very next request, and a commit
    that fails answers an error instead of a success already sent.

    Async, so FastAPI runs it on the event loop instead of sending it to a worker thread on the
    way in and again on the way out: opening a session does no I/O, and the store is asked only
    (in a worker thread) when the session still has a transaction to end. Endpoints that
    commit in their own worker thread (the survey submit) so cost no thread hops at all here.
    """
    session: Session = request_sessionmaker(request)()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):  # a cancelled request still ends its transaction
            await run_in_threadpool(_roll_back_and_close, session)
        raise
    if session.in_transaction():
        await run_in_threadpool(_commit_and_close, session)
    else:
        session.close()


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _roll_back_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


class EngineUnavailable(DomainError):
    status_code = 503


def get_engine(request: Request) -> Engine:
    """The app's engine, for work that commits as it goes (imports commit batch by batch)."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        # An app built on a bare sessionmaker (one test transaction) has no engine to give.
        raise EngineUnavailable("this app was built without an engine; imports need one")
    return engine


DbEngine = Annotated[Engine, Depends(get_engine)]
