"""The shared Spark session: built from the settings, with Splink's similarity jar loaded and
the UTC time zone, bound to loopback; a bad setting is an error that names it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpxm.spark import SparkUnavailable, get_spark, similarity_jar, spark_conf
from tests.lake.spark_support import spark_session


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


def test_session_is_built_from_settings(spark: Any) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"
    # Spark's own files go to the temporary folder, not the folder the command ran in, and
    # its log shows errors only (CPXM's log4j2 file, read by the driver's JVM).
    assert spark.conf.get("spark.sql.warehouse.dir").startswith(
        ("file:" + tempfile.gettempdir(), tempfile.gettempdir())
    )
    log4j2 = conf.get("spark.driver.extraJavaOptions").split("-Dlog4j2.configurationFile=file:")
    assert len(log4j2) == 2
    assert "rootLogger.level = error" in Path(log4j2[1].split()[0]).read_text(encoding="utf-8")
    assert get_spark() is spark  # one session per process


def test_splink_similarity_functions_are_loadable(spark: Any) -> None:
    jar = similarity_jar()
    assert jar is not None and jar in spark.sparkContext.getConf().get("spark.jars")
    from pyspark.sql.types import DoubleType

    spark.udf.registerJavaFunction(
        "jaro_winkler_sim", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity", DoubleType()
    )
    similarity = spark.sql("select jaro_winkler_sim('martha', 'marhta') as s").first()["s"]
    assert round(similarity, 3) == 0.961


def test_a_malformed_conf_pair_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPXM_SPARK_CONF", "spark.executor.memory=8g; shuffle")
    with pytest.raises(SparkUnavailable, match="'shuffle' is not key=value"):
        spark_conf()
    monkeypatch.setenv("CPXM_SPARK_CONF", "spark.executor.memory=8g;spark.jars=/x.jar")
    assert spark_conf() == {"spark.executor.memory": "8g", "spark.jars": "/x.jar"}
