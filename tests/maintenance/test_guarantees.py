"""The guarantees of maintenance updates, on real files and a real SQLite catalog:

- every update writes a new version atomically and physically deletes the old version's
  files (a crash at any stage leaves the old or the new version, never a mix);
- concurrent updates of one run are serialised and none is lost;
- after forget-values no deleted value is left anywhere under the store root, and
  ``verify_forgotten`` can tell;
- the audit log says who changed what, without the deleted values;
- fitted encoders that memorised a value make the update refuse;
- bad input and unsupported models are refused with a clear error and nothing written.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import signal
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lester.errors import LesterError, UnknownColumnError, UnknownKeyError, UnknownSourceError
from lester.maintenance import (
    ForgottenValueFoundError,
    MemorisedValueError,
    NothingToUpdateError,
    Selection,
    UpdateOptions,
    find_affected,
    forget_rows,
    forget_values,
    scan_files,
    verify_forgotten,
)
from lester.maintenance.unlearning import SUPPORTED, UnsupportedModelError
from lester.runner import run
from lester.runner.artifacts import load_keys, load_model, load_provenance
from lester.store import Store, UnknownRunError
from lester.store._fs import CRASH_ENV, TEMP_PREFIX

from .conftest import DATAPREP, PIPELINE, write_sources

SPLITS = ("train", "test")
CARD_QUERY = "subject.str.contains('card')"
TARGET_COUNTRIES = ("DE", "FR", "UK")  # the pipelines keep only these customers
FORK = multiprocessing.get_context("fork")
SPAWN = multiprocessing.get_context("spawn")

# A pipeline like the shared fixture's, with the title encoder and the model to choose.
PIPELINE_TEMPLATE = """
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def encode_features():
    return ColumnTransformer(
        [
            ("title", {title_encoder}),
            ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["country"]),
            ("score", StandardScaler(), ["score"]),
        ],
        sparse_threshold={sparse_threshold},
    )


def extract_label(df):
    return df["is_premium"].fillna(False).astype(int).to_numpy()


def create_model(num_features):
    return {model}
"""

ONE_HOT_TITLE = 'OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["title"]'
# One token per whole title: the vocabulary memorises every title verbatim.
WHOLE_TITLE_VOCABULARY = 'CountVectorizer(token_pattern=r".+"), "title"'
LOGISTIC = "LogisticRegression(C=1.0, max_iter=1000)"
FOREST = "RandomForestClassifier(n_estimators=5, random_state=0)"


# ---------------------------------------------------------------------------- helpers
def capture(
    folder: Path,
    name: str,
    title_encoder: str = '"drop", ["title"]',
    model: str = LOGISTIC,
    sparse_threshold: float = 0.0,
) -> tuple[Store, str, Path, Path]:
    """A real run of a pipeline written from the template: (store, run_id, customers, mails)."""
    source = DATAPREP + PIPELINE_TEMPLATE.format(
        title_encoder=title_encoder, model=model, sparse_threshold=sparse_threshold
    )
    return capture_pipeline(folder, name, source)


def capture_pipeline(folder: Path, name: str, source: str) -> tuple[Store, str, Path, Path]:
    data = folder / "data"
    data.mkdir()
    customers_path, mails_path = write_sources(data)
    pipeline_path = folder / f"{name}.py"
    pipeline_path.write_text(textwrap.dedent(source))
    store = Store(folder / "store")
    result = run(
        pipeline_path,
        {"customers": customers_path, "mails": mails_path},
        store=store,
        seed=7,
        quiet=True,
    )
    return store, result.run_id, customers_path, mails_path


@pytest.fixture(scope="module")
def untouched(tmp_path_factory) -> tuple[Store, str, Path, Path]:
    """A run of the shared fixture's pipeline for the calls that must write nothing (each
    test checks that they did not, so sharing it between them is safe)."""
    return capture_pipeline(tmp_path_factory.mktemp("untouched"), "complaints", PIPELINE)


def snapshot(store: Store) -> dict[str, str]:
    """Every file under the store root (relative path) with the sha256 of its bytes."""
    return {
        path.relative_to(store.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in store.all_files()
    }


def run_folder_files(store: Store, run_id: str) -> set[str]:
    """The files of the run folder, without its ``logs/`` (append-only logs such as lineage
    events, kept across versions by design)."""
    folder = store.run_path(run_id)
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).parts[0] != "logs"
    }


def card_mails(mails_path: Path) -> pd.DataFrame:
    """The mails whose subject holds the fake card number."""
    mails = pd.read_csv(mails_path)
    return mails[mails["subject"].str.contains("card")]


def card_selection(mails_path: Path) -> tuple[Selection, list[str], list[str]]:
    """Selection of the card mails by key, their raw subjects and their titles (lower-cased,
    as the pipeline stores them)."""
    cards = card_mails(mails_path)
    subjects = cards["subject"].tolist()
    selection = Selection("mails", keys=tuple(cards["mail_id"]))
    return selection, subjects, [subject.lower() for subject in subjects]


def customers_reaching_rows(
    store: Store, customers_path: Path, count: int, emails: pd.Series | None = None
) -> list[str]:
    """``count`` customers of the target countries (with one of ``emails`` if given) that
    have at least one row in the run."""
    customers = pd.read_csv(customers_path)
    candidates = customers[customers["country"].isin(TARGET_COUNTRIES)]
    if emails is not None:
        candidates = candidates[candidates["email"].isin(emails)]
    chosen = []
    for key in candidates["customer_id"]:
        (impact,) = find_affected(store, "customers", keys=[key])
        if sum(impact.rows.values()) > 0:
            chosen.append(key)
        if len(chosen) == count:
            return chosen
    raise AssertionError("the generated data has too few customers with rows")


def mails_of(customers_path: Path, mails_path: Path, customer_ids: list[str]) -> pd.DataFrame:
    customers, mails = pd.read_csv(customers_path), pd.read_csv(mails_path)
    emails = customers[customers["customer_id"].isin(customer_ids)]["email"]
    return mails[mails["email"].isin(emails)]


def rows_from_mails(store: Store, run_id: str, mail_ids: list[str]) -> int:
    """Rows of both splits whose provenance involves any of the given mails."""
    run_ = store.open_run(run_id)
    keys = load_keys(run_, "mails")
    ids = np.flatnonzero(keys.isin(mail_ids)).astype(np.int64)
    return sum(
        int(load_provenance(run_, split).rows_touching({"mails": ids}).sum()) for split in SPLITS
    )


def files_holding(store: Store, values: list[str]) -> set[str]:
    return {name for name, _ in scan_files(store.root, values).found}


def raw_occurrences(store: Store, values: list[str]) -> list[str]:
    """Files whose raw bytes hold any value: a check independent of ``scan_files``."""
    needles = [value.encode("utf-8") for value in values]
    return [
        path.relative_to(store.root).as_posix()
        for path in store.all_files()
        if any(needle in path.read_bytes() for needle in needles)
    ]


def stored_tables(store: Store, run_id: str) -> dict[str, object]:
    run_ = store.open_run(run_id)
    tables = {f"{split}/data": run_.table(f"{split}/data") for split in SPLITS}
    matrices = {
        f"{split}/{name}": run_.matrix(f"{split}/{name}") for split in SPLITS for name in "Xy"
    }
    return {**tables, **matrices}


def assert_same_tables(actual: dict[str, object], expected: dict[str, object]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(actual[name], value)
        else:
            np.testing.assert_array_equal(actual[name], value)


def assert_only_current_files(store: Store, run_id: str) -> None:
    """The run folder holds exactly the files of the current manifest."""
    assert run_folder_files(store, run_id) == store.open_run(run_id).manifest.paths()


# ---------------------------------------------------------------------------- 1. versions
def test_each_update_makes_a_new_version_and_deletes_the_old_versions_files(captured):
    store, run_id, customers_path, mails_path, _ = captured
    selection, _, titles = card_selection(mails_path)
    holding_titles = files_holding(store, titles)
    assert holding_titles, "the card titles must be stored before they are forgotten"
    files_v1 = set(store.all_files())
    manifest_v1 = store.open_run(run_id).manifest.paths()

    status = forget_values(store, run_id, selection, "subject")

    assert (status.version_before, status.version_after) == (1, 2)
    assert store.run(run_id).version == 2
    assert_only_current_files(store, run_id)
    manifest_v2 = store.open_run(run_id).manifest.paths()
    gone = {store.run_path(run_id) / path for path in manifest_v1 - manifest_v2}
    assert gone and gone <= files_v1
    assert not any(path.exists() for path in gone)
    assert not any((store.root / name).exists() for name in holding_titles)
    assert store.verify(run_id) == len(store.open_run(run_id).manifest.files()) + 1

    (customer,) = customers_reaching_rows(store, customers_path, 1)
    their_mails = mails_of(customers_path, mails_path, [customer])["mail_id"].tolist()
    rows_before = rows_from_mails(store, run_id, their_mails)
    data_chunks_v2 = {
        chunk.file.path
        for split in SPLITS
        for chunk in store.open_run(run_id).chunks(f"{split}/data")
    }

    status = forget_rows(store, run_id, Selection("customers", keys=(customer,)))

    assert (status.version_before, status.version_after) == (2, 3)
    assert store.run(run_id).version == 3
    assert [v.version for v in store.versions(run_id)] == [1, 2, 3]
    assert_only_current_files(store, run_id)
    manifest_v3 = store.open_run(run_id).manifest.paths()
    replaced_chunks = data_chunks_v2 - manifest_v3
    assert replaced_chunks, "the data chunks that held the customer's rows must be replaced"
    assert not any((store.run_path(run_id) / path).exists() for path in replaced_chunks)
    assert rows_before == status.rows["train"] + status.rows["test"] > 0
    assert rows_from_mails(store, run_id, their_mails) == 0
    assert status.scan["clean"]
    assert store.verify(run_id) == len(store.open_run(run_id).manifest.files()) + 1


# ---------------------------------------------------------------------------- 2. the scan
def test_after_forget_values_no_byte_of_the_store_holds_a_forgotten_subject(captured):
    store, run_id, _, mails_path, _ = captured
    query = Selection("mails", where=CARD_QUERY)
    _, subjects, titles = card_selection(mails_path)
    before = scan_files(store.root, titles)
    assert not before.clean, "the scan must see the stored titles, or it proves nothing"
    assert raw_occurrences(store, ["4111 2222"]), "the card numbers are stored in clear"

    status = forget_values(store, run_id, query, "subject")

    assert status.scan["clean"] and status.scan["values_checked"] > 0
    for values in (titles, subjects):
        after = scan_files(store.root, values)
        assert after.clean, after.found
        assert after.files == len(store.all_files())  # catalog, locks, tmp/ included
    assert raw_occurrences(store, ["4111 2222", *titles, *subjects]) == []
    catalog_files = [p for p in store.all_files() if p.name.startswith("catalog.sqlite")]
    assert catalog_files and all(b"4111 2222" not in p.read_bytes() for p in catalog_files)
    for selection in (query, card_selection(mails_path)[0]):
        result = verify_forgotten(store, "mails", "subject", selection)
        assert result.clean and result.checked == len(subjects)


def test_verify_forgotten_finds_the_stored_values_before_they_are_forgotten(captured):
    """The run stores each subject lower-cased (its ``title``): a verification that passes
    while the card numbers are still stored proves nothing."""
    store, _, _, mails_path, _ = captured
    selection, _, titles = card_selection(mails_path)
    assert not scan_files(store.root, titles).clean

    with pytest.raises(ForgottenValueFoundError, match="still in the store"):
        verify_forgotten(store, "mails", "subject", selection)


def test_verify_forgotten_scans_temporary_files_too(captured):
    store, run_id, _, mails_path, _ = captured
    selection, subjects, _ = card_selection(mails_path)
    forget_values(store, run_id, selection, "subject")
    assert verify_forgotten(store, "mails", "subject", selection).clean
    leftover = store.tmp_dir / f"{TEMP_PREFIX}killed-writer.json"
    leftover.write_text(json.dumps({"subject": subjects[3]}))

    with pytest.raises(ForgottenValueFoundError, match=leftover.name):
        verify_forgotten(store, "mails", "subject", selection)


# ---------------------------------------------------------------------------- 3. audit
def test_audit_log_records_each_update_without_the_deleted_values(captured):
    store, run_id, customers_path, mails_path, _ = captured
    selection, subjects, titles = card_selection(mails_path)
    (customer,) = customers_reaching_rows(store, customers_path, 1)
    their_titles = mails_of(customers_path, mails_path, [customer])["subject"].str.lower()
    started = datetime.now().astimezone().replace(microsecond=0)

    forget_values(store, run_id, selection, "subject", UpdateOptions(who="dpo@bank"))
    forget_rows(store, run_id, Selection("customers", keys=(customer,)))

    audit = store.open_run(run_id).json("audit")
    assert [entry["command"] for entry in audit] == ["forget-values", "forget-rows"]
    assert [entry["version"] for entry in audit] == [2, 3]
    values_entry, rows_entry = audit
    assert values_entry["who"] == "dpo@bank"
    assert rows_entry["who"]  # the OS user when nobody is named
    for entry in audit:
        when = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S%z")
        assert started <= when <= datetime.now().astimezone()
        assert entry["rows"] and entry["model"]["method"] == "newton"
    assert values_entry["keys"] == list(selection.keys)
    assert (values_entry["column"], values_entry["columns"]) == ("subject", ["title"])
    assert values_entry["rows"]["train"] == values_entry["model"]["rows_changed"] > 0
    assert rows_entry["keys"] == [customer]
    assert rows_entry["rows"]["train"] == rows_entry["model"]["rows_removed"] > 0
    logged = json.dumps(audit)
    leaked = [value for value in [*subjects, *titles] if value in logged]
    assert leaked == []
    assert not [title for title in their_titles if "card" in title and title in logged]


def test_a_where_query_naming_the_value_does_not_leak_it_into_audit_or_catalog(captured):
    """Forgetting one subject selected by its value: the audit log, manifests and catalog
    must record the selected keys, not the query text that contains the deleted value."""
    store, run_id, customers_path, mails_path, _ = captured
    customers = pd.read_csv(customers_path)
    kept = customers[customers["country"].isin(TARGET_COUNTRIES)]["email"]
    cards = card_mails(mails_path)
    subject = cards[cards["email"].isin(kept)]["subject"].iloc[0]

    forget_values(store, run_id, Selection("mails", where=f"subject == {subject!r}"), "subject")

    assert subject not in json.dumps(store.open_run(run_id).json("audit"))
    assert subject not in json.dumps([v.note for v in store.versions(run_id)])
    assert raw_occurrences(store, [subject, subject.lower()]) == []


# ---------------------------------------------------------------------------- 4. memorised
MEMORISING_ENCODERS = {
    "one-hot categories": (ONE_HOT_TITLE, 0.0, "categories_"),
    "vocabulary, dense X": (WHOLE_TITLE_VOCABULARY, 0.0, "vocabulary_"),
    "vocabulary, sparse X": (WHOLE_TITLE_VOCABULARY, 0.3, "vocabulary_"),
}


@pytest.mark.parametrize("encoder", MEMORISING_ENCODERS.keys())
def test_forget_values_refuses_when_an_encoder_memorised_the_value(tmp_path, encoder):
    title_encoder, sparse_threshold, attribute = MEMORISING_ENCODERS[encoder]
    store, run_id, _, mails_path = capture(
        tmp_path, "memorising", title_encoder, sparse_threshold=sparse_threshold
    )
    selection, _, titles = card_selection(mails_path)
    before = snapshot(store)

    with pytest.raises(MemorisedValueError, match=attribute) as refused:
        forget_values(store, run_id, selection, "subject")

    assert "encoders" in str(refused.value)
    # The message names where, never what: printing it must not leak the values.
    assert [title for title in titles if title in str(refused.value)] == []
    assert store.run(run_id).version == 1
    assert snapshot(store) == before


def test_forget_rows_refuses_when_an_encoder_memorised_a_value_of_the_rows(tmp_path):
    store, run_id, customers_path, mails_path = capture(tmp_path, "memorising", ONE_HOT_TITLE)
    encoder = store.open_run(run_id).sklearn("encoders")
    learned = set(encoder.named_transformers_["title"].categories_[0])
    cards = card_mails(mails_path)
    learned_cards = cards[cards["subject"].str.lower().isin(learned)]
    customers = customers_reaching_rows(store, customers_path, 1, emails=learned_cards["email"])
    their_mails = mails_of(customers_path, mails_path, customers)
    card_titles = [s.lower() for s in their_mails["subject"] if "card" in s]
    assert any(name.endswith(".skops") for name in files_holding(store, card_titles))
    before = snapshot(store)

    with pytest.raises(MemorisedValueError, match="categories_"):
        forget_rows(store, run_id, Selection("customers", keys=tuple(customers)))

    assert store.run(run_id).version == 1
    assert snapshot(store) == before


# ---------------------------------------------------------------------------- 5. bad input
def _bad_inputs(customers_path: Path, mails_path: Path, run_id: str) -> dict:
    customers, mails = pd.read_csv(customers_path), pd.read_csv(mails_path)
    outside = customers[~customers["country"].isin(TARGET_COUNTRIES)]
    outside_mails = mails[mails["email"].isin(outside["email"])]["mail_id"].head(3)
    card_keys = tuple(card_mails(mails_path)["mail_id"])
    return {
        "unknown run": (
            lambda store: forget_values(
                store, "nope-1", Selection("mails", keys=card_keys), "subject"
            ),
            UnknownRunError,
            "nope-1",
        ),
        "unknown source (values)": (
            lambda store: forget_values(
                store, run_id, Selection("emails", keys=card_keys), "subject"
            ),
            UnknownSourceError,
            "emails",
        ),
        "unknown source (rows)": (
            lambda store: forget_rows(store, run_id, Selection("clients", keys=("C0001",))),
            UnknownSourceError,
            "clients",
        ),
        "unknown column": (
            lambda store: forget_values(
                store, run_id, Selection("mails", keys=card_keys), "subjekt"
            ),
            UnknownColumnError,
            "subjekt",
        ),
        "unknown keys (values)": (
            lambda store: forget_values(
                store, run_id, Selection("mails", keys=("M99999",)), "subject"
            ),
            UnknownKeyError,
            "M99999",
        ),
        "unknown keys (rows)": (
            lambda store: forget_rows(store, run_id, Selection("customers", keys=("C9999",))),
            UnknownKeyError,
            "C9999",
        ),
        "query matching nothing": (
            lambda store: forget_rows(
                store, run_id, Selection("customers", where="country == 'XX'")
            ),
            NothingToUpdateError,
            "reach no row",
        ),
        "customers filtered out": (
            lambda store: forget_rows(
                store, run_id, Selection("customers", keys=tuple(outside["customer_id"][:2]))
            ),
            NothingToUpdateError,
            "reach no row",
        ),
        "mails of filtered customers": (
            lambda store: forget_values(
                store, run_id, Selection("mails", keys=tuple(outside_mails)), "subject"
            ),
            NothingToUpdateError,
            "reach no row",
        ),
    }


BAD_INPUTS = [
    "unknown run",
    "unknown source (values)",
    "unknown source (rows)",
    "unknown column",
    "unknown keys (values)",
    "unknown keys (rows)",
    "query matching nothing",
    "customers filtered out",
    "mails of filtered customers",
]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_clear_error_and_writes_nothing(untouched, case):
    store, run_id, customers_path, mails_path = untouched
    call, error, named = _bad_inputs(customers_path, mails_path, run_id)[case]
    version, before = store.run(run_id).version, snapshot(store)

    with pytest.raises(error, match=re.escape(named)):
        call(store)

    assert issubclass(error, LesterError)
    assert store.run(run_id).version == version
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("source", "column", "named"),
    [("emails", "subject", "emails"), ("mails", "subjekt", "subjekt")],
)
def test_verify_forgotten_of_an_unknown_source_or_column_is_an_error(
    untouched, source, column, named
):
    """A verification that checked nothing must not report the store clean."""
    store, *_ = untouched
    before = snapshot(store)

    with pytest.raises(LesterError, match=named):
        verify_forgotten(store, source, column, Selection(source, keys=("M00007",)))

    assert snapshot(store) == before


# ---------------------------------------------------------------------------- 6. models
def test_unsupported_model_is_refused_with_the_supported_kinds_or_retrained(tmp_path):
    store, run_id, customers_path, _ = capture(tmp_path, "forest", model=FOREST)
    customers = tuple(customers_reaching_rows(store, customers_path, 2))
    selection = Selection("customers", keys=customers)
    before = snapshot(store)

    with pytest.raises(UnsupportedModelError, match="RandomForestClassifier") as refused:
        forget_rows(store, run_id, selection)

    for kind in SUPPORTED:
        assert kind in str(refused.value)
    assert "allow_retrain" in str(refused.value)
    assert snapshot(store) == before

    status = forget_rows(store, run_id, selection, UpdateOptions(allow_retrain=True))

    assert status.version_after == store.run(run_id).version == 2
    assert status.model["retrained"] is True and status.model["method"] == "retrain"
    assert "retrained" in status.model["reason"]
    run_ = store.open_run(run_id)
    X, y = run_.matrix("train/X"), run_.matrix("train/y")
    assert status.model["rows_removed"] == status.rows["train"] > 0
    model = load_model(run_)
    assert model.n_features_in_ == X.shape[1]
    expected = type(model)(**model.get_params()).fit(X, y)  # a retrain on the kept rows
    np.testing.assert_array_equal(model.predict(X), expected.predict(X))
    assert store.verify(run_id) > 0


# ---------------------------------------------------------------------------- 7. concurrency
def _forget_customer_in_child(root: str, run_id: str, customer: str, ready, results) -> None:
    """One process's forget-rows; everything is imported and loaded before ``ready``."""
    try:
        store = Store(root)
        load_model(store.open_run(run_id))  # import the model stack before the race
        ready.wait(timeout=120)
        status = forget_rows(
            store, run_id, Selection("customers", keys=(customer,)), UpdateOptions(who=customer)
        )
        results.put((customer, "ok", status.version_after))
    except BaseException as error:
        ready.abort()  # do not keep the others waiting for a process that failed
        results.put((customer, type(error).__name__, str(error)))


def test_concurrent_forget_rows_of_one_run_are_serialised_and_none_is_lost(captured):
    store, run_id, customers_path, mails_path, _ = captured
    customers = customers_reaching_rows(store, customers_path, 2)
    their_mails = {
        customer: mails_of(customers_path, mails_path, [customer])["mail_id"].tolist()
        for customer in customers
    }
    rows_before = {c: rows_from_mails(store, run_id, m) for c, m in their_mails.items()}
    total_before = sum(store.open_run(run_id).n_rows(f"{split}/data") for split in SPLITS)
    ready, results = SPAWN.Barrier(3), SPAWN.Queue()
    children = [
        SPAWN.Process(
            target=_forget_customer_in_child,
            args=(str(store.root), run_id, customer, ready, results),
        )
        for customer in customers
    ]
    # A third writer holds the run's lock until both children have read version 1 and
    # wait for the lock: both updates are then certainly concurrent.
    gate = store.update_run(run_id, note="gate")
    for child in children:
        child.start()
    try:
        ready.wait(timeout=120)
        time.sleep(1.5)
    except threading.BrokenBarrierError:
        pass  # a child failed before the race; its error is in ``results``
    finally:
        gate.abort()
    outcomes = sorted(results.get(timeout=120) for _ in children)
    for child in children:
        child.join(timeout=60)

    assert [child.exitcode for child in children] == [0, 0]
    assert [outcome[1] for outcome in outcomes] == ["ok", "ok"], outcomes
    assert sorted(outcome[2] for outcome in outcomes) == [2, 3]
    assert store.run(run_id).version == 3
    assert [v.version for v in store.versions(run_id)] == [1, 2, 3]
    for customer, mail_ids in their_mails.items():
        assert rows_before[customer] > 0
        assert rows_from_mails(store, run_id, mail_ids) == 0, customer
    total_after = sum(store.open_run(run_id).n_rows(f"{split}/data") for split in SPLITS)
    assert total_after == total_before - sum(rows_before.values())
    audit = store.open_run(run_id).json("audit")
    assert sorted(entry["who"] for entry in audit) == sorted(customers)
    assert sorted(entry["version"] for entry in audit) == [2, 3]
    assert store.verify(run_id) > 0
    assert_only_current_files(store, run_id)


# ---------------------------------------------------------------------------- 8. crashes
CRASH_STAGES = [
    ("file:temp", 1),
    ("update:object", 1),
    ("update:objects", 1),
    ("update:manifest", 1),
    ("update:transaction", 1),
    ("update:switched", 2),
    ("update:gc", 2),
]


def _forget_card_titles_and_crash(root: str, run_id: str, keys: tuple, stage: str) -> None:
    os.environ[CRASH_ENV] = stage
    forget_values(Store(root), run_id, Selection("mails", keys=keys), "subject")
    os._exit(0)  # the stage was never reached


@pytest.mark.parametrize(("stage", "survivor"), CRASH_STAGES)
def test_kill_during_forget_values_leaves_the_old_or_the_new_version(captured, stage, survivor):
    store, run_id, _, mails_path, _ = captured
    selection, _, titles = card_selection(mails_path)
    original = stored_tables(store, run_id)
    manifest_v1 = store.open_run(run_id).manifest.paths()

    child = FORK.Process(
        target=_forget_card_titles_and_crash, args=(str(store.root), run_id, selection.keys, stage)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL

    reopened = Store(store.root)
    assert reopened.run(run_id).version == survivor
    assert reopened.verify(run_id) > 0
    current = reopened.open_run(run_id)
    if survivor == 1:
        assert current.manifest.paths() == manifest_v1
        assert_same_tables(stored_tables(reopened, run_id), original)
        assert "audit" not in current.artifacts()
        assert not scan_files(reopened.root, titles).clean  # the values are still there
    else:
        stored_titles = set(pd.concat([current.table(f"{s}/data") for s in SPLITS])["title"])
        assert stored_titles.isdisjoint(titles)
        assert [entry["version"] for entry in current.json("audit")] == [2]

    reopened.recover()

    assert list(reopened.tmp_dir.iterdir()) == []
    assert not [p for p in reopened.all_files() if p.name.startswith(TEMP_PREFIX)]
    assert_only_current_files(reopened, run_id)
    assert scan_files(reopened.root, titles).clean == (survivor == 2)

    status = forget_values(reopened, run_id, selection, "subject")

    assert status.version_after == reopened.run(run_id).version == survivor + 1
    assert scan_files(reopened.root, titles).clean
    assert reopened.verify(run_id) > 0
    assert_only_current_files(reopened, run_id)
