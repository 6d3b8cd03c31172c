"""Bulk screening of stored feedback: the path of `cpxm analyze` and of the demo.

    uv run python benchmarks/feedback_bulk.py --items 20000            # SQLite file in /tmp
    uv run python benchmarks/feedback_bulk.py --items 20000 --url postgresql+psycopg://...

Fills an empty, migrated store with demo-like texts (the demo's own text generator, in its
five languages, with its safety mentions and personal data), then times `screen_all_pending`:
analysis plus writing `feedback_analyses`, `feedback_themes` and the safety cases. The pure
analysis rate on the same texts is measured too, so the store's share of the time shows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from cpxm.demo.taxonomy import PRODUCTS
from cpxm.demo.texts import TextMaker
from cpxm.feedback.models import FeedbackItem
from cpxm.migrate import upgrade_database
from cpxm.safety.models import SafetyCase
from cpxm.safety.screening import screen_all_pending
from cpxm.text import analyse_text, build_catalogue
from cpxm.workspace.models import LifecyclePhase, Product, TherapeuticArea

AUDIENCES = ("hcp", "patient", "site", "employee")
LANGUAGES = ("en", "en", "en", "de", "fr", "es", "ja")


def demo_texts(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    maker = TextMaker(rng)
    contact = {"phone": "+49 30 1234567", "email": "anna.berg@example.org", "name": "Anna Berg"}
    texts = []
    for number in range(count):
        product = PRODUCTS[number % len(PRODUCTS)]
        spelled = maker.product_spelling(product.name, product.misspellings)
        if number % 5 == 4:
            kind = ("call_note", "call_centre_log", "medical_inquiry")[number % 3]
            texts.append((kind, maker.operational(kind, spelled, contact).text))
            continue
        text = maker.comment(
            language=LANGUAGES[number % len(LANGUAGES)],
            audience=AUDIENCES[number % len(AUDIENCES)],
            sentiment=("positive", "neutral", "negative")[number % 3],
            product=spelled,
            safety_chance=0.15,
            pii_chance=0.1,
            contact=contact,
        )
        texts.append(("survey_comment", text.text))
    return texts


def fill(url: str, texts: list[tuple[str, str]]) -> None:
    engine = make_engine(url)
    upgrade_database(engine)
    start = datetime(2026, 1, 5, 9, 0)
    with Session(engine) as session:
        session.add_all(
            TherapeuticArea(code=code, name=code)
            for code in ("oncology", "immunology", "cardiometabolic")
        )
        session.add_all(
            LifecyclePhase(code=code, name=code, position=position)
            for position, code in enumerate(("preclinical", "clinical", "commercial"), 1)
        )
        session.flush()
        session.add_all(
            Product(
                code=product.code,
                name=product.name,
                generic_name=product.generic_name,
                therapeutic_area_code=product.therapeutic_area,
                lifecycle_phase_code=product.phase,
            )
            for product in PRODUCTS
        )
        session.add_all(
            FeedbackItem(
                source_kind=kind,
                text=text,
                received_at=start + timedelta(minutes=number),
                analysis_status="pending",
            )
            for number, (kind, text) in enumerate(texts)
        )
        session.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--url", default="")
    arguments = parser.parse_args()
    texts = demo_texts(arguments.items)
    catalogue = build_catalogue((p.code, p.name, p.generic_name) for p in PRODUCTS)
    started = time.process_time()
    for _kind, text in texts:
        analyse_text(text, catalogue=catalogue)
    analysis_only = len(texts) / (time.process_time() - started)
    url = arguments.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bulk.db'}"
    fill(url, texts)
    engine = make_engine(url)
    wall = time.perf_counter()
    cpu = time.process_time()
    report = screen_all_pending(engine, batch_size=1_000)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    with Session(engine) as session:
        cases = session.scalar(select(func.count()).select_from(SafetyCase))
    print(f"engine: {engine.dialect.name}; items: {len(texts):,}")
    print(f"analysis only: {analysis_only:,.0f} texts per CPU-second")
    print(
        f"bulk screening into the store: {report.analysed:,} items in {wall:.1f} s wall "
        f"({report.analysed / wall:,.0f}/s), {cpu:.1f} s CPU in this process "
        f"({report.analysed / cpu:,.0f}/CPU-s); {cases:,} safety cases opened"
    )


if __name__ == "__main__":
    main()
