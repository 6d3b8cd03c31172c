"""The Spark session the lake tests share: one per test module (start-up costs ~10 s), skipped
with the reason when pyspark or Java is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpxm.spark import get_spark, stop_spark, unavailable_reason


def spark_session(monkeypatch_master: str = "local[2]") -> Iterator[object]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"Spark tests need pyspark and Java 17: {reason}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CPXM_SPARK_MASTER", monkeypatch_master)
        spark = get_spark()
        try:
            yield spark
        finally:
            stop_spark()
