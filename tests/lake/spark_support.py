"""The Spark session the Spark tests share: one per test process on ``local[2]``, built by the
first test that asks for it and ended with the process (a JVM start-up costs 10-30 s here, and
more on a loaded machine), skipped with the reason when pyspark or Java is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpxm.spark import get_spark, unavailable_reason

MASTER = "local[2]"
# The tests' Spark jobs are small and short: the JVM's quick compiler alone halves its CPU
# to start and run a first job here (10 s against 17 s), and changes no result.
JAVA_OPTIONS = "spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1"


def spark_session() -> Iterator[object]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"Spark tests need pyspark and Java 17: {reason}")
    if not get_spark.cache_info().currsize:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CPXM_SPARK_MASTER", MASTER)
            patch.setenv("CPXM_SPARK_CONF", JAVA_OPTIONS)
            get_spark()
    yield get_spark()
