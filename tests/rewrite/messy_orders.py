"""A small messy pipeline of the kind ``lester rewrite`` meets, its data (generated), a
correct hand-written Lester rewrite and wrong ones, and a differential check that really
runs both and compares their outputs.

The script joins orders with customers through a dict, drops non-positive amounts and
customers from country ``XX``, writes a headerless TSV, then standardises the amount
(population std), one-hot encodes the segment in a hand-made index order and appends the
note length in characters; the label is ``amount > 100``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lester.pipeline import load_pipeline

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
DATAPREP_HARDCODED = textwrap.dedent(
    """\
    import lester as lt


    def _lester_dataprep():
        customers = lt.read_csv('data/customers.csv', primary_key='customer_id')
        customers = customers.filter("country != 'XX'")
        orders = lt.read_csv('data/orders.csv', primary_key='order_id')
        orders = orders.filter('amount > 0')
        result_df = lt.join(orders, customers, on='customer_id')
        result_df = result_df.project(target_column='note_length', source_columns=['note'],
                                      func=lambda row: len(row['note']))
        return result_df[['order_id', 'segment', 'country', 'amount', 'note_length']]
    """
)

DATAPREP = textwrap.dedent(
    """\
    import lester as lt


    def _lester_dataprep(customers_path, orders_path):
        customers = lt.read_csv(customers_path, name='customers', primary_key='customer_id')
        customers = customers.filter("country != 'XX'")
        orders = lt.read_csv(orders_path, name='orders', primary_key='order_id')
        orders = orders.filter('amount > 0')
        result_df = lt.join(orders, customers, on='customer_id')
        result_df = result_df.project(target_column='note_length', source_columns=['note'],
                                      func=lambda row: len(row['note']))
        return result_df[['order_id', 'segment', 'country', 'amount', 'note_length']]
    """
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
@dataclass
class DifferentialVerdict:
    """The verdict of :class:`DifferentialCheck` (the verifier's interface)."""

    equivalent: bool
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "equivalent" if self.equivalent else f"not equivalent: {self.problems[0]}"

    def feedback(self) -> str:
        return "\n".join(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"equivalent": self.equivalent, "problems": self.problems}


class DifferentialCheck:
    """Runs the messy script (a real subprocess in a copy of its folder) once, then runs
    each candidate pipeline for real and compares the prepared rows as a multiset, X and
    y within 1e-9."""

    def __init__(
        self, folder: Path, sources: dict[str, Path], work: Path, header: bool = False
    ) -> None:
        self.sources = sources
        self.work = work
        completed = subprocess.run(
            [sys.executable, "messy.py"], cwd=folder, capture_output=True, text=True, timeout=60
        )
        if completed.returncode != 0:
            raise AssertionError(f"the messy script failed: {completed.stderr}")
        out = folder / "out"
        lines = (out / "prepared.tsv").read_text(encoding="utf-8").splitlines()[int(header) :]
        self.expected_rows = Counter(_normalise(line.split("\t")) for line in lines)
        self.expected_X = np.load(out / "X.npy")
        self.expected_y = np.load(out / "y.npy")
        self.calls = 0

    def __call__(self, code: str) -> DifferentialVerdict:
        self.calls += 1
        path = self.work / f"candidate_{self.calls}.py"
        path.write_text(code, encoding="utf-8")
        try:
            pipeline = load_pipeline(path)
            frame = pipeline.dataprep(
                **pipeline.dataprep_arguments({name: str(p) for name, p in self.sources.items()})
            )
            data = frame.to_pandas()
            X = np.asarray(pipeline.encode_features().fit_transform(data), dtype=float)
            y = np.asarray(pipeline.extract_label(data), dtype=float)
        except Exception as error:
            return DifferentialVerdict(
                False, [f"the rewrite fails: {type(error).__name__}: {error}"]
            )
        problems = self._compare_rows(data)
        if X.shape != self.expected_X.shape or not np.allclose(X, self.expected_X, atol=1e-9):
            problems.append(f"X differs: shape {X.shape} vs {self.expected_X.shape}")
        if y.shape != self.expected_y.shape or not np.allclose(y, self.expected_y, atol=1e-9):
            problems.append("y differs")
        return DifferentialVerdict(not problems, problems)

    def _compare_rows(self, data: Any) -> list[str]:
        actual = Counter(_normalise(row) for row in data.itertuples(index=False))
        if actual == self.expected_rows:
            return []
        extra = list((actual - self.expected_rows).elements())[:3]
        missing = list((self.expected_rows - actual).elements())[:3]
        return [
            "prepared data differs; first rows only in the rewrite: "
            f"{extra}; first rows only in the original: {missing}"
        ]


def _normalise(values: Any) -> tuple[str, ...]:
    cells = []
    for value in values:
        text = str(value)
        try:
            cells.append(repr(round(float(text), 9)))
        except ValueError:
            cells.append(text)
    return tuple(cells)
