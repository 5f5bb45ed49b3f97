"""Input variants: parsing, join-aware samples and generated edge cases."""

from __future__ import annotations

import csv
import io

from lester.rewrite.variants import UNSEEN, Table, edge_cases, sample_inputs
from tests.rewrite.conftest import messy_script

CUSTOMERS = b"id,email,country,level\n" + b"".join(
    b"c%d,p%d@x.test,%s,%s\n" % (i, i, [b"DE", b"FR", b"UK"][i % 3], [b"basic", b"gold"][i % 2])
    for i in range(30)
)
MAILS = b"mail_id,email,text\n" + b"".join(
    b"m%d,p%d@x.test,hello number %d\n" % (i, i % 60, i) for i in range(90)
)


def records(data: bytes) -> list[list[str]]:
    return Table.parse(data).records


def test_quoted_crlf_file_round_trips_byte_for_byte():
    reviews = messy_script("reviews").parent / "data" / "reviews.csv"
    data = reviews.read_bytes()
    table = Table.parse(data)
    assert table.quoted and table.newline == "\r\n" and table.header[0] == "review_id"
    assert table.to_bytes() == data


def test_header_detection():
    assert Table.parse(CUSTOMERS).header == ["id", "email", "country", "level"]
    assert Table.parse(b"1,DE\n2,FR\n").header is None
    assert Table.parse(b"x,y\nx,y\n").header is None  # a repeated first line is data


def test_sample_keeps_the_join_partners_of_the_sampled_facts():
    sample = sample_inputs({"customers.csv": CUSTOMERS, "mails.csv": MAILS}, rows=20)
    mails, customers = records(sample["mails.csv"]), records(sample["customers.csv"])
    assert len(mails) == 20  # the largest file: its first records
    emails = {mail[1] for mail in mails}
    partners = [c for c in customers if c[1] in emails]
    assert {c[1] for c in partners} == emails & {f"p{i}@x.test" for i in range(30)}
    assert len(customers) - len(partners) == 4  # a few without partner (rows // 5)


def test_edge_cases_change_one_file_each():
    inputs = {"data/customers.csv": CUSTOMERS, "data/mails.csv": MAILS}
    cases = {case.name: case for case in edge_cases(inputs, uses_csv_module=False)}
    assert "comma in quoted field: customers" not in cases  # the script splits on commas
    for case in cases.values():
        assert len(case.changed) == 1
        assert all(case.inputs[p] == inputs[p] for p in inputs if p not in case.changed)

    assert records(cases["empty input: customers"].inputs["data/customers.csv"]) == []
    assert cases["empty input: customers"].inputs["data/customers.csv"].startswith(b"id,email")

    duplicated = records(cases["duplicate key: customers"].inputs["data/customers.csv"])
    keys = [record[0] for record in duplicated]
    assert len(keys) - len(set(keys)) == 30  # every one of the first 40 records (all 30)
    first, repeat = duplicated[0], duplicated[1]
    assert repeat[0] == first[0] and repeat[1:] == records(CUSTOMERS)[1][1:]

    unseen = records(cases["unseen category: customers"].inputs["data/customers.csv"])
    assert sum(UNSEEN in record for record in unseen) == 10
    assert {record.index(UNSEEN) for record in unseen if UNSEEN in record} == {2, 3}

    emptied = records(cases["empty field: customers.email"].inputs["data/customers.csv"])
    assert [i for i, record in enumerate(emptied) if record[1] == ""] == list(range(0, 30, 4))
    assert "empty field: customers.level" in cases  # and the last column


def test_quoted_commas_only_for_scripts_that_parse_with_the_csv_module():
    inputs = {"data/mails.csv": MAILS}
    [case] = [c for c in edge_cases(inputs, uses_csv_module=True) if "comma" in c.name]
    text = case.inputs["data/mails.csv"].decode()
    assert '"hello number 0, and more"' in text
    parsed = list(csv.reader(io.StringIO(text)))
    assert {len(row) for row in parsed} == {3}  # a csv reader still sees three fields
