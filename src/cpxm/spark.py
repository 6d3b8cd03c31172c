"""One SparkSession per process, built from the environment, for analytics and identity resolution.

Spark is optional (the ``spark`` extra and Java 17): nothing imports this module unless a
deployment asks for Spark (``CPXM_ANALYTICS_ENGINE=spark``, ``cpxm resolve --engine spark``).
Both users share the session, so it is built once and carries what each needs: Splink's
similarity functions jar on ``spark.jars`` (a jar can only be added when the JVM starts) and the
UTC session time zone the store's naive UTC timestamps assume.

Settings:

- ``CPXM_SPARK_MASTER``: the master URL, ``local[*]`` by default (``local[2]``,
  ``spark://host:7077``, ``yarn``...). Inside a Databricks job or notebook, or under
  ``spark-submit``, the session that is already active is used as it is.
- ``CPXM_SPARK_CONF``: extra settings, ``key=value`` pairs separated by ``;``
  (``spark.executor.memory=8g;spark.sql.shuffle.partitions=400``).

A local master binds to loopback only and runs without the web UI: a laptop or CI machine opens
no port to the network.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_VARIABLE = "CPXM_SPARK_MASTER"
CONF_VARIABLE = "CPXM_SPARK_CONF"
DEFAULT_MASTER = "local[*]"
APP_NAME = "cpxm"


class SparkUnavailable(RuntimeError):
    """Spark was asked for and cannot start here; the message says what to install or set."""


def spark_master() -> str:
    return os.environ.get(MASTER_VARIABLE, "").strip() or DEFAULT_MASTER


def spark_conf() -> dict[str, str]:
    """``CPXM_SPARK_CONF`` as a dict; a malformed pair is an error naming it."""
    conf: dict[str, str] = {}
    for pair in os.environ.get(CONF_VARIABLE, "").split(";"):
        if not pair.strip():
            continue
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise SparkUnavailable(
                f"{CONF_VARIABLE}: '{pair.strip()}' is not key=value "
                "(pairs are separated by ';', e.g. spark.executor.memory=8g)"
            )
        conf[key.strip()] = value.strip()
    return conf


def unavailable_reason() -> str | None:
    """Why a Spark session cannot start here, or None when pyspark and Java are present."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return (
            "pyspark is not installed: install CPXM with the spark extra "
            "(pip install 'cpxm[spark]')"
        )
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return None
    if shutil.which("java") is None:
        return "Java is not installed: Spark needs Java 17 (or set JAVA_HOME to a Java 17)"
    return None


def similarity_jar() -> str | None:
    """Splink's jar of string similarity UDFs for this Spark version, when Splink is installed."""
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        return None
    return str(similarity_jar_location())


# Spark's default logging prints a banner and start-up warnings (no native Hadoop library, the
# host name) on the stderr of every command that starts it; CPXM's shows Spark's errors only.
# A deployment's own ``-Dlog4j2.configurationFile`` in spark.driver.extraJavaOptions wins.
_LOG4J2_PROPERTIES = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# PySpark's gateway counts as a shell, whose level Spark otherwise sets to WARN, saying so.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def _log4j2_file() -> Path:
    """The logging settings above as a file the driver's JVM reads (written once per user)."""
    path = Path(tempfile.gettempdir()) / f"cpxm-spark-log4j2-{os.getuid()}.properties"
    if not path.exists() or path.read_text(encoding="utf-8") != _LOG4J2_PROPERTIES:
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=path.name, delete=False, encoding="utf-8"
        ) as handle:
            handle.write(_LOG4J2_PROPERTIES)
        os.replace(handle.name, path)
    return path


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


@cache
def get_spark() -> SparkSession:
    """The process's SparkSession: the active one if there is one, else one built from settings."""
    reason = unavailable_reason()
    if reason is not None:
        raise SparkUnavailable(reason)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = spark_master()
    builder = (
        SparkSession.builder.master(master)
        .appName(APP_NAME)
        .config("spark.sql.session.timeZone", "UTC")
    )
    if _is_local(master):
        # Spark otherwise looks the host name up and binds to the interface it finds.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python functions (identity's DuckDB functions) run in worker processes, by default
        # whatever ``python3`` is on the PATH; this interpreter has CPXM's packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # Not a ``spark-warehouse`` folder in whatever folder the command ran in.
            .config(
                "spark.sql.warehouse.dir",
                str(Path(tempfile.gettempdir()) / f"cpxm-spark-warehouse-{os.getuid()}"),
            )
            # A local session's data is small; Spark's default 200 shuffle partitions would cost
            # more in task start-up than the work.
            .config("spark.sql.shuffle.partitions", str(max(2, (os.cpu_count() or 2) * 2)))
        )
    jar = similarity_jar()
    conf = spark_conf()
    if jar is not None:
        jars = [jar, *(part for part in conf.pop("spark.jars", "").split(",") if part)]
        builder = builder.config("spark.jars", ",".join(jars))
    java_options = f"-Dlog4j2.configurationFile=file:{_log4j2_file()}"
    if conf.get("spark.driver.extraJavaOptions"):
        java_options += " " + conf.pop("spark.driver.extraJavaOptions")
    builder = builder.config("spark.driver.extraJavaOptions", java_options)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as error:  # the JVM's failure, whatever its class, with our context
        raise SparkUnavailable(f"Spark did not start with master {master!r}: {error}") from error


def stop_spark() -> None:
    """Stop the process's session (tests, and a CLI command that is done with Spark)."""
    if get_spark.cache_info().currsize:
        get_spark().stop()
        get_spark.cache_clear()
