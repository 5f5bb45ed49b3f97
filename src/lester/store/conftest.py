"""Doctest fixtures: a ``store`` holding one small run ``run_id`` (see ``lester.store.view``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def _demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    import torch
    from sklearn.preprocessing import StandardScaler

    from lester.store import Dependency, SourceRecord, Store

    store = Store(tmp_path_factory.mktemp("doctest-store") / ".lester")
    data = pd.DataFrame({"id": [1, 2, 3, 4, 5], "name": ["a", "b", None, "d", "e"]})
    x = np.stack([np.arange(5), np.arange(5) * 10], axis=1).astype(np.float32)
    with store.new_run("demo") as writer:
        writer.put_table("data", data, chunk_rows=2)
        writer.put_matrix("X", x, chunk_rows=2)
        writer.put_json("meta", {"seed": 42})
        writer.put_bytes("pipeline.py", "print(1)\n")
        writer.put_sklearn("scaler", StandardScaler().fit([[1.0], [3.0]]))
        linear = {"class": "torch.nn.Linear", "kwargs": {"in_features": 3, "out_features": 1}}
        writer.put_torch("model", torch.nn.Linear(3, 1).state_dict(), module=linear)
        writer.set_catalog(
            sources=[SourceRecord("customers", "/data/customers.csv", "ab12", rows=5)],
            dependencies=[Dependency("customers", "email", "X")],
        )
    return store, writer.run_id


@pytest.fixture(autouse=True)
def _doctest_store(doctest_namespace: dict, _demo_store: tuple) -> None:
    doctest_namespace["store"], doctest_namespace["run_id"] = _demo_store
