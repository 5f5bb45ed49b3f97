"""``lt.run`` and ``lester run`` on small scikit-learn pipelines: every stored artifact loaded
back from the store, the SQLite catalog, determinism, and bad input that leaves no run behind."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from click.testing import CliRunner
from sklearn.metrics import accuracy_score

import lester as lt
from lester.cli import main
from lester.errors import LesterError, SchemaError, SourceReadError
from lester.pipeline import PipelineError, load_pipeline
from lester.runner import RunError, RunResult
from lester.store import Run, Store, StoreError, UntrustedTypeError
from tests.runner.conftest import (
    DATAPREP,
    DENSE_ENCODER,
    Sources,
    customers_frame,
    pipeline_code,
    write_pipeline,
    write_sources,
)

NUMERIC = ["age", "income", "balance"]
PREPARED_COLUMNS = ["age", "income", "country", "balance", "churned"]
SPARSE_ENCODER = """
def encode_features():
    return ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["country", "age"])])
"""
STRICT_ENCODER = DENSE_ENCODER.replace('handle_unknown="ignore"', 'handle_unknown="error"')
STRING_LABEL = """
def extract_label(df):
    return df["churned"].map({0: "stays", 1: "churns"}).to_numpy()
"""
DISTINCT_DATAPREP = """
def _lester_dataprep(customers_path, accounts_path):
    customers = lt.read_csv(customers_path, name="customers")
    accounts = lt.read_csv(accounts_path, name="accounts")
    merged = lt.join(accounts, customers, on="customer_id")
    merged = merged[["age", "income", "country", "balance", "churned"]]
    return lt.union([merged, merged]).distinct()
"""


@dataclass(frozen=True, repr=False)
class Captured:
    result: RunResult
    store: Store
    run: Run
    sources: Sources
    pipeline_path: Path
    prepared: lt.TrackedFrame


def prepare(pipeline_path: Path, sources: dict[str, str]) -> lt.TrackedFrame:
    """The pipeline's prepared data, computed independently of the runner."""
    pipeline = load_pipeline(pipeline_path)
    return pipeline.dataprep(**pipeline.dataprep_arguments(sources))


def run_into(folder: Path, pipeline_path: Path, sources: Sources, seed: int = 42) -> Run:
    result = lt.run(
        pipeline_path, sources.as_dict(), store=folder / ".lester", seed=seed, quiet=True
    )
    return Store(folder / ".lester").open_run(result.run_id)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    folder = tmp_path_factory.mktemp("run")
    sources = write_sources(folder / "data")
    path = write_pipeline(folder)
    result = lt.run(path, sources=sources.as_dict(), store=folder / ".lester", seed=42, quiet=True)
    store = Store(folder / ".lester")
    prepared = prepare(path, sources.as_dict())
    return Captured(result, store, store.open_run(result.run_id), sources, path, prepared)


def rendered_provenance(run: Run, split: str) -> list[str]:
    """Each row's polynomial, rendered from the stored provenance table and source keys."""
    table = run.table(f"{split}/provenance")
    slots = run.json("provenance")["slots"][split]
    keys = {source: run.table(f"sources/{source}/keys").iloc[:, 0].tolist() for _, source in slots}
    owners = table["__owner"].tolist() if "__owner" in table else list(range(len(table)))
    terms: dict[int, list[str]] = {}
    for owner, (_, monomial) in zip(owners, table.iterrows(), strict=True):
        factors = [
            f"{source}[{keys[source][monomial[slot]]}]"
            for slot, source in slots
            if monomial[slot] != -1
        ]
        terms.setdefault(owner, []).append("*".join(factors))
    return [" + ".join(terms[row]) for row in sorted(terms)]


def provenance_rows(keys: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(row) for row in np.asarray(keys).tolist()}


# ------------------------------------------------------------------------- the run itself
def test_run_is_in_the_catalog_with_its_metrics(captured):
    records = captured.store.runs()
    assert [record.run_id for record in records] == [captured.result.run_id]
    assert records[0].pipeline == "churn"
    assert records[0].version == 1
    assert records[0].metrics == captured.result.metrics


def test_catalog_is_a_sqlite_database(captured):
    path = captured.store.root / "catalog.sqlite"
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT run_id, pipeline FROM runs").fetchall()
    assert rows == [(captured.result.run_id, "churn")]


@pytest.mark.parametrize(
    ("artifact", "extension"),
    [
        ("train/data", "arrow"),
        ("test/data", "arrow"),
        ("train/provenance", "arrow"),
        ("test/provenance", "arrow"),
        ("sources/customers/keys", "arrow"),
        ("train/X", "npy"),
        ("test/X", "npy"),
        ("train/y", "npy"),
        ("test/y", "npy"),
        ("test/predictions", "npy"),
        ("encoders", "skops"),
        ("model", "skops"),
        ("provenance", "json"),
        ("features", "json"),
        ("metrics", "json"),
        ("sources", "json"),
        ("environment", "json"),
    ],
)
def test_artifact_is_stored_in_its_format(captured, artifact, extension):
    parts = captured.run.artifact(artifact).parts
    assert parts
    assert all(part.path.endswith(f".{extension}") for part in parts)


def test_store_verifies_every_file_of_the_run(captured):
    assert captured.store.verify(captured.result.run_id) >= 20


# ------------------------------------------------------------------------- relational data
@pytest.mark.parametrize("split", ["train", "test"])
def test_stored_data_equals_the_split_frame(captured, split):
    frame = getattr(captured.result.outputs, split)
    pd.testing.assert_frame_equal(captured.run.table(f"{split}/data"), frame.to_pandas())


def test_split_is_the_seeded_split_of_the_prepared_data(captured):
    train, test = captured.prepared.split(test_size=0.2, seed=42)
    pd.testing.assert_frame_equal(captured.run.table("train/data"), train.to_pandas())
    pd.testing.assert_frame_equal(captured.run.table("test/data"), test.to_pandas())
    assert captured.run.table("train/data").columns.tolist() == PREPARED_COLUMNS


@pytest.mark.parametrize("split", ["train", "test"])
def test_stored_provenance_reproduces_the_polynomials(captured, split):
    frame = getattr(captured.result.outputs, split)
    expected = [frame.provenance_of(row) for row in range(len(frame))]
    assert rendered_provenance(captured.run, split) == expected
    assert expected[0].startswith("accounts[A") and "*customers[1" in expected[0]


def test_provenance_rows_stay_aligned_with_data_rows(captured):
    data = captured.run.table("test/data")
    provenance = captured.run.table("test/provenance")
    customers = pd.read_csv(captured.sources.customers)
    keys = captured.run.table("sources/customers/keys")["customer_id"].to_numpy()
    source_rows = customers.set_index("customer_id").loc[keys[provenance["customers"]]]
    assert data["age"].tolist() == source_rows["age"].tolist()
    assert data["country"].tolist() == source_rows["country"].tolist()


def test_train_and_test_rows_are_disjoint_and_cover_the_prepared_rows(captured):
    train = captured.run.table("train/provenance")[["accounts", "customers"]].to_numpy()
    test = captured.run.table("test/provenance")[["accounts", "customers"]].to_numpy()
    assert not provenance_rows(train) & provenance_rows(test)
    assert provenance_rows(train) | provenance_rows(test) == provenance_rows(
        captured.prepared.provenance.keys
    )
    assert len(train) + len(test) == len(captured.prepared)
    assert 0.1 < len(test) / len(captured.prepared) < 0.3


def test_column_provenance_and_row_dependencies_are_stored(captured):
    provenance = captured.run.json("provenance")
    assert provenance["column_provenance"] == captured.prepared.column_provenance
    assert provenance["column_provenance"]["country"] == ["customers.country"]
    assert provenance["row_dependencies"] == [
        "accounts.customer_id",
        "customers.age",
        "customers.customer_id",
    ]
    assert provenance["label_columns"] == ["churned"]


def test_sums_of_monomials_are_stored_with_their_owner_rows(tmp_path, sources):
    path = write_pipeline(tmp_path, "doubled", dataprep=DISTINCT_DATAPREP)
    result = lt.run(path, sources.as_dict(), store=tmp_path / ".lester", quiet=True)
    run = Store(tmp_path / ".lester").open_run(result.run_id)
    train = result.outputs.train
    assert "__owner" in run.table("train/provenance").columns
    assert rendered_provenance(run, "train") == [train.provenance_of(i) for i in range(len(train))]
    assert " + " in rendered_provenance(run, "train")[0]


# ------------------------------------------------------------------------- matrices
def test_matrix_column_provenance_and_feature_names(captured):
    features = captured.run.json("features")
    assert features["n_features"] == 7
    assert features["columns"] == {
        "age": [[0, 1]],
        "income": [[1, 2]],
        "balance": [[2, 3]],
        "country": [[3, 7]],
    }
    names = [name for block in features["blocks"] for name in block["feature_names"]]
    assert names[:3] == ["numeric__age", "numeric__income", "numeric__balance"]
    assert names[3:] == [f"country__country_{c}" for c in ["DE", "FR", "UK", "US"]]


def test_train_matrix_has_one_row_per_train_row(captured):
    X = captured.run.matrix("train/X")
    assert X.shape == (len(captured.run.table("train/data")), 7)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, captured.result.outputs.X_train)


@pytest.mark.parametrize("name", ["train/X", "test/X", "train/y", "test/y"])
def test_matrices_load_memory_mapped(captured, name):
    mapped = captured.run.matrix(name, mmap=True)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, captured.run.matrix(name))


@pytest.mark.parametrize("split", ["train", "test"])
def test_labels_are_extracted_from_the_stored_data(captured, split):
    y = captured.run.matrix(f"{split}/y")
    np.testing.assert_array_equal(y, captured.run.table(f"{split}/data")["churned"].to_numpy())


def test_predictions_and_metrics(captured):
    predictions = captured.run.matrix("test/predictions")
    y_test = captured.run.matrix("test/y")
    metrics = captured.run.json("metrics")
    assert len(predictions) == len(captured.run.table("test/data"))
    assert set(metrics) == {"accuracy", "f1", "roc_auc", "n_train", "n_test"}
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_test, predictions))
    assert metrics["n_test"] == len(y_test)
    assert metrics["n_train"] == len(captured.run.matrix("train/y"))


def test_encoders_load_back_and_reproduce_the_test_matrix(captured):
    encoder = captured.run.sklearn("encoders")
    X_test = encoder.transform(captured.run.table("test/data"))
    np.testing.assert_allclose(X_test.astype(np.float32), captured.run.matrix("test/X"), rtol=1e-6)


def test_encoders_are_fitted_on_the_train_split_only(captured):
    scaler = captured.run.sklearn("encoders").named_transformers_["numeric"]
    train = captured.run.table("train/data")[NUMERIC]
    everything = captured.prepared.to_pandas()[NUMERIC]
    np.testing.assert_allclose(scaler.mean_, train.mean().to_numpy())
    assert not np.allclose(scaler.mean_, everything.mean().to_numpy())
    standardised = (train - train.mean()) / train.std(ddof=0)
    np.testing.assert_allclose(captured.run.matrix("train/X")[:, :3], standardised, atol=1e-5)


def test_model_loads_back_and_predicts_the_stored_predictions(captured):
    model = captured.run.sklearn("model")
    X_test = captured.run.matrix("test/X")
    assert type(model).__name__ == "LogisticRegression"
    assert captured.run.json("model/spec") == {"kind": "sklearn", "class": "LogisticRegression"}
    np.testing.assert_array_equal(model.predict(X_test), captured.run.matrix("test/predictions"))
    scores = model.predict_proba(X_test)[:, 1]
    np.testing.assert_allclose(scores, captured.run.matrix("test/scores"), rtol=1e-5)


def test_sparse_features_are_stored_as_npz(tmp_path, sources):
    path = write_pipeline(tmp_path, "sparse", encoder=SPARSE_ENCODER)
    result = lt.run(path, sources.as_dict(), store=tmp_path / ".lester", quiet=True)
    run = Store(tmp_path / ".lester").open_run(result.run_id)
    X = run.matrix("train/X")
    assert scipy.sparse.issparse(X)
    assert all(part.path.endswith(".npz") for part in run.artifact("train/X").parts)
    np.testing.assert_array_equal(X.toarray(), result.outputs.X_train.toarray())
    X_test = run.sklearn("encoders").transform(run.table("test/data")).astype(np.float32)
    np.testing.assert_array_equal(X_test.toarray(), run.matrix("test/X").toarray())


def test_gaussian_naive_bayes_model_round_trips(tmp_path, sources):
    path = write_pipeline(tmp_path, "bayes", model="GaussianNB()")
    result = lt.run(path, sources.as_dict(), store=tmp_path / ".lester", quiet=True)
    run = Store(tmp_path / ".lester").open_run(result.run_id)
    model = run.sklearn("model")
    assert type(model).__name__ == "GaussianNB"
    np.testing.assert_array_equal(
        model.predict(run.matrix("test/X")), run.matrix("test/predictions")
    )


def test_string_class_labels(tmp_path, sources):
    path = write_pipeline(tmp_path, "labels", label=STRING_LABEL)
    result = lt.run(path, sources.as_dict(), store=tmp_path / ".lester", quiet=True)
    run = Store(tmp_path / ".lester").open_run(result.run_id)
    y_test, predictions = run.matrix("test/y"), run.matrix("test/predictions")
    assert set(y_test) == {"stays", "churns"}
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(y_test, predictions))


# ------------------------------------------------------------------------- sources, code, env
@pytest.mark.parametrize("name", ["customers", "accounts"])
def test_source_manifest_describes_the_file(captured, name):
    path = Path(captured.sources.as_dict()[name])
    record = {record["name"]: record for record in captured.run.json("sources")}[name]
    assert record["path"] == str(path.resolve())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["size"] == path.stat().st_size
    assert record["rows"] == len(pd.read_csv(path)) == 200
    assert record["schema"] == {c: str(t) for c, t in pd.read_csv(path).dtypes.items()}
    assert record["primary_key"] == {"customers": "customer_id", "accounts": "account_id"}[name]


def test_catalog_sources_match_the_manifest(captured):
    catalog = {source.name: source for source in captured.store.sources(captured.result.run_id)}
    for record in captured.run.json("sources"):
        assert catalog[record["name"]].sha256 == record["sha256"]
        assert catalog[record["name"]].path == record["path"]


def test_pipeline_code_and_its_hash_are_stored(captured):
    code = captured.pipeline_path.read_text(encoding="utf-8")
    digest = hashlib.sha256(captured.pipeline_path.read_bytes()).hexdigest()
    assert captured.run.text("pipeline.py") == code
    assert captured.run.json("pipeline")["code_sha256"] == digest
    assert captured.store.run(captured.result.run_id).pipeline_code_hash == digest
    assert captured.run.json("pipeline")["seed"] == 42


def test_library_versions_are_stored(captured):
    environment = captured.run.json("environment")
    assert environment["pandas"] == pd.__version__
    assert environment["numpy"] == np.__version__
    assert environment["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert "python" in environment


# ------------------------------------------------------------------------- catalog queries
def test_catalog_finds_the_run_by_source_path(captured):
    hits = captured.store.runs_depending_on(source_path=captured.sources.customers)
    assert {hit.run_id for hit in hits} == {captured.result.run_id}
    assert {hit.column for hit in hits} == {"age", "country", "customer_id", "income"}


def test_catalog_column_filter(captured):
    customers = captured.sources.customers
    [country] = captured.store.runs_depending_on(source_path=customers, column="country")
    assert country.run_id == captured.result.run_id
    assert set(country.artifacts) == {"X", "data", "model"}
    [age] = captured.store.runs_depending_on(source_path=customers, column="age")
    assert "rows" in age.artifacts
    assert captured.store.runs_depending_on(source_path=customers, column="notes") == []


def test_catalog_finds_label_dependency_by_sha256(captured):
    sha256 = hashlib.sha256(captured.sources.accounts.read_bytes()).hexdigest()
    [hit] = captured.store.runs_depending_on(sha256=sha256, column="churned")
    assert hit.source == "accounts"
    assert "y" in hit.artifacts


def test_catalog_spans_pipelines_and_runs(tmp_path, sources):
    store = tmp_path / ".lester"
    churn = lt.run(write_pipeline(tmp_path), sources.as_dict(), store=store, quiet=True)
    bayes_path = write_pipeline(tmp_path, "bayes", model="GaussianNB()")
    bayes = lt.run(bayes_path, sources.as_dict(), store=store, quiet=True)
    catalog = Store(store)
    assert catalog.pipelines() == ["bayes", "churn"]
    hits = catalog.runs_depending_on(source_path=sources.customers, column="age")
    assert {hit.run_id for hit in hits} == {churn.run_id, bayes.run_id}
    [only] = catalog.runs_depending_on(
        source_path=sources.customers, pipeline="bayes", column="age"
    )
    assert only.run_id == bayes.run_id


def test_relative_source_paths_are_recorded_absolute(tmp_path, sources, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_pipeline(tmp_path)
    relative = ["--source=customers=data/customers.csv", "--source=accounts=data/accounts.csv"]
    result = invoke("run", "churn.py", *relative, "--store", ".lester", "--quiet")
    assert result.exit_code == 0, result.output
    store = Store(tmp_path / ".lester")
    [record] = store.runs()
    paths = {source.name: source.path for source in store.sources(record.run_id)}
    assert paths == {"customers": str(sources.customers), "accounts": str(sources.accounts)}
    assert store.runs_depending_on(source_path=sources.accounts.resolve(), column="balance")
    assert path.is_file()


def test_pipeline_file_name_with_a_space_can_be_run(tmp_path, sources):
    path = write_pipeline(tmp_path, "churn v2")
    result = lt.run(path, sources.as_dict(), store=tmp_path / ".lester", quiet=True)
    assert [record.run_id for record in Store(tmp_path / ".lester").runs()] == [result.run_id]


# ------------------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_split_and_matrices(captured, tmp_path):
    again = run_into(tmp_path, captured.pipeline_path, captured.sources, seed=42)
    for name in ("train/provenance", "test/provenance", "train/data"):
        pd.testing.assert_frame_equal(again.table(name), captured.run.table(name))
    for name in ("train/X", "test/X", "test/predictions"):
        np.testing.assert_array_equal(again.matrix(name), captured.run.matrix(name))


def test_different_seed_gives_a_different_split(captured, tmp_path):
    other = run_into(tmp_path, captured.pipeline_path, captured.sources, seed=7)
    columns = ["accounts", "customers"]
    test_42 = provenance_rows(captured.run.table("test/provenance")[columns].to_numpy())
    test_7 = provenance_rows(other.table("test/provenance")[columns].to_numpy())
    assert test_42 != test_7
    assert other.json("pipeline")["seed"] == 7


# ------------------------------------------------------------------------- the CLI
def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


def test_cli_run_captures_a_run_and_shows_progress(tmp_path, sources):
    path = write_pipeline(tmp_path)
    result = invoke("run", path, *sources.as_options(), "--store", tmp_path / ".lester")
    assert result.exit_code == 0, result.output
    [record] = Store(tmp_path / ".lester").runs()
    assert record.run_id in result.stdout
    assert "accuracy=" in result.stdout
    assert "data preparation" in result.stderr
    assert "model training" in result.stderr


def test_cli_run_quiet_prints_no_progress(tmp_path, sources):
    path = write_pipeline(tmp_path)
    result = invoke("run", path, *sources.as_options(), "--store", tmp_path / ".lester", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert len(Store(tmp_path / ".lester").runs()) == 1


def test_cli_seed_and_test_size_reach_the_run(tmp_path, sources):
    path = write_pipeline(tmp_path)
    store = tmp_path / ".lester"
    options = ["--seed", "3", "--test-size", "0.5", "--quiet", "--store", store]
    result = invoke("run", path, *sources.as_options(), *options)
    assert result.exit_code == 0, result.output
    run = Store(store).open_run(Store(store).runs()[0].run_id)
    assert run.json("pipeline")["seed"] == 3
    n_test, n_train = run.n_rows("test/data"), run.n_rows("train/data")
    assert n_test / (n_train + n_test) > 0.35


def test_cli_runs_and_show_json(captured):
    store = captured.store.root
    listed = invoke("runs", "--store", store, "--json")
    assert listed.exit_code == 0, listed.output
    assert [run["run_id"] for run in json.loads(listed.stdout)] == [captured.result.run_id]
    shown = invoke("show", captured.result.run_id, "--store", store, "--json")
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert summary["shapes"]["train/X"] == list(captured.run.matrix_shape("train/X"))
    assert summary["matrix_column_provenance"]["columns"]["country"] == [[3, 7]]
    assert summary["column_provenance"]["income"] == ["customers.income"]


def test_cli_runs_table_shows_whole_run_ids_in_80_columns(captured):
    result = invoke("runs", "--store", captured.store.root, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert captured.result.run_id in result.stdout


# ------------------------------------------------------------------------- bad input
@dataclass(frozen=True)
class BadInput:
    """A failing run: what to run, the error it raises, and words its message contains."""

    build: Callable[[Path], tuple[Path, dict[str, str], Path]]
    error: type[LesterError]
    words: tuple[str, ...]


def _defaults(tmp_path: Path, **parts: str) -> tuple[Path, dict[str, str], Path]:
    path = write_pipeline(tmp_path, **parts)
    return path, write_sources(tmp_path / "data").as_dict(), tmp_path / ".lester"


def missing_function(tmp_path: Path):
    path, sources, store = _defaults(tmp_path)
    path.write_text(pipeline_code().replace("def create_model(", "def make_model("))
    return path, sources, store


def missing_source_file(tmp_path: Path):
    path, sources, store = _defaults(tmp_path)
    return path, {**sources, "accounts": str(tmp_path / "no_accounts.csv")}, store


def unknown_source_name(tmp_path: Path):
    path, sources, store = _defaults(tmp_path)
    return path, {**sources, "orders": sources["accounts"]}, store


def schema_mismatch(tmp_path: Path):
    names = 'header=0, names=["customer_id", "age", "income", "country"], '
    dataprep = DATAPREP.replace('name="customers", ', f'name="customers", {names}')
    return _defaults(tmp_path, dataprep=dataprep)


def category_only_in_test(tmp_path: Path):
    """A country that occurs only in rows that the seeded split puts into test."""
    customers = customers_frame()
    path, sources, store = _defaults(tmp_path, encoder=STRICT_ENCODER)
    train, test = prepare(path, sources).split(test_size=0.2, seed=42)
    only_in_test = set(test.source_keys("customers")) - set(train.source_keys("customers"))
    customers.loc[customers["customer_id"] == min(only_in_test), "country"] = "Atlantis"
    write_sources(tmp_path / "data", customers)
    return path, sources, store


def store_under_a_file(tmp_path: Path):
    path, sources, _ = _defaults(tmp_path)
    occupied = tmp_path / "occupied"
    occupied.write_text("not a folder")
    return path, sources, occupied / ".lester"


def dataprep_returns_pandas(tmp_path: Path):
    return _defaults(tmp_path, dataprep=DATAPREP.replace("merged[[", "merged.to_pandas()[["))


def label_of_wrong_length(tmp_path: Path):
    label = "def extract_label(df):\n    return df['churned'].to_numpy()[:-1]\n"
    return _defaults(tmp_path, label=label)


def model_the_store_cannot_save(tmp_path: Path):
    """A model class from outside scikit-learn: skops refuses it after most artifacts are staged."""
    path, sources, store = _defaults(tmp_path, model="MajorityClassifier()")
    code = "from tests.runner.custom_model import MajorityClassifier\n" + path.read_text()
    path.write_text(code)
    return path, sources, store


BAD_INPUTS = {
    "missing function": BadInput(missing_function, PipelineError, ("create_model",)),
    "missing source file": BadInput(missing_source_file, SourceReadError, ("no_accounts.csv",)),
    "unknown source name": BadInput(unknown_source_name, PipelineError, ("'orders'",)),
    "schema mismatch": BadInput(schema_mismatch, SchemaError, ("customers.csv", "names")),
    "category only in test": BadInput(
        category_only_in_test, RunError, ("feature encoding (test)", "Atlantis")
    ),
    "store under a file": BadInput(store_under_a_file, StoreError, ("occupied",)),
    "dataprep returns pandas": BadInput(
        dataprep_returns_pandas, PipelineError, ("DataFrame", "TrackedFrame")
    ),
    "label of wrong length": BadInput(label_of_wrong_length, RunError, ("y has",)),
    "unsaveable model": BadInput(
        model_the_store_cannot_save, UntrustedTypeError, ("MajorityClassifier",)
    ),
}


def assert_no_run(store_path: Path) -> None:
    if not store_path.parent.is_dir():
        assert not store_path.exists()
        return
    assert Store(store_path).runs() == []
    assert list((store_path / "runs").iterdir()) == []
    assert list((store_path / "tmp").iterdir()) == []


def test_category_only_in_test_is_really_only_in_test(tmp_path):
    path, sources, _ = category_only_in_test(tmp_path)
    train, test = prepare(path, sources).split(test_size=0.2, seed=42)
    assert "Atlantis" in set(test.to_pandas()["country"])
    assert "Atlantis" not in set(train.to_pandas()["country"])


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_raises_a_clear_error_and_leaves_no_run(tmp_path, case):
    path, sources, store = case.build(tmp_path)
    with pytest.raises(case.error) as error:
        lt.run(path, sources=sources, store=store, seed=42, quiet=True)
    for word in case.words:
        assert word in str(error.value)
    assert_no_run(store)


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_cli_bad_input_exits_non_zero_and_leaves_no_run(tmp_path, case):
    path, sources, store = case.build(tmp_path)
    options = [f"--source={name}={source}" for name, source in sources.items()]
    result = invoke("run", path, *options, "--store", store, "--quiet")
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    for word in case.words:
        assert word in result.output
    assert_no_run(store)
