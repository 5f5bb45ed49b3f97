"""One pipeline, spelled in the ways messy scripts read, write and standardise: each
spelling rewrites offline to a verified-equivalent pipeline (real inputs only, for speed)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

from lester.rewrite.api import rewrite_script

SCRIPT = textwrap.dedent(
    """
    import csv
    import os
    import statistics

    import numpy as np

    KINDS = {'a': 0, 'b': 1}

    owners = {}
    READ_OWNERS
    rows = []
    READ_ITEMS
        if float(price) <= 0:
            continue
        if owner in owners:
            kind = owners[owner]
            rows.append([item, kind, float(price), len(label)])

    os.makedirs('out', exist_ok=True)
    with open('out/prepared.tsv', 'w') as out:
        for row in rows:
            WRITE

    prices = np.array([row[2] for row in rows])
    scaled = SCALE
    onehot = np.zeros((len(rows), 2))
    for i, row in enumerate(rows):
        onehot[i, KINDS[row[1]]] = 1.0
    X = np.concatenate([scaled.reshape(-1, 1), onehot], axis=1)
    y = np.array([1.0 if row[3] > 4 else 0.0 for row in rows])
    np.save('out/X.npy', X)
    np.save('out/y.npy', y)
    """
)

READ_OWNERS = {
    "readlines": (
        "for line in open('data/owners.csv').readlines()[1:]:\n"
        "    owner, kind = line.strip().split(',')\n"
        "    owners[owner] = kind"
    ),
    "enumerate": (
        "for i, line in enumerate(open('data/owners.csv')):\n"
        "    if i == 0:\n"
        "        continue\n"
        "    owner, kind = line.rstrip('\\n').split(',')\n"
        "    owners[owner] = kind"
    ),
}
READ_ITEMS = {
    "handle": (
        "with open('data/items.csv') as f:\n"
        "    f.readline()\n"
        "    lines = f.readlines()\n"
        "for line in lines:\n"
        "    item, owner, price, label = line.strip().split(',')"
    ),
    "csv_list": (
        "with open('data/items.csv', newline='') as f:\n"
        "    records = list(csv.reader(f))[1:]\n"
        "for record in records:\n"
        "    item, owner, price, label = record"
    ),
}
WRITE = {
    "join": "out.write('\\t'.join(str(v) for v in row) + '\\n')",
    "fstring": "out.write(f'{row[0]}\\t{row[1]}\\t{row[2]}\\t{row[3]}\\n')",
    "percent": "out.write('%s\\t%s\\t%.2f\\t%d\\n' % (row[0], row[1], row[2], row[3]))",
    "print": "print(*row, sep='\\t', file=out)",
}
SCALE = {
    "method": "(prices - prices.mean()) / prices.std()",
    "statistics": "(prices - statistics.mean(prices)) / statistics.pstdev(prices)",
    "sample": "(prices - np.mean(prices)) / np.std(prices, ddof=1)",
}

SPELLINGS = [
    ("readlines", "handle", "join", "method"),
    ("enumerate", "csv_list", "fstring", "statistics"),
    ("readlines", "csv_list", "percent", "sample"),
    ("enumerate", "handle", "print", "method"),
]


def write_case(folder: Path, owners: str, items: str, write: str, scale: str) -> Path:
    rng = random.Random(3)
    (folder / "data").mkdir(parents=True)
    owner_lines = ["owner,kind"] + [f"o{i},{rng.choice('ab')}" for i in range(15)] + ["o2,b"]
    (folder / "data" / "owners.csv").write_text("\n".join(owner_lines) + "\n")
    item_lines = ["item,owner,price,label"] + [
        f"i{i},o{rng.randint(0, 18)},{rng.choice(['0', '-1.5', str(rng.randint(1, 99))])},"
        f"{'x' * rng.randint(0, 9)}"
        for i in range(120)
    ]
    (folder / "data" / "items.csv").write_text("\n".join(item_lines) + "\n")
    code = (
        SCRIPT.replace("READ_OWNERS", READ_OWNERS[owners])
        .replace("READ_ITEMS", READ_ITEMS[items])
        .replace("WRITE", WRITE[write])
        .replace("SCALE", SCALE[scale])
    )
    (folder / "messy.py").write_text(code)
    return folder / "messy.py"


@pytest.mark.parametrize("spelling", SPELLINGS, ids="-".join)
def test_each_spelling_rewrites_to_a_verified_pipeline(tmp_path, spelling):
    script = write_case(tmp_path, *spelling)
    outcome = rewrite_script(script, edge_cases=False)

    assert outcome.gaps == []
    assert outcome.equivalent, outcome.verdict.feedback()
    if "sample" in spelling:
        assert "SampleStandardScaler(ddof=1)" in outcome.code
