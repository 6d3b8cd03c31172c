"""The scheduled digest (worker): each morning, the last complete month's digests that are not
yet mailed. On the 1st that is everyone; later in the month only readers a failed or missed run
left out (the store records each delivery), so the job is its own sweep."""

from __future__ import annotations

import logging

from huey import crontab

from cpxm.digest.mailing import month_before, send_digests
from cpxm.jobs import job_session, periodic
from cpxm.surveys.mail import MailServerUnreachable
from cpxm.timeutil import utc_now

logger = logging.getLogger(__name__)


@periodic(crontab(minute="7", hour="6"))
def mail_monthly_digests() -> None:
    """Mail the last complete month's digest to each audience's readers not yet sent it."""
    now = utc_now()
    try:
        with job_session() as session:
            sent = send_digests(session, month=month_before(now), now=now)
    except (OSError, MailServerUnreachable) as error:
        # Nothing is lost: what was not sent is not recorded, and tomorrow's run sends it.
        logger.warning("monthly digest: mail server unreachable (%s); retried tomorrow", error)
        return
    if sent:
        logger.info("monthly digest: %d e-mail(s) sent", len(sent))
