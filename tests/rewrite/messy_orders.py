"""A small messy pipeline of the kind ``lester rewrite`` meets, its data (generated), a
correct hand-written Lester rewrite and wrong ones, and the real verifier to check them.

The script joins orders with customers through a dict, drops non-positive amounts and
customers from country ``XX``, writes a headerless TSV, then standardises the amount
(population std), one-hot encodes the segment in a hand-made index order and appends the
note length in characters; the label is ``amount > 100``.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from typing import Any

from lester.rewrite.verify import Verdict, verify_rewrite

MESSY_SCRIPT = textwrap.dedent(
    """\
    import os
    import numpy as np

    SEGMENTS = {'retail': 0, 'business': 1}

    customers = {}
    for line in open('data/customers.csv').readlines()[1:]:
        customer_id, segment, country = line.strip().split(',')
        if country != 'XX':
            customers[customer_id] = (segment, country)

    rows = []
    with open('data/orders.csv') as f:
        f.readline()
        for line in f:
            order_id, customer_id, amount, note = line.strip().split(',')
            amount = float(amount)
            if amount <= 0:
                continue
            if customer_id in customers:
                segment, country = customers[customer_id]
                rows.append([order_id, segment, country, amount, len(note)])

    os.makedirs('out', exist_ok=True)
    with open('out/prepared.tsv', 'w') as out:
        for row in rows:
            out.write('\\t'.join(str(v) for v in row) + '\\n')

    amounts = np.array([row[3] for row in rows])
    scaled = (amounts - amounts.mean()) / amounts.std()
    onehot = np.zeros((len(rows), len(SEGMENTS)))
    for i, row in enumerate(rows):
        onehot[i, SEGMENTS[row[1]]] = 1.0
    lengths = np.array([[row[4]] for row in rows], dtype=float)
    X = np.concatenate([scaled.reshape(-1, 1), onehot, lengths], axis=1)
    y = np.array([1.0 if row[3] > 100 else 0.0 for row in rows])
    np.save('out/X.npy', X)
    np.save('out/y.npy', y)
    """
)

OUTPUT_COLUMNS = ["order_id", "segment", "country", "amount", "note_length"]

_WORDS = ["late", "gift", "fragile", "express", "blue", "box", "call", "first", "door"]


def write_case(folder: Path, seed: int = 7) -> dict[str, Path]:
    """Write ``messy.py`` and its data into ``folder``; return the sources."""
    rng = random.Random(seed)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (folder / "messy.py").write_text(MESSY_SCRIPT, encoding="utf-8")
    customers = ["customer_id,segment,country"]
    for number in range(1, 31):
        country = rng.choice(["DE", "FR", "UK", "XX"])
        customers.append(f"C{number:03d},{rng.choice(['retail', 'business'])},{country}")
    orders = ["order_id,customer_id,amount,note"]
    for number in range(1, 121):
        customer = f"C{rng.randint(1, 34):03d}"  # 31-34 are unknown customers
        amount = rng.choice([0.0, -5.0]) if number % 11 == 0 else round(rng.uniform(1, 250), 2)
        note = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
        orders.append(f"O{number:04d},{customer},{amount:.2f},{note}")
    (data / "customers.csv").write_text("\n".join(customers) + "\n", encoding="utf-8")
    (data / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    return {"customers": data / "customers.csv", "orders": data / "orders.csv"}


# ---------------------------------------------------------------------------- answers
DATAPREP = textwrap.dedent(
    """\
    import lester as lt

    # Every field as text, as the script splits it: an empty field stays ''.
    TEXT = {'dtype': str, 'keep_default_na': False}


    def _lester_dataprep(customers_path, orders_path):
        customers = lt.read_csv(customers_path, name='customers', **TEXT)
        customers = customers.filter("country != 'XX'")
        # The script's dict keeps the last customer row per id.
        customers = customers.project(
            target_column='last_of_id', source_columns=['customer_id'],
            func=lambda df: ~df['customer_id'].duplicated(keep='last'), vectorized=True)
        customers = customers.filter('last_of_id')
        orders = lt.read_csv(orders_path, name='orders', **TEXT)
        orders = orders.project(target_column='amount', source_columns=['amount'],
                                func=lambda row: float(row['amount']))
        orders = orders.filter('amount > 0')
        result_df = lt.join(orders, customers, on='customer_id')
        result_df = result_df.project(target_column='note_length', source_columns=['note'],
                                      func=lambda row: len(row['note']))
        return result_df[['order_id', 'segment', 'country', 'amount', 'note_length']]
    """
)

# The first answers of the chain still read hard-coded paths; the path refinement fixes that.
DATAPREP_HARDCODED = (
    DATAPREP.replace("(customers_path, orders_path)", "()")
    .replace("customers_path, name='customers'", "'data/customers.csv'")
    .replace("orders_path, name='orders'", "'data/orders.csv'")
)

# The paper's trap: a length in characters silently becomes a length in words.
DATAPREP_WORDS = DATAPREP.replace("len(row['note'])", "len(row['note'].split())")

FEATURES = textwrap.dedent(
    """\
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler


    def encode_features():
        return ColumnTransformer([
            ('amount', StandardScaler(), ['amount']),
            ('segment', OneHotEncoder(categories=[['retail', 'business']], sparse_output=False,
                                      handle_unknown='ignore'), ['segment']),
            ('note_length', 'passthrough', ['note_length']),
        ])
    """
)

LABELS = textwrap.dedent(
    """\
    import numpy as np
    from sklearn.linear_model import LogisticRegression


    def extract_label(df):
        return (df['amount'] > 100).astype(float).to_numpy()


    def create_model(num_features):
        return LogisticRegression()
    """
)

CORRECT_MODULE = "\n\n".join([DATAPREP, FEATURES, LABELS])
WRONG_MODULE = "\n\n".join([DATAPREP_WORDS, FEATURES, LABELS])


def fenced(code: str, prose: str = "Here is the rewritten code:") -> str:
    """An answer as chat models write them: prose and a fenced block."""
    return f"{prose}\n\n```python\n{code}```\n"


def chain_answers(dataprep: str = DATAPREP) -> list[str]:
    """Answers to the six prompts of round 1: the data preparation (its first answers
    still read hard-coded paths, the path refinement fixes that), features, labels."""
    return [
        fenced(DATAPREP_HARDCODED),
        fenced(DATAPREP_HARDCODED),
        fenced(DATAPREP_HARDCODED),
        fenced(dataprep),
        fenced(FEATURES),
        fenced(LABELS),
    ]


# ---------------------------------------------------------------------------- checking
class CountingVerifier:
    """The real verifier, :func:`lester.rewrite.verify.verify_rewrite`, on one script; it
    counts its calls. ``options`` go to the verifier (``edge_cases=False, minimize=False``
    keeps a test fast when edge cases are not what it is about)."""

    def __init__(self, script: Path, sources: dict[str, Path], **options: Any) -> None:
        self.script, self.sources, self.options = script, sources, options
        self.calls = 0

    def __call__(self, code: str) -> Verdict:
        self.calls += 1
        return verify_rewrite(self.script, code, sources=self.sources, **self.options)
