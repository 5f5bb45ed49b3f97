"""Per-key hashes: computed a slice of keys at a time, equal to one hash of all keys."""

from __future__ import annotations

import pandas as pd
import pytest

from lester.provenance import SourceInfo, hashing


@pytest.mark.parametrize(
    "keys", [[f"mail-{i}" for i in range(10)], list(range(100, 110)), ["a", 1, "b", 2.5, "c"]]
)
def test_keys_hashed_in_slices_hash_as_all_at_once(monkeypatch, keys):
    info = SourceInfo.from_frame("m", pd.DataFrame({"id": pd.Series(keys, dtype=object)}), "id")
    monkeypatch.setattr(hashing, "HASH_SLICE", 3)
    sliced = hashing.key_hashes({"m": info})["m"]
    monkeypatch.setattr(hashing, "HASH_SLICE", 1 << 30)
    whole = hashing.key_hashes({"m": info})["m"]
    assert sliced.tolist() == whole.tolist()
    assert len(set(sliced.tolist())) == len(keys)
