"""verify_rewrite on the four messy cases (reference rewrites are equivalent) and on small
generated scripts (differences are found, reduced and explained)."""

from __future__ import annotations

import json
import textwrap

import pytest

from lester.rewrite.verify import (
    OriginalScriptError,
    VerificationError,
    find_sources,
    verify_rewrite,
)
from tests.rewrite.conftest import CASES, messy_script, reference_code

# prepared rows per case, from each CASE.md
PREPARED_ROWS = {"creditcard": 489, "healthcare": 575, "loans": 1180, "reviews": 669}


@pytest.mark.parametrize("case", CASES)
def test_reference_rewrite_is_equivalent(case):
    messages = []
    verdict = verify_rewrite(messy_script(case), reference_code(case), progress=messages.append)
    assert verdict.equivalent, verdict.summary()
    real = verdict.cases[0]
    assert (real.kind, real.status) == ("real", "equivalent")
    assert real.rows_original == real.rows_rewrite == PREPARED_ROWS[case]
    edge = [c for c in verdict.cases if c.kind == "edge" and c.status == "equivalent"]
    assert len(edge) >= 4, verdict.summary()
    assert verdict.difference is None
    assert len(messages) == len(verdict.cases)
    assert "EQUIVALENT on" in verdict.summary()


def test_find_sources_takes_the_inputs_not_the_outputs():
    assert find_sources(messy_script("creditcard")) == {
        "customers": "data/customers.csv",
        "mails": "data/mails.csv",
    }


def test_a_sample_keeps_join_partners():
    verdict = verify_rewrite(messy_script("creditcard"), reference_code("creditcard"),
                             sample_rows=300, edge_cases=False)  # fmt: skip
    [case] = verdict.cases
    assert (case.kind, case.status) == ("sample", "equivalent")
    assert 50 < case.rows_original < PREPARED_ROWS["creditcard"]


def test_a_real_difference_is_reduced_to_a_small_input():
    wrong = reference_code("creditcard").replace('keep="last"', 'keep="first"')
    verdict = verify_rewrite(messy_script("creditcard"), wrong, max_reduction_runs=40)
    assert not verdict.equivalent
    difference = verdict.difference
    assert difference.case == "real inputs" and difference.reduced
    # the two rows of one duplicated e-mail and one of its mails
    assert difference.input_records == {"data/customers.csv": 2, "data/mails.csv": 1}
    assert difference.reduction_runs <= 40
    assert "only in the original" in difference.details
    assert "customers[" in difference.details  # the rewrite's rows name their source tuples


MESSY = """
import os
import numpy as np
levels = {}
for line in open('data/customers.csv').read().splitlines()[1:]:
    cid, name, level = line.split(',')
    levels[name] = level            # the last row of a name wins
rows = []
for line in open('data/orders.csv').read().splitlines()[1:]:
    oid, name, amount = line.split(',')
    if name in levels and float(amount) > 10:
        rows.append((name, levels[name], float(amount)))
os.makedirs('out', exist_ok=True)
with open('out/prepared.tsv', 'w') as out:
    for r in rows:
        out.write('\\t'.join(str(v) for v in r) + '\\n')
amounts = np.array([r[2] for r in rows])
np.save('out/X.npy', ((amounts - amounts.mean()) / amounts.std()).reshape(-1, 1))
np.save('out/y.npy', np.array([1.0 if r[1] == 'gold' else 0.0 for r in rows]))
"""

PIPELINE = """
import lester as lt
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import StandardScaler

def _lester_dataprep(customers_path, orders_path):
    customers = lt.read_csv(customers_path, name="customers", dtype=str, keep_default_na=False)
    customers = customers.project("last", ["name"],
        lambda df: ~df["name"].duplicated(keep="last"), vectorized=True)
    customers = customers.filter("last").rename(columns={"name": "customer"})
    orders = lt.read_csv(orders_path, name="orders", dtype={"name": str})
    orders = orders.filter("amount > 10")
    rows = lt.join(orders, customers[["customer", "level"]], left_on="name", right_on="customer")
    return rows[["name", "level", "amount"]]

def encode_features():
    return ColumnTransformer([("amount", StandardScaler(), ["amount"])])

def extract_label(df):
    return (df["level"] == "gold").astype(float).to_numpy()
"""


@pytest.fixture
def shop(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    names = [f"n{i}" for i in range(40)]
    customers = (
        ["cid,name,level"]
        + [f"c{i},{name},{'gold' if i % 3 == 0 else 'basic'}" for i, name in enumerate(names)]
        + ["c99,n7,gold"]
    )  # a duplicate name: n7 was basic, its last row says gold
    orders = ["oid,name,amount"] + [f"o{i},{names[i % 40]},{5 + i % 30}.5" for i in range(120)]
    (data / "customers.csv").write_text("\n".join(customers) + "\n")
    (data / "orders.csv").write_text("\n".join(orders) + "\n")
    (tmp_path / "messy.py").write_text(MESSY)
    return tmp_path / "messy.py"


def test_small_script_equivalent_with_edge_cases(shop):
    verdict = verify_rewrite(shop, PIPELINE)
    assert verdict.equivalent, verdict.summary()
    names = [case.name for case in verdict.cases]
    assert {"duplicate key: customers", "unseen category: customers"} <= set(names)
    assert json.loads(json.dumps(verdict.to_dict()))["equivalent"] is True


def test_first_duplicate_wins_is_found_and_reduced(shop):
    wrong = PIPELINE.replace('keep="last"', 'keep="first"')
    verdict = verify_rewrite(shop, wrong)
    assert not verdict.equivalent
    difference = verdict.difference
    assert difference.reduced
    # the duplicate customer (both of its rows) and one of its orders show it
    assert difference.input_records == {"data/customers.csv": 2, "data/orders.csv": 1}
    assert "n7" in difference.inputs["data/orders.csv"]
    feedback = verdict.feedback()
    assert "'gold'" in feedback and "'basic'" in feedback
    assert "NOT EQUIVALENT" in verdict.summary()


def test_a_crashing_rewrite_is_reported_with_its_error(shop):
    wrong = PIPELINE.replace('(df["level"] == "gold")', 'df["levle"]')
    verdict = verify_rewrite(shop, wrong, edge_cases=False, minimize=False)
    assert [case.status for case in verdict.cases] == ["rewrite fails"]
    assert "KeyError" in verdict.feedback() and "levle" in verdict.feedback()


def test_edge_cases_the_original_fails_on_do_not_count(shop):
    verdict = verify_rewrite(shop, PIPELINE)
    failing = [case for case in verdict.cases if case.status == "original fails"]
    assert failing  # an empty orders file: numpy cannot standardise no amounts
    assert verdict.equivalent
    assert "not counted" in verdict.summary()


def test_a_declared_key_that_an_edge_case_duplicates_is_skipped(shop):
    keyed = PIPELINE.replace('name="customers",', 'name="customers", primary_key="cid",')
    verdict = verify_rewrite(shop, keyed)
    [case] = [c for c in verdict.cases if c.name == "duplicate key: customers"]
    assert case.status == "skipped" and "primary key" in case.detail
    assert verdict.equivalent


def test_an_original_that_fails_on_its_own_inputs_is_an_error(shop):
    shop.write_text("raise RuntimeError('broken script')\n" + MESSY)
    with pytest.raises(OriginalScriptError, match="broken script"):
        verify_rewrite(shop, PIPELINE, sources={"customers": "data/customers.csv",
                                                "orders": "data/orders.csv"})  # fmt: skip


def test_sources_must_be_files_inside_the_script_folder(shop, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "orders.csv"
    elsewhere.write_text("oid,name,amount\n")
    with pytest.raises(VerificationError, match="outside the script's folder"):
        verify_rewrite(shop, PIPELINE, sources={"orders": elsewhere})
    with pytest.raises(VerificationError, match="is not a file"):
        verify_rewrite(shop, PIPELINE, sources={"orders": "data/missing.csv"})


def test_a_script_that_reads_no_files_is_an_error(tmp_path):
    script = tmp_path / "messy.py"
    script.write_text(textwrap.dedent("print('no inputs')\n"))
    with pytest.raises(VerificationError, match="reads no data file"):
        verify_rewrite(script, PIPELINE)
