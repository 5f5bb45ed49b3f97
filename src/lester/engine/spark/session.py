"""The Spark session: checks that Spark can run here and starts (or reuses) one session.

Examples
--------
>>> isinstance(spark_available(), bool)
True
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import warnings
from typing import Any

from lester.errors import LesterError

EXTRA_HINT = "install it with pip install 'lester[spark]' (pyspark) and Java 17 or newer"
_DEFAULT_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.ansi.enabled": "false",  # pandas semantics: 1/0 is missing, not an error
    "spark.sql.session.timeZone": "UTC",
}


class SparkUnavailableError(LesterError, RuntimeError):
    """pyspark is not installed, or no Java runtime is found."""


class SparkExecutionError(LesterError, RuntimeError):
    """A plan cannot be executed on Spark (the message names the operator and why)."""


def spark_available() -> bool:
    """Whether pyspark is importable and a Java runtime is on the path (or JAVA_HOME)."""
    return importlib.util.find_spec("pyspark") is not None and _java() is not None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.isfile(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def require_spark() -> None:
    """Raise :class:`SparkUnavailableError` naming the extra and Java when Spark cannot run.

    Examples
    --------
    >>> require_spark() if spark_available() else None
    """
    if importlib.util.find_spec("pyspark") is None:
        raise SparkUnavailableError(
            f"the Spark engine needs pyspark, which is missing: {EXTRA_HINT}"
        )
    if _java() is None:
        raise SparkUnavailableError(
            f"the Spark engine needs a Java runtime (Java 17 or newer), but no 'java' is on the "
            f"PATH and JAVA_HOME is not set: install Java 17 ({EXTRA_HINT})"
        )


def get_session(master: str | None = None, config: dict[str, Any] | None = None) -> Any:
    """The active SparkSession, or a new one on ``master`` (default ``local[2]``).

    An already running session is reused as is (its master and settings win), so a test
    suite or an application that configured Spark itself keeps its session.
    """
    require_spark()
    _quiet_pandas_version_warning()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and (master is None or active.sparkContext.master == master):
        return active
    builder = SparkSession.builder.master(master or "local[2]").appName("lester")
    for key, value in (_DEFAULT_CONFIG | dict(config or {})).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as error:  # py4j raises several kinds when the JVM cannot start
        raise SparkUnavailableError(
            f"could not start Spark on {master or 'local[2]'}: {type(error).__name__}: {error} "
            f"({EXTRA_HINT})"
        ) from None


def _quiet_pandas_version_warning() -> None:
    # pyspark 4.x warns on every pandas conversion that pandas 3 is not fully supported;
    # the engine's tests compare every result with the pandas engine instead.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
