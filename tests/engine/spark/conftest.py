"""One local Spark session for all Spark tests (the JVM starts once)."""

from __future__ import annotations

import os
import sys

import pytest

from lester.engine.spark import spark_available


@pytest.fixture(scope="session")
def spark():
    if not spark_available():
        pytest.skip("pyspark or Java is not installed (pip install 'lester[spark]', Java 17)")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from lester.engine.spark import get_session

    session = get_session(
        "local[2]",
        {
            "spark.driver.host": "127.0.0.1",
            "spark.sql.shuffle.partitions": "1",
            "spark.default.parallelism": "2",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
