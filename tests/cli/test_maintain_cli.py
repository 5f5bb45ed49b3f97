"""``lester affected``, ``forget-values``, ``forget-rows`` and ``verify-forgotten`` on a real
captured run: success paths (exit 0, JSON output, new run versions) and bad input (non-zero
exit, a message, not one byte changed under the store root)."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lester.cli import main
from lester.maintenance import scan_files
from lester.maintenance.unlearning import SUPPORTED
from lester.runner import run
from lester.store import Store
from lester.store._fs import TEMP_PREFIX
from tests.maintenance.conftest import PIPELINE, write_sources

CARD_QUERY = "subject.str.contains('card')"
TARGET_COUNTRIES = ("DE", "FR", "UK")  # the pipeline keeps only these customers


def capture(folder: Path, pipeline: str = PIPELINE, runs: int = 1) -> tuple:
    """(store, run ids, customers path, mails path): real runs of a pipeline file."""
    data = folder / "data"
    data.mkdir()
    customers_path, mails_path = write_sources(data)
    pipeline_path = folder / "complaints.py"
    pipeline_path.write_text(textwrap.dedent(pipeline))
    store = Store(folder / "store")
    sources = {"customers": customers_path, "mails": mails_path}
    run_ids = [
        run(pipeline_path, sources, store=store, seed=seed, quiet=True).run_id
        for seed in range(7, 7 + runs)
    ]
    return store, run_ids, customers_path, mails_path


@pytest.fixture
def captured(tmp_path: Path) -> tuple[Store, str, Path, Path]:
    """Like the maintenance tests' fixture: (store, run_id, customers_path, mails_path)."""
    store, (run_id,), customers_path, mails_path = capture(tmp_path)
    return store, run_id, customers_path, mails_path


@pytest.fixture(scope="module")
def untouched(tmp_path_factory) -> tuple[Store, str, Path, Path]:
    """A run for the commands that must change nothing (each test checks it did not)."""
    store, (run_id,), customers_path, mails_path = capture(tmp_path_factory.mktemp("untouched"))
    return store, run_id, customers_path, mails_path


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def snapshot(store: Store) -> dict[str, str]:
    return {
        path.relative_to(store.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in store.all_files()
    }


def card_mails(mails_path: Path) -> pd.DataFrame:
    mails = pd.read_csv(mails_path)
    return mails[mails["subject"].str.contains("card")]


def card_keys(mails_path: Path) -> list[str]:
    """``--keys K`` for every card mail."""
    return [arg for key in card_mails(mails_path)["mail_id"] for arg in ("--keys", key)]


def reaching(customers_path: Path, mails: pd.DataFrame) -> pd.DataFrame:
    """The mails whose customer the pipeline keeps (each makes exactly one row)."""
    customers = pd.read_csv(customers_path)
    kept = customers[customers["country"].isin(TARGET_COUNTRIES)]["email"]
    return mails[mails["email"].isin(kept)]


def card_titles(mails_path: Path) -> list[str]:
    return card_mails(mails_path)["subject"].str.lower().tolist()


# ---------------------------------------------------------------------------- affected
def test_affected_reports_the_run_and_its_rows_as_json_and_writes_nothing(untouched):
    store, run_id, customers_path, mails_path = untouched
    before = snapshot(store)

    result = invoke(
        "affected",
        "--source",
        mails_path,
        "--column",
        "subject",
        "--where",
        CARD_QUERY,
        "--json",
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    (impact,) = json.loads(result.stdout)
    assert (impact["run_id"], impact["matched_by"], impact["columns"]) == (
        run_id,
        "path",
        ["subject"],
    )
    rows = {artifact["artifact"]: artifact["rows"] for artifact in impact["artifacts"]}
    expected = len(reaching(customers_path, card_mails(mails_path)))
    assert rows["train/data"] + rows["test/data"] == expected > 0
    assert rows["model"] == rows["train/data"] == impact["rows"]["train"]
    assert snapshot(store) == before


def test_affected_by_keys_prints_a_table(untouched):
    store, _, _, mails_path = untouched

    result = invoke("affected", "--source", "mails", *card_keys(mails_path), "--store", store.root)

    assert result.exit_code == 0, result.output
    assert "train/X" in result.stdout and "model" in result.stdout


# ---------------------------------------------------------------------------- forget-values
def test_forget_values_of_one_run_bumps_its_version_and_reports_json(captured):
    store, run_id, customers_path, mails_path = captured

    result = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        *card_keys(mails_path),
        "--run",
        run_id,
        "--who",
        "dpo@bank",
        "--json",
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)
    assert (status["run_id"], status["version_before"], status["version_after"]) == (run_id, 1, 2)
    assert status["rows"]["train"] + status["rows"]["test"] == len(
        reaching(customers_path, card_mails(mails_path))
    )
    assert status["scan"]["clean"] and status["scan"]["values_checked"] > 0
    assert store.run(run_id).version == 2
    assert store.open_run(run_id).json("audit")[-1]["who"] == "dpo@bank"
    assert scan_files(store.root, card_titles(mails_path)).clean


def test_forget_values_of_all_affected_runs_updates_every_run(tmp_path):
    store, run_ids, _, mails_path = capture(tmp_path, runs=2)

    result = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        "--where",
        CARD_QUERY,
        "--all-affected",
        "--json",
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    statuses = json.loads(result.stdout)
    assert sorted(status["run_id"] for status in statuses) == sorted(run_ids)
    assert {status["version_after"] for status in statuses} == {2}
    assert [store.run(run_id).version for run_id in run_ids] == [2, 2]
    assert scan_files(store.root, card_titles(mails_path)).clean


def test_forget_values_prints_a_summary_without_json(captured):
    store, run_id, *_ = captured

    result = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        "--where",
        CARD_QUERY,
        "--run",
        run_id,
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    assert "version 1 → 2" in result.stdout and "clean: True" in result.stdout
    assert store.run(run_id).version == 2


# ---------------------------------------------------------------------------- forget-rows
def test_forget_rows_removes_the_rows_of_a_customer_and_bumps_the_version(captured):
    store, run_id, customers_path, mails_path = captured
    customers = pd.read_csv(customers_path)
    mails = reaching(customers_path, pd.read_csv(mails_path))
    customer = customers[customers["email"] == mails["email"].iloc[0]]["customer_id"].item()
    their_rows = int((mails["email"] == mails["email"].iloc[0]).sum())
    before = sum(store.open_run(run_id).n_rows(f"{split}/data") for split in ("train", "test"))

    result = invoke(
        "forget-rows",
        "--source",
        "customers",
        "--keys",
        customer,
        "--run",
        run_id,
        "--compare-retrain",
        "--json",
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)
    assert (status["command"], status["version_after"]) == ("forget-rows", 2)
    assert status["rows"]["train"] + status["rows"]["test"] == their_rows
    assert status["model"]["retrain_seconds"] is not None
    assert store.run(run_id).version == 2
    after = sum(store.open_run(run_id).n_rows(f"{split}/data") for split in ("train", "test"))
    assert after == before - their_rows


def test_forget_rows_of_an_unsupported_model_needs_allow_retrain(tmp_path):
    create_model = "return LogisticRegression(C=1.0, max_iter=1000)"
    assert create_model in PIPELINE
    forest = PIPELINE.replace(
        create_model,
        "from sklearn.ensemble import RandomForestClassifier\n"
        "    return RandomForestClassifier(n_estimators=5, random_state=0)",
    )
    store, (run_id,), customers_path, mails_path = capture(tmp_path, forest)
    mails = reaching(customers_path, pd.read_csv(mails_path))
    customers = pd.read_csv(customers_path)
    customer = customers[customers["email"] == mails["email"].iloc[0]]["customer_id"].item()
    args = ["forget-rows", "--source", "customers", "--keys", customer, "--run", run_id]
    before = snapshot(store)

    refused = invoke(*args, "--store", store.root)

    assert refused.exit_code == 1
    assert "RandomForestClassifier" in refused.output
    assert all(kind in refused.output for kind in SUPPORTED)
    assert snapshot(store) == before

    retrained = invoke(*args, "--allow-retrain", "--json", "--store", store.root)

    assert retrained.exit_code == 0, retrained.output
    (status,) = json.loads(retrained.stdout)
    assert status["model"]["retrained"] is True and status["version_after"] == 2
    assert store.run(run_id).version == 2


# ---------------------------------------------------------------------------- verify-forgotten
def test_verify_forgotten_after_forget_values_is_clean(captured):
    store, run_id, _, mails_path = captured
    forgotten = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        "--where",
        CARD_QUERY,
        "--run",
        run_id,
        "--store",
        store.root,
    )
    assert forgotten.exit_code == 0, forgotten.output
    before = snapshot(store)

    result = invoke(
        "verify-forgotten",
        "--source",
        "mails",
        "--column",
        "subject",
        "--where",
        CARD_QUERY,
        "--json",
        "--store",
        store.root,
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["clean"] and report["found"] == []
    assert report["values_checked"] == len(card_mails(mails_path))
    assert report["files"] == len(store.all_files())
    assert snapshot(store) == before


def test_verify_forgotten_fails_naming_a_leftover_file_that_holds_a_value(captured):
    store, run_id, _, mails_path = captured
    keys = card_keys(mails_path)
    forgotten = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        *keys,
        "--run",
        run_id,
        "--store",
        store.root,
    )
    assert forgotten.exit_code == 0, forgotten.output
    leftover = store.tmp_dir / f"{TEMP_PREFIX}crashed-writer.csv"
    leftover.write_text(card_mails(mails_path)["subject"].iloc[5])

    result = invoke(
        "verify-forgotten",
        "--source",
        "mails",
        "--column",
        "subject",
        *keys,
        "--store",
        store.root,
    )

    assert result.exit_code != 0
    assert leftover.name in result.output


# ---------------------------------------------------------------------------- bad input
def _bad_commands(run_id: str) -> dict[str, tuple[list[str], str]]:
    values = ["forget-values", "--source", "mails", "--column", "subject"]
    rows = ["forget-rows", "--source", "customers"]
    both = ["--keys", "M00007", "--where", CARD_QUERY]
    return {
        "affected with keys and where": (["affected", "--source", "mails", *both], "--keys"),
        "forget-values with keys and where": ([*values, *both, "--run", run_id], "--keys"),
        "forget-rows with keys and where": ([*rows, *both, "--run", run_id], "--keys"),
        "verify-forgotten with keys and where": (
            ["verify-forgotten", "--source", "mails", *both],
            "--keys",
        ),
        "forget-values without keys or where": ([*values, "--run", run_id], "--keys"),
        "forget-values without runs": ([*values, "--keys", "M00007"], "--all-affected"),
        "forget-rows without runs": ([*rows, "--keys", "C0001"], "--all-affected"),
        "forget-values with runs and all-affected": (
            [*values, "--keys", "M00007", "--run", run_id, "--all-affected"],
            "--all-affected",
        ),
        "forget-values of an unknown run": (
            [*values, "--keys", "M00007", "--run", "nope-1"],
            "nope-1",
        ),
        "forget-rows of an unknown run": ([*rows, "--keys", "C0001", "--run", "nope-1"], "nope-1"),
        "forget-values of an unknown column": (
            [
                "forget-values",
                "--source",
                "mails",
                "--column",
                "subjekt",
                "--keys",
                "M00007",
                "--run",
                run_id,
            ],
            "subjekt",
        ),
        "forget-values of unknown keys": ([*values, "--keys", "M99999", "--run", run_id], "M99999"),
        "forget-rows of an unknown source": (
            ["forget-rows", "--source", "clients", "--keys", "C0001", "--all-affected"],
            "clients",
        ),
        "forget-rows of keys reaching no row": (
            [*rows, "--where", "country == 'XX'", "--run", run_id],
            "reach no row",
        ),
        "verify-forgotten of an unknown source": (
            ["verify-forgotten", "--source", "clients", "--keys", "C0001"],
            "clients",
        ),
    }


BAD_COMMANDS = [
    "affected with keys and where",
    "forget-values with keys and where",
    "forget-rows with keys and where",
    "verify-forgotten with keys and where",
    "forget-values without keys or where",
    "forget-values without runs",
    "forget-rows without runs",
    "forget-values with runs and all-affected",
    "forget-values of an unknown run",
    "forget-rows of an unknown run",
    "forget-values of an unknown column",
    "forget-values of unknown keys",
    "forget-rows of an unknown source",
    "forget-rows of keys reaching no row",
    "verify-forgotten of an unknown source",
]


@pytest.mark.parametrize("case", BAD_COMMANDS)
def test_bad_input_exits_non_zero_with_a_message_and_changes_nothing(untouched, case):
    store, run_id, *_ = untouched
    args, named = _bad_commands(run_id)[case]
    version, before = store.run(run_id).version, snapshot(store)

    result = invoke(*args, "--json", "--store", store.root)

    assert result.exit_code != 0, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert store.run(run_id).version == version
    assert snapshot(store) == before
