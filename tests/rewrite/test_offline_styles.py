"""The offline rules generalise: messy scripts in other styles than the four visible cases
(helper functions with the csv module and two same-schema files; a notebook export with
';' files, comprehensions and a counting dict) rewrite to verified-equivalent pipelines.

Each test writes its own data (seeded, with duplicates, unknown keys and empty fields)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from lester.rewrite.api import rewrite_script

STYLES = Path(__file__).parent / "messy_styles"


def _write(path: Path, header: list[str], rows: list[list[object]], sep: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [sep.join(header)] + [sep.join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def tickets_folder(folder: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    agents = [[f"A{i}", rng.choice(["billing", "tech", "sales"])] for i in range(12)]
    agents.append(["A3", "escalations"])  # a duplicate agent id: the last row wins
    _write(folder / "data" / "agents.csv", ["agent_id", "team"], agents)
    tags = ["billing", "login", "refund", "bug"]
    for quarter, first in (("q1", 0), ("q2", 70)):
        rows = []
        for i in range(first, first + 100):
            tag_list = "|".join(rng.sample(tags, rng.randint(0, 2)))
            agent = f"A{rng.randint(0, 15)}"  # A12..A15 are unknown: 'unassigned'
            rows.append(
                [
                    f"T{i}",
                    agent,
                    rng.choice(["low", "medium", "high"]),
                    rng.randint(1, 300),
                    tag_list,
                ]
            )
        _write(
            folder / "data" / f"tickets_{quarter}.csv",
            ["ticket_id", "agent_id", "priority", "minutes", "tags"],
            rows,
        )
    shutil.copy(STYLES / "tickets.py", folder / "messy.py")
    return folder


def shop_folder(folder: Path, seed: int = 11) -> Path:
    rng = random.Random(seed)
    customers = [
        [f"C{i}", rng.choice(["retail", "pro", "edu"]), rng.randint(2015, 2023)] for i in range(40)
    ]
    customers.append(["C5", "pro", 2024])  # duplicate: the last one wins
    _write(
        folder / "data" / "customers.csv",
        ["customer_id", "segment", "signup_year"],
        customers,
        sep=";",
    )
    orders = [
        [
            f"O{i}",
            f"C{rng.randint(0, 45)}",
            rng.choice(["0", "-5.5", "12.5", "99.99", str(rng.randint(1, 500))]),
        ]
        for i in range(300)
    ]
    _write(folder / "data" / "orders.csv", ["order_id", "customer_id", "amount"], orders, sep=";")
    shutil.copy(STYLES / "shop_notebook.py", folder / "messy.py")
    return folder


def sensors_folder(folder: Path, seed: int = 5) -> Path:
    rng = random.Random(seed)
    stations = [[i, rng.randint(0, 2500), rng.randint(1, 4)] for i in range(20)]
    stations.append([7, 999, 2])  # a duplicate station: the last row wins
    lines = ["station elevation zone"] + [" ".join(map(str, s)) for s in stations]
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "stations.txt").write_text("\n".join(lines) + "\n")
    readings = []
    for _ in range(400):
        readings.append(
            [
                rng.randint(0, 24),
                rng.randint(0, 23),
                rng.choice([-99.0, round(rng.uniform(-10, 40), 1)]),
            ]
        )
    readings += readings[:30]  # repeated readings: the set keeps one
    _write(folder / "data" / "readings.csv", ["station", "hour", "temp"], readings)
    shutil.copy(STYLES / "sensors.py", folder / "messy.py")
    return folder


def test_numpy_loading_a_set_of_rows_and_a_most_frequent_key(tmp_path):
    folder = sensors_folder(tmp_path)
    outcome = rewrite_script(folder / "messy.py")

    assert outcome.gaps == []
    details = " ".join(step.detail for step in outcome.steps)
    assert "np.loadtxt/genfromtxt" in details and "distinct()" in details
    assert "argmax" in {step.rule for step in outcome.steps}
    assert outcome.equivalent, outcome.verdict.feedback()


def test_helper_functions_csv_module_union_seen_set_and_explode(tmp_path):
    folder = tickets_folder(tmp_path)
    outcome = rewrite_script(folder / "messy.py")

    assert outcome.gaps == []
    rules = {step.rule for step in outcome.steps}
    assert {"union", "distinct", "explode", "join", "StandardScaler", "OneHotEncoder"} <= rules
    assert "SampleStandardScaler(ddof=1)" in outcome.code
    assert outcome.equivalent, outcome.verdict.feedback()


def test_notebook_export_with_comprehensions_and_a_counting_dict(tmp_path):
    folder = shop_folder(tmp_path)
    outcome = rewrite_script(folder / "messy.py")

    assert outcome.gaps == []
    rules = {step.rule for step in outcome.steps}
    assert {"comprehension", "groupby", "join", "MinMaxScaler", "OneHotEncoder"} <= rules
    assert outcome.equivalent, outcome.verdict.feedback()


def test_a_rewritten_pipeline_runs_with_the_runner_and_carries_provenance(tmp_path):
    import lester as lt

    folder = tickets_folder(tmp_path / "tickets")
    outcome = rewrite_script(folder / "messy.py", edge_cases=False)
    assert outcome.equivalent
    module = tmp_path / "pipeline.py"
    module.write_text(outcome.code)
    sources = {name: folder / path for name, path in outcome.sources.items()}

    result = lt.run(module, sources, store=tmp_path / "store", quiet=True)

    prepared = result.outputs.prepared
    assert set(prepared.sources) == {"agents", "tickets_q1", "tickets_q2"}
    assert ["agents.team"] in prepared.column_provenance.values()
    assert "agents.agent_id" in prepared.row_dependencies
    polynomials = [prepared.provenance_of(i) for i in range(len(prepared))]
    assert any("*agents[" in p for p in polynomials)  # a ticket joined with its agent
    assert result.outputs.X_train.shape[1] == 5
