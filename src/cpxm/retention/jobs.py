"""The daily retention run (worker)."""

from __future__ import annotations

import logging

from huey import crontab

from cpxm.jobs import job_session, periodic
from cpxm.retention.service import apply_retention

logger = logging.getLogger(__name__)


@periodic(crontab(minute="17", hour="3"))
def apply_retention_daily() -> None:
    """Delete or anonymise what is past its retention period, at a quiet hour."""
    with job_session() as session:
        report = apply_retention(session, dry_run=False)
    if report.total:
        logger.info("retention: %d row(s) deleted or anonymised", report.total)
