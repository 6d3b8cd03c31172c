"""Request dependencies shared by every router: the database session and its transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cpxm.errors import DomainError


async def get_db_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the endpoint returns, rolled back if it raises.

    Async, so FastAPI runs it on the event loop instead of sending it to a worker thread on the
    way in and again on the way out: opening a session does no I/O, and the store is asked only
    (in a worker thread) when the session still has a transaction to end. Endpoints that
    commit in their own worker thread (the survey submit) so cost no thread hops at all here.
    """
    session: Session = request.app.state.sessionmaker()
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


DbSession = Annotated[Session, Depends(get_db_session)]


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
