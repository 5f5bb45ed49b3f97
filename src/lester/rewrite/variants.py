"""Input variants for differential testing: the real inputs, a join-aware sample of them,
and edge cases generated from them (empty input, a duplicate key, an empty field, an unseen
category, a comma inside a quoted field).

An input set maps each input file's path (relative to the script's folder) to its bytes.
Files are read as delimited text with the :mod:`csv` module; unmodified files keep their
bytes, modified ones are written back in the same dialect (comma, minimal quoting, the
file's own line ending), so a script that splits on commas reads them as before.

Examples
--------
>>> table = Table.parse(b"id,country\\n1,DE\\n2,FR\\n3,DE\\n4,FR\\n5,FR\\n")
>>> table.header, table.records[:2]
(['id', 'country'], [['1', 'DE'], ['2', 'FR']])
>>> [case.name for case in edge_cases({"data/c.csv": table.to_bytes()}, uses_csv_module=False)]
['empty input: c', 'duplicate key: c', 'empty field: c.country', 'unseen category: c']
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

Inputs = dict[str, bytes]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]*")
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
UNSEEN = "zz-unseen"


@dataclass
class Table:
    """A delimited text file: optional header, records of fields, its line ending."""

    header: list[str] | None
    records: list[list[str]]
    newline: str = "\n"
    quoted: bool = False  # the file quotes fields, so its readers must understand quoting

    @classmethod
    def parse(cls, data: bytes) -> Table:
        """Parse CSV bytes, detecting a header line and the line ending."""
        text = data.decode("utf-8", "surrogateescape")
        newline = "\r\n" if "\r\n" in text else "\n"
        records = [record for record in csv.reader(io.StringIO(text, newline="")) if record]
        header = records[0] if records and _looks_like_header(records) else None
        body = records[1:] if header is not None else records
        return cls(header, body, newline, quoted='"' in text)

    def to_bytes(self) -> bytes:
        """Write back as CSV (minimal quoting, the original line ending)."""
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator=self.newline)
        if self.header is not None:
            writer.writerow(self.header)
        writer.writerows(self.records)
        return buffer.getvalue().encode("utf-8", "surrogateescape")

    def with_records(self, records: list[list[str]]) -> Table:
        """The same file with other records."""
        return Table(self.header, records, self.newline, self.quoted)

    @property
    def width(self) -> int:
        if self.header is not None:
            return len(self.header)
        return max((len(record) for record in self.records), default=0)

    def column(self, index: int) -> list[str]:
        return [record[index] for record in self.records if index < len(record)]

    def column_name(self, index: int) -> str:
        return self.header[index] if self.header is not None else f"column {index}"

    def is_numeric(self, index: int) -> bool:
        values = [value for value in self.column(index) if value != ""]
        return bool(values) and all(_NUMBER.fullmatch(value) for value in values)

    def is_key_like(self, index: int) -> bool:
        """Mostly distinct, non-numeric values: an identifier or a join key."""
        values = [value for value in self.column(index) if value != ""]
        return (
            len(values) > 0 and not self.is_numeric(index) and len(set(values)) >= 0.5 * len(values)
        )

    def categories(self, index: int) -> list[str]:
        """The column's distinct values if it looks categorical (2 to 20 of them)."""
        values = [value for value in self.column(index) if value != ""]
        distinct = sorted(set(values))
        if self.is_numeric(index) or not 2 <= len(distinct) <= 20:
            return []
        return distinct if len(distinct) < 0.5 * len(values) else []


def _looks_like_header(records: list[list[str]]) -> bool:
    first = records[0]
    if not all(_IDENTIFIER.fullmatch(value) for value in first):
        return False
    if any(_NUMBER.fullmatch(value) for value in first):
        return False
    later = records[1:51]
    # A header's names do not recur as values of their own column.
    return not any(
        index < len(record) and record[index] == value
        for record in later
        for index, value in enumerate(first)
    )


def source_name(path: str) -> str:
    """The source name of an input file: its stem.

    Examples
    --------
    >>> source_name("data/credit_bureau.csv")
    'credit_bureau'
    """
    return PurePosixPath(path).stem


@dataclass
class Variant:
    """One input set to run both programs on."""

    name: str
    kind: str  # "real", "sample" or "edge"
    inputs: Inputs
    description: str = ""
    changed: list[str] = field(default_factory=list)  # paths that differ from the base


def sample_inputs(inputs: Mapping[str, bytes], rows: int) -> Inputs:
    """A join-aware sample: the first ``rows`` records of the largest file, then, file by
    file, the records that share an identifier-like value with what is already kept (so
    joins still find partners) plus a few that do not.

    Examples
    --------
    >>> facts = b"id,who\\n" + b"".join(b"%d,c%d\\n" % (i, i % 7) for i in range(100))
    >>> people = b"who,name\\n" + b"".join(b"c%d,n%d\\n" % (i, i) for i in range(50))
    >>> sample = sample_inputs({"facts.csv": facts, "people.csv": people}, rows=5)
    >>> [len(Table.parse(data).records) for data in sample.values()]
    [5, 6]
    """
    tables = {path: Table.parse(data) for path, data in inputs.items()}
    order = sorted(tables, key=lambda path: -len(tables[path].records))
    sampled: Inputs = {}
    seen: set[str] = set()
    for position, path in enumerate(order):
        table = tables[path]
        if len(table.records) <= rows:
            kept = table.records
        elif position == 0:
            kept = table.records[:rows]
        else:
            keys = [i for i in range(table.width) if table.is_key_like(i)]
            matched = [r for r in table.records if any(r[i] in seen for i in keys if i < len(r))]
            others = [r for r in table.records if r not in matched][: max(1, rows // 5)]
            chosen = {id(r) for r in matched + others}
            kept = [r for r in table.records if id(r) in chosen]
        for index in range(table.width):
            if not table.is_numeric(index):
                seen.update(record[index] for record in kept if index < len(record))
        sampled[path] = inputs[path] if kept is table.records else table.with_records(
            kept).to_bytes()  # fmt: skip
    return {path: sampled[path] for path in inputs}


def edge_cases(inputs: Mapping[str, bytes], uses_csv_module: bool) -> list[Variant]:
    """Edge cases, each the given inputs with one file changed.

    A comma inside a quoted field is only generated when the script parses with the
    :mod:`csv` module (a script that splits lines on commas cannot read one): in the files
    that already quote fields, or in every file if none does.
    """
    tables = {path: Table.parse(data) for path, data in inputs.items()}
    any_quoted = any(table.quoted for table in tables.values())
    cases: list[Variant] = []
    for path, table in tables.items():
        name = source_name(path)
        changes: list[tuple[str, str, Table | None]] = [
            (f"empty input: {name}", "no records" + (" (header only)" if table.header else ""),
             table.with_records([])),
            (f"duplicate key: {name}", *_duplicate_keys(table)),
            *_empty_fields(table, name),
            (f"unseen category: {name}", *_unseen_categories(table)),
        ]  # fmt: skip
        if uses_csv_module and (table.quoted or not any_quoted):
            changes.append((f"comma in quoted field: {name}", *_quoted_commas(table)))
        for case_name, description, changed in changes:
            if changed is None:
                continue
            variant_inputs = dict(inputs)
            variant_inputs[path] = changed.to_bytes()
            cases.append(Variant(case_name, "edge", variant_inputs, description, [path]))
    return cases


def _duplicate_keys(table: Table) -> tuple[str, Table | None]:
    """After each of the first records, a record with the same first field (the usual key)
    and the other fields of the next record: which duplicate wins becomes visible."""
    records = table.records
    if len(records) < 2 or table.width < 2:
        return "", None
    result = []
    for i, record in enumerate(records):
        result.append(record)
        if i < 40:
            donor = records[(i + 1) % len(records)]
            result.append([record[0], *donor[1:]])
    key = table.column_name(0)
    return f"records 1-40 repeated with the same {key!r} and the next record's fields", (
        table.with_records(result)
    )


def _empty_fields(table: Table, name: str) -> list[tuple[str, str, Table | None]]:
    """Empty one column in every fourth record: the first text column that has no empty
    values, and the last column."""
    if not table.records or table.width < 2:
        return []
    columns = range(1, table.width)
    texts = [i for i in columns if not table.is_numeric(i) and "" not in table.column(i)]
    chosen = sorted({texts[0] if texts else 1, table.width - 1})
    cases = []
    for index in chosen:
        records = [
            [("" if j == index and i % 4 == 0 else value) for j, value in enumerate(record)]
            for i, record in enumerate(table.records)
        ]
        column = table.column_name(index)
        cases.append(
            (f"empty field: {name}.{column}", f"{column!r} empty in every 4th record",
             table.with_records(records))
        )  # fmt: skip
    return cases


def _unseen_categories(table: Table) -> tuple[str, Table | None]:
    columns = [i for i in range(1, table.width) if table.categories(i)]
    if not columns:
        return "", None
    records = [list(record) for record in table.records]
    for i, record in enumerate(records):
        if i % 3 == 0:
            index = columns[(i // 3) % len(columns)]
            if index < len(record):
                record[index] = UNSEEN
    names = ", ".join(repr(table.column_name(i)) for i in columns)
    return f"{UNSEEN!r} in the categorical columns {names}", table.with_records(records)


def _quoted_commas(table: Table) -> tuple[str, Table | None]:
    candidates = [i for i in range(1, table.width) if not table.is_numeric(i)]
    if not candidates or not table.records:
        return "", None

    def mean_length(index: int) -> float:
        values = table.column(index)
        return sum(map(len, values)) / max(1, len(values))

    index = max(candidates, key=mean_length)
    records = [list(record) for record in table.records]
    for i, record in enumerate(records):
        if i % 3 == 0 and index < len(record):
            record[index] = record[index] + ", and more"
    column = table.column_name(index)
    return f"{column!r} holds a comma (quoted) in every 3rd record", table.with_records(records)
