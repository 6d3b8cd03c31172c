"""Screen the demo workspace's feedback in bulk, as ``cpxm demo`` loads it.

The demo writes thousands of comments, notes and logs as pending feedback; screening them here
(with the same bulk path as ``cpxm analyze``) means the demo opens with sentiment, themes,
redacted text and a PV queue, instead of waiting for the worker's minute-by-minute sweep.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from cpxm.safety.screening import ScreeningReport, screen_all_pending

STEP = "Analysing feedback (sentiment, themes, PII, safety)"


def screen_demo_feedback(
    engine: Engine, progress: Callable[[str, int, int], None] | None = None
) -> ScreeningReport:
    """Analyse every pending feedback item; ``progress(step, done, total)`` drives the bar."""
    report = progress or (lambda _step, _done, _total: None)
    return screen_all_pending(
        engine, batch_size=1_000, progress=lambda done, total: report(STEP, done, total)
    )
