"""A scratch equivalence check for rewritten pipelines (until the verifier is merged):
run the generated pipeline on the case's inputs and compare the prepared rows (as the
strings the script writes, a multiset), y, and X (rows matched through the prepared rows)
with what the original script produced in its ``out/`` folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from lester.pipeline import load_pipeline


def written(value) -> str:
    if isinstance(value, float) and value.is_integer() and False:
        return str(value)
    return str(value)


def compare_with_outputs(pipeline_path: Path, sources: dict[str, Path], out: Path, header: bool):
    """Return a list of differences (empty: equivalent on these inputs)."""
    pipeline = load_pipeline(pipeline_path)
    prepared = pipeline.dataprep(**pipeline.dataprep_arguments({k: str(v) for k, v in sources.items()}))
    data = prepared.to_pandas()
    ours = [tuple(written(v) for v in row) for row in data.itertuples(index=False, name=None)]
    lines = (out / "prepared.tsv").read_text().split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if header:
        lines = lines[1:]
    theirs = [tuple(line.split("\t")) for line in lines]
    problems = []
    if Counter(ours) != Counter(theirs):
        missing = Counter(theirs) - Counter(ours)
        extra = Counter(ours) - Counter(theirs)
        problems.append(f"prepared rows differ: {len(missing)} missing e.g. {list(missing)[:2]}, "
                        f"{len(extra)} extra e.g. {list(extra)[:2]}")
        return problems
    X = np.asarray(pipeline.encode_features().fit_transform(data), dtype=float)
    y = np.asarray(pipeline.extract_label(data), dtype=float)
    X_ref, y_ref = np.load(out / "X.npy"), np.load(out / "y.npy")
    # align: the script's row order is its file order; match each prepared row to its line
    position = {}
    for i, row in enumerate(theirs):
        position.setdefault(row, []).append(i)
    order = [position[row].pop(0) for row in ours]
    if X.shape != X_ref.shape:
        problems.append(f"X shape {X.shape} != {X_ref.shape}")
    elif not np.allclose(X, X_ref[order], atol=1e-9, rtol=0, equal_nan=True):
        bad = np.argwhere(~np.isclose(X, X_ref[order], atol=1e-9, rtol=0, equal_nan=True))
        problems.append(f"X differs at {len(bad)} cells, first columns {sorted(set(bad[:, 1]))[:8]}")
    if y.shape != y_ref.shape or not np.allclose(y, y_ref[order], atol=1e-9):
        problems.append("y differs")
    return problems
