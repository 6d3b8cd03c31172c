"""Request dependencies shared by every router: the database session and its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.errors import DomainError


def get_db_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the endpoint returns, rolled back if it raises."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
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
