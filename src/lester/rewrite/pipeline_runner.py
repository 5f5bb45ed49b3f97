"""Run a rewritten pipeline module the way the messy scripts run: inside the sandbox.

``python -m lester.rewrite.pipeline_runner PIPELINE.py OUT_DIR '{"source": "path", ...}'``
imports the module, calls ``_lester_dataprep`` on the given paths, fits
``encode_features()`` on *all* prepared rows (the messy scripts have no train/test split),
computes ``extract_label`` and writes to ``OUT_DIR``:

- ``prepared.json``: ``{"columns": [...], "rows": [[...], ...]}`` with JSON cell values;
- ``X.npy`` (float64, dense) and ``y.npy``;
- ``provenance.json``: each row's polynomial as a list of monomials of ``[source, key]``;
- ``blocks.json``: ``[[transformer name, first X column, end], ...]`` of the fitted encoder.

Only JSON and ``.npy`` without pickles leave the sandbox, so reading the results cannot run
code that the pipeline planted.

Examples
--------
>>> import pandas as pd
>>> _json_cell(float("nan")), _json_cell(pd.NA), _json_cell(True), _json_cell(2.5)
(None, None, True, 2.5)
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _json_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        return value
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("lester_rewritten_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # classes defined in the pipeline resolve by module name
    spec.loader.exec_module(module)
    missing = [
        name
        for name in ("_lester_dataprep", "encode_features", "extract_label")
        if not callable(getattr(module, name, None))
    ]
    if missing:
        raise SystemExit(f"the pipeline module does not define {missing}")
    return module


def _blocks(encoder: Any) -> list[list[Any]]:
    indices = getattr(encoder, "output_indices_", None) or {}
    return [
        [name, part.start, part.stop]
        for name, part in indices.items()
        if isinstance(part, slice) and part.stop > part.start
    ]


def run(pipeline_path: Path, out_dir: Path, sources: dict[str, str]) -> None:
    """Execute the pipeline and write its outputs (see the module docstring)."""
    from lester.frame.frame import TrackedFrame
    from lester.pipeline import Pipeline

    module = _load_module(pipeline_path)
    contract = Pipeline(module._lester_dataprep, module.encode_features, module.extract_label,
                        getattr(module, "create_model", None))  # fmt: skip
    prepared = module._lester_dataprep(**contract.dataprep_arguments(sources))
    if not isinstance(prepared, TrackedFrame):
        raise SystemExit(
            f"_lester_dataprep returned a {type(prepared).__name__}, expected a TrackedFrame"
        )
    frame = prepared.to_pandas()
    encoder = module.encode_features()
    if len(frame):
        X = encoder.fit_transform(frame)
        X = X.toarray() if hasattr(X, "toarray") else X
    else:  # encoders refuse to fit on no rows; there is no feature matrix to compare
        X = np.zeros((0, 0))
    y = np.asarray(module.extract_label(frame))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [[_json_cell(value) for value in row] for row in frame.itertuples(index=False)]
    (out_dir / "prepared.json").write_text(
        json.dumps({"columns": [str(c) for c in frame.columns], "rows": rows}), encoding="utf-8"
    )
    np.save(out_dir / "X.npy", np.asarray(X, dtype=np.float64), allow_pickle=False)
    np.save(out_dir / "y.npy", y.astype(np.float64), allow_pickle=False)
    polynomials = [
        [[[source, _json_cell(key)] for source, key in monomial] for monomial in polynomial]
        for polynomial in prepared.provenance_canonical()
    ]
    (out_dir / "provenance.json").write_text(json.dumps(polynomials), encoding="utf-8")
    (out_dir / "blocks.json").write_text(json.dumps(_blocks(encoder)), encoding="utf-8")


def main(argv: list[str]) -> None:
    """``main([pipeline, out_dir, sources_json])``."""
    run(Path(argv[0]), Path(argv[1]), json.loads(argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
