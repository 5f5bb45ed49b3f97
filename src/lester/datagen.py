"""Deterministic synthetic data for the paper's running example: bank customers and their mails.

:func:`generate` writes ``customers.csv`` (customer_id, customer_email, bank, country, level) and
``mails.csv`` (mail_id, email, date, mail_subject, mail_text), both without header and in the shape
of the paper prototype's data, plus ``leaks.json``. About 1% of the German customers carry a
credit-card number in the subjects of their mails: the leak the maintenance scenario must remove.

Examples
--------
>>> import tempfile
>>> from lester.datagen import generate
>>> result = generate(20, tempfile.mkdtemp(), seed=7, mails_per_customer=3)
>>> result.num_customers, result.num_mails
(20, 60)
"""

from __future__ import annotations

import csv
import json
import os
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from lester.errors import LesterError

CUSTOMER_COLUMNS = ("customer_id", "customer_email", "bank", "country", "level")
MAIL_COLUMNS = ("mail_id", "email", "date", "mail_subject", "mail_text")
FIRST_DATE = date(2021, 1, 1)
LAST_DATE = date(2023, 12, 31)
PREMIUM_SHARE = 0.1
COMPLAINT_SHARE = 0.5
LEAKED_SHARE_OF_DE = 0.01
COUNTRY_WEIGHTS = {"UK": 30, "DE": 30, "FR": 30, "US": 3, "IT": 2, "ES": 2, "NL": 2, "CH": 1}

COMPLAINT_SUBJECTS = (
    "Urgent question",
    "Complaint!",
    "Problem with my bank account",
    "Please help me",
    "Very disappointed",
    "Formal complaint",
)
THANKS_SUBJECTS = ("Thank you!", "Great bank", "Many thanks", "You are the best", "Great service")
COMPLAINT_OPENERS = (
    "I am really angry about your bank and I want to file a complaint.",
    "I am deeply disappointed with the way you handle my bank account.",
    "Your service is terrible and this mail is my formal complaint.",
    "I am furious that my bank account was blocked again without any reason.",
    "This is an awful experience and I am disappointed that my last complaint was ignored.",
    "The fees on my bank account are terrible and I am upset about them.",
)
THANKS_OPENERS = (
    "I wanted to say thank you for the great service of your bank.",
    "I am very pleased with how quickly your team helped me.",
    "Thank you so much for the excellent advice. Your advisors are great.",
    "Great job with the new app. I am really pleased and happy with it.",
    "Thank you for the wonderful support last week.",
)
NEGATIVE_WORDS = ("angry", "disappointed", "terrible", "furious", "awful", "upset")
POSITIVE_WORDS = ("thank you", "great", "pleased", "excellent", "wonderful", "happy")

_USER_POOL_SIZE = 2000
_DOMAIN_POOL_SIZE = 300
_BANK_POOL_SIZE = 100
_SENTENCE_POOL_SIZE = 500
_MAX_FILLER_SENTENCES = 4


class DatagenError(LesterError, ValueError):
    """Bad arguments to :func:`generate`, raised before anything is written.

    Examples
    --------
    >>> try:
    ...     generate(0, "/tmp/unused")
    ... except DatagenError as error:
    ...     print(error)
    num_customers must be at least 1, got 0
    """


@dataclass(frozen=True)
class DatagenResult:
    """The files that :func:`generate` wrote and the customers and mails that leak a card number.

    Examples
    --------
    >>> import tempfile
    >>> result = generate(5, tempfile.mkdtemp(), mails_per_customer=2)
    >>> result.customers_path.name, result.mails_path.name, result.leaks_path.name
    ('customers.csv', 'mails.csv', 'leaks.json')
    """

    customers_path: Path
    mails_path: Path
    leaks_path: Path
    num_customers: int
    num_mails: int
    leaked_customer_ids: tuple[int, ...]
    leaked_mail_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Customer:
    customer_id: int
    email: str
    bank: str
    country: str
    level: str

    def row(self) -> tuple[str, ...]:
        return (str(self.customer_id), self.email, self.bank, self.country, self.level)


@dataclass(frozen=True)
class _Pools:
    """Faker output generated once: per-row Faker calls would make 1M mails far too slow."""

    users: tuple[str, ...]
    domains: tuple[str, ...]
    banks: tuple[str, ...]
    sentences: tuple[str, ...]


def generate(
    num_customers: int,
    out_dir: str | Path,
    *,
    seed: int = 42,
    mails_per_customer: int = 10,
) -> DatagenResult:
    """Write ``customers.csv``, ``mails.csv`` and ``leaks.json`` to ``out_dir``.

    The same ``seed`` and sizes give byte-identical files. ``out_dir`` is created if needed; bad
    arguments raise :class:`DatagenError` before anything is written.

    Examples
    --------
    >>> import tempfile
    >>> result = generate(100, tempfile.mkdtemp(), seed=1)
    >>> result.num_mails
    1000
    >>> len(result.leaked_mail_ids) == 10 * len(result.leaked_customer_ids)
    True
    """
    out = Path(out_dir)
    _check_arguments(num_customers, mails_per_customer)
    check_out_dir(out)
    rng = random.Random(seed)
    pools = _make_pools(seed)
    customers = _make_customers(num_customers, rng, pools)
    cards = _pick_leaks(customers, rng)
    out.mkdir(parents=True, exist_ok=True)
    customers_path, mails_path = out / "customers.csv", out / "mails.csv"
    _write_csv(customers_path, (customer.row() for customer in customers))
    leaked_mail_ids: list[str] = []
    mails = _mail_rows(customers, cards, mails_per_customer, rng, pools, leaked_mail_ids)
    _write_csv(mails_path, mails)
    result = DatagenResult(
        customers_path=customers_path,
        mails_path=mails_path,
        leaks_path=out / "leaks.json",
        num_customers=num_customers,
        num_mails=num_customers * mails_per_customer,
        leaked_customer_ids=tuple(sorted(cards)),
        leaked_mail_ids=tuple(leaked_mail_ids),
    )
    _write_leaks(result, customers, seed)
    return result


def check_out_dir(out_dir: str | Path) -> None:
    """Raise :class:`DatagenError` unless ``out_dir`` is or can become a writable directory.

    Examples
    --------
    >>> import tempfile
    >>> check_out_dir(Path(tempfile.mkdtemp()) / "new" / "dir")
    >>> with tempfile.NamedTemporaryFile() as file:
    ...     try:
    ...         check_out_dir(file.name)
    ...     except DatagenError as error:
    ...         print(str(error).endswith("is an existing file; expected a directory"))
    True
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DatagenError(f"output path '{out}' is an existing file; expected a directory")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise DatagenError(f"cannot create '{out}': '{existing}' is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DatagenError(f"output directory '{existing}' is not writable")


def is_luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` (spaces allowed) pass the Luhn checksum of card numbers.

    Examples
    --------
    >>> is_luhn_valid("4111 1111 1111 1111"), is_luhn_valid("4111 1111 1111 1112")
    (True, False)
    """
    digits = [int(char) for char in number if char.isdigit()]
    return bool(digits) and _luhn_sum(digits) % 10 == 0


def _check_arguments(num_customers: int, mails_per_customer: int) -> None:
    if num_customers < 1:
        raise DatagenError(f"num_customers must be at least 1, got {num_customers}")
    if mails_per_customer < 1:
        raise DatagenError(f"mails_per_customer must be at least 1, got {mails_per_customer}")


def _clean(text: str) -> str:
    """Drop what would make the csv module quote a field, so naive split(',') parsers work too."""
    for char in ',"\r\n':
        text = text.replace(char, " ")
    return " ".join(text.split())


def _make_pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return _Pools(
        users=tuple(_clean(fake.user_name()) for _ in range(_USER_POOL_SIZE)),
        domains=tuple(_clean(fake.domain_name()) for _ in range(_DOMAIN_POOL_SIZE)),
        banks=tuple(dict.fromkeys(_clean(fake.company()) for _ in range(_BANK_POOL_SIZE))),
        sentences=tuple(_clean(fake.sentence(nb_words=12)) for _ in range(_SENTENCE_POOL_SIZE)),
    )


def _make_customers(num_customers: int, rng: random.Random, pools: _Pools) -> list[_Customer]:
    countries, weights = list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values())
    used: set[str] = set()
    return [
        _Customer(
            customer_id=customer_id,
            email=_unique_email(rng, pools, used),
            bank=rng.choice(pools.banks),
            country=rng.choices(countries, weights)[0],
            level="premium" if rng.random() < PREMIUM_SHARE else "standard",
        )
        for customer_id in range(num_customers)
    ]


def _unique_email(rng: random.Random, pools: _Pools, used: set[str]) -> str:
    user, domain = rng.choice(pools.users), rng.choice(pools.domains)
    email = f"{user}@{domain}"
    while email in used:
        email = f"{user}{rng.randrange(1000)}@{domain}"
    used.add(email)
    return email


def _pick_leaks(customers: Sequence[_Customer], rng: random.Random) -> dict[int, str]:
    """Card numbers by customer id; at least one German customer leaks so the demo has work."""
    german = [customer.customer_id for customer in customers if customer.country == "DE"]
    if not german:
        return {}
    count = max(1, round(LEAKED_SHARE_OF_DE * len(german)))
    return {customer_id: _card_number(rng) for customer_id in sorted(rng.sample(german, count))}


def _card_number(rng: random.Random) -> str:
    payload = [4] + [rng.randrange(10) for _ in range(14)]
    check = (10 - _luhn_sum([*payload, 0]) % 10) % 10
    digits = "".join(str(digit) for digit in [*payload, check])
    return " ".join(digits[start : start + 4] for start in range(0, 16, 4))


def _luhn_sum(digits: Sequence[int]) -> int:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total


def _mail_rows(
    customers: Sequence[_Customer],
    cards: dict[int, str],
    mails_per_customer: int,
    rng: random.Random,
    pools: _Pools,
    leaked_mail_ids: list[str],
) -> Iterator[tuple[str, ...]]:
    """Yield mail rows and, as a side effect, collect the ids of mails that leak a card number."""
    dates = _iso_dates()
    for customer in customers:
        card = cards.get(customer.customer_id)
        for _ in range(mails_per_customer):
            mail_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            subject, text = _mail_content(rng, pools)
            if card is not None:
                subject = f"{subject} - my credit card is {card}"
                leaked_mail_ids.append(mail_id)
            yield mail_id, customer.email, rng.choice(dates), subject, text


def _iso_dates() -> list[str]:
    days = (LAST_DATE - FIRST_DATE).days + 1
    return [(FIRST_DATE + timedelta(days=offset)).isoformat() for offset in range(days)]


def _mail_content(rng: random.Random, pools: _Pools) -> tuple[str, str]:
    if rng.random() < COMPLAINT_SHARE:
        subjects, openers = COMPLAINT_SUBJECTS, COMPLAINT_OPENERS
    else:
        subjects, openers = THANKS_SUBJECTS, THANKS_OPENERS
    filler = rng.choices(pools.sentences, k=rng.randint(1, _MAX_FILLER_SENTENCES))
    return rng.choice(subjects), " ".join([rng.choice(openers), *filler])


def _write_csv(path: Path, rows: Iterator[tuple[str, ...]]) -> None:
    """Write via a temporary file so that a failed run leaves no half-written CSV behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            csv.writer(file, lineterminator="\n").writerows(rows)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _write_leaks(result: DatagenResult, customers: Sequence[_Customer], seed: int) -> None:
    leaks = {
        "seed": seed,
        "num_customers": result.num_customers,
        "num_mails": result.num_mails,
        "leaked_customer_ids": list(result.leaked_customer_ids),
        "leaked_customer_emails": [customers[i].email for i in result.leaked_customer_ids],
        "leaked_mail_ids": list(result.leaked_mail_ids),
    }
    result.leaks_path.write_text(json.dumps(leaks, indent=2) + "\n", encoding="utf-8")
