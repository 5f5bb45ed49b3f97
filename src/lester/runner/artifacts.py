"""Read a captured run's relational artifacts back, with their provenance polynomials.

Examples
--------
>>> import lester as lt, pandas as pd, tempfile
>>> from lester.store import Store
>>> from lester.runner.capture import provenance_table
>>> frame = lt.from_pandas(pd.DataFrame({"id": ["a", "b"]}), name="s", primary_key="id")
>>> store = Store(tempfile.mkdtemp())
>>> with store.new_run("p") as writer:
...     writer.put_table("train/data", frame.to_pandas())
...     writer.put_table("train/provenance", provenance_table(frame.provenance))
...     writer.put_table("sources/s/keys", pd.DataFrame({"id": ["a", "b"]}))
...     writer.put_json("provenance", {"slots": {"train": [["s", "s"]]}})
>>> split = load_split(store.open_run(writer.run_id), "train")
>>> split.render(1)
's[b]'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lester.provenance import Provenance, Slot
from lester.runner.capture import OWNER


@dataclass(frozen=True)
class CapturedSplit:
    """The rows of one split of a run, their polynomials and the sources' keys."""

    data: pd.DataFrame
    provenance: Provenance
    keys: dict[str, pd.Index]

    def render(self, row: int) -> str:
        """Row ``row``'s polynomial with primary-key values, e.g. ``mails[M1]*customers[C4]``."""
        return self.provenance.render(row, self.keys)

    def tuple_ids(self, source: str, keys: list[object]) -> np.ndarray:
        """Tuple ids of the given source keys (unknown keys are skipped)."""
        positions = self.keys[source].get_indexer(pd.Index(keys))
        return np.unique(positions[positions >= 0]).astype(np.int64)


def load_stored_pipeline(run: Any) -> Any:
    """The run's pipeline, imported from the code captured with the run (not from the
    file it was run from, which may have changed since)."""
    import hashlib
    import tempfile
    from pathlib import Path

    from lester.pipeline import load_pipeline

    code = run.bytes("pipeline.py")
    name = run.json("pipeline")["name"]
    folder = Path(tempfile.gettempdir()) / "lester-pipelines" / hashlib.sha256(code).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists():
        path.write_bytes(code)
    return load_pipeline(path)


def load_model(run: Any, pipeline: Any = None) -> Any:
    """The run's trained model: sklearn via skops, skorch rebuilt from the pipeline's
    factory and the saved weights."""
    from lester.runner import models

    spec = run.json("model/spec")
    if spec["kind"] != "skorch":
        return run.sklearn("model")
    pipeline = pipeline or load_stored_pipeline(run)
    return models.rebuild_skorch(
        pipeline.create_model, spec["num_features"], run.torch("model/weights")
    )


def load_keys(run: Any, source: str) -> pd.Index:
    """A source's tuple keys, by tuple id."""
    table = run.table(f"sources/{source}/keys")
    return pd.Index(table.iloc[:, 0], name=table.columns[0])


def load_provenance(run: Any, split: str) -> Provenance:
    """The polynomials of a split's rows."""
    slots = [Slot(name, source) for name, source in run.json("provenance")["slots"][split]]
    table = run.table(f"{split}/provenance")
    keys = table[[slot.name for slot in slots]].to_numpy(dtype=np.int64)
    n_rows = run.n_rows(f"{split}/data")
    owner = table[OWNER].to_numpy(dtype=np.int64) if OWNER in table.columns else None
    return Provenance(slots, keys.reshape(-1, len(slots)), owner, n_rows)


def load_split(run: Any, split: str) -> CapturedSplit:
    """The data, polynomials and source keys of ``split`` (``"train"`` or ``"test"``)."""
    provenance = load_provenance(run, split)
    keys = {source: load_keys(run, source) for source in provenance.sources}
    return CapturedSplit(run.table(f"{split}/data"), provenance, keys)
