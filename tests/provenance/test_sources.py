"""SourceInfo: the identity of a source's tuples (primary key or row number)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lester.errors import DuplicateKeyError, KeyTypeError, UnknownKeyError
from lester.provenance import SourceInfo


def keyed() -> SourceInfo:
    return SourceInfo.from_frame("c", pd.DataFrame({"id": ["C3", "C1", "C2"]}), "id", "c.csv")


def numbered() -> SourceInfo:
    return SourceInfo.from_frame("m", pd.DataFrame({"a": [5, 6, 7]}), None)


def test_keyed_source_maps_keys_to_positions():
    info = keyed()
    assert info.ids_of(["C2", "C3"]).tolist() == [0, 2]
    assert info.keys_at(np.array([1, 0])).tolist() == ["C1", "C3"]
    assert (info.name, info.primary_key, info.path) == ("c", "id", "c.csv")
    assert info.key_description == "'id'"


def test_numbered_source_uses_row_numbers():
    info = numbered()
    assert info.keys.tolist() == [0, 1, 2]
    assert info.ids_of([2, 0]).tolist() == [0, 2]
    assert info.key_description == "row number"


def test_ids_of_deduplicates():
    assert keyed().ids_of(["C1", "C1"]).tolist() == [1]


def test_ids_of_nothing():
    assert keyed().ids_of([]).tolist() == []


def test_row_numbers_can_be_given():
    data = pd.DataFrame({"a": [5, 6]})
    info = SourceInfo.from_frame("m", data, None, row_numbers=np.array([3, 9]))
    assert info.ids_of([9]).tolist() == [1]
    with pytest.raises(UnknownKeyError):
        info.ids_of([0])


def test_integer_primary_key_accepts_numpy_integers():
    info = SourceInfo.from_frame("s", pd.DataFrame({"id": [10, 20]}), "id")
    assert info.ids_of([np.int64(20)]).tolist() == [1]


def test_duplicate_keys_are_named():
    data = pd.DataFrame({"id": ["a", "b", "a", "c", "c", "c"]})
    with pytest.raises(DuplicateKeyError) as error:
        SourceInfo.from_frame("s", data, "id")
    message = str(error.value)
    assert "['a', 'c']" in message
    assert "'b'" not in message


def test_missing_key_values_are_an_error():
    with pytest.raises(DuplicateKeyError, match="missing"):
        SourceInfo.from_frame("s", pd.DataFrame({"id": ["a", None]}), "id")


def test_unknown_keys_are_named():
    with pytest.raises(UnknownKeyError) as error:
        keyed().ids_of(["C1", "C7", "C8"])
    assert "['C7', 'C8']" in str(error.value)
    assert "'C1'" not in str(error.value)


@pytest.mark.parametrize("key", [1, 1.5, True])
def test_string_key_rejects_other_types(key):
    with pytest.raises(KeyTypeError) as error:
        keyed().ids_of([key])
    assert type(key).__name__ in str(error.value)


@pytest.mark.parametrize("key", ["1", 1.0, True, None])
def test_row_numbers_reject_other_types(key):
    with pytest.raises(KeyTypeError, match="row numbers"):
        numbered().ids_of([key])


def test_negative_row_number_is_unknown():
    with pytest.raises(UnknownKeyError):
        numbered().ids_of([-1])
