"""The Spark session the Spark tests share: one per test process on ``local[2]``, built by the
first test that asks for it and ended with the process (a JVM start-up costs 10-30 s here, and
more on a loaded machine), skipped with the reason when pyspark or Java is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpxm.spark import get_spark, unavailable_reason

MASTER = "local[2]"


def spark_session() -> Iterator[object]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"Spark tests need pyspark and Java 17: {reason}")
    if not get_spark.cache_info().currsize:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CPXM_SPARK_MASTER", MASTER)
            get_spark()
    yield get_spark()
