"""Settings read from the environment, so one build runs embedded or in production."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///./cpxm.db"
DEFAULT_MAX_UPLOAD_MB = 200.0
DEFAULT_WORKSPACE_NAME = "CPXM"


@dataclass(frozen=True)
class Settings:
    database_url: str
    # The largest request body POST /api/v1/imports accepts (CPXM_MAX_UPLOAD_MB).
    max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)
    # The organisation's name at the head of every report page (CPXM_WORKSPACE_NAME).
    workspace_name: str = DEFAULT_WORKSPACE_NAME

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def get_settings() -> Settings:
    """Read settings afresh: tests and the CLI change the environment between calls."""
    return Settings(
        database_url=normalise_database_url(os.environ.get("CPXM_DATABASE_URL", "")),
        max_upload_bytes=_megabytes(
            os.environ.get("CPXM_MAX_UPLOAD_MB", ""), DEFAULT_MAX_UPLOAD_MB
        ),
        workspace_name=os.environ.get("CPXM_WORKSPACE_NAME", "").strip() or DEFAULT_WORKSPACE_NAME,
    )


def _megabytes(text: str, default: float) -> int:
    try:
        megabytes = float(text) if text.strip() else default
    except ValueError:
        raise ValueError(
            f"CPXM_MAX_UPLOAD_MB is '{text}', expected a number of megabytes"
        ) from None
    return int(megabytes * 1024 * 1024)


def normalise_database_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and use psycopg 3."""
    url = url.strip() or DEFAULT_DATABASE_URL
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url
