"""The mutation suite: deliberately wrong rewrites of the reference pipelines, each a named
source edit. The verifier must reject every one (0 wrong "equivalent" verdicts).

Each mutant is checked on the real inputs first and then on the edge cases, stopping at the
first difference; the original script's outputs are cached per input variant, and the
rewrites run in the warm sandbox, so the whole suite costs about one interpreter start per
edge case plus milliseconds per mutant.
"""

from __future__ import annotations

import pytest

from lester.rewrite.verify import verify_rewrite
from tests.rewrite.conftest import messy_script, reference_code

STD_DDOF1 = "FunctionTransformer(lambda x: (x - x.mean()) / x.std(ddof=1))"

# case -> [(name, text in the reference, replacement)]
MUTATIONS: dict[str, list[tuple[str, str, str]]] = {
    "creditcard": [
        ("title length in words, not characters", "[len(t) for t in", "[len(t.split()) for t in"),
        ("ddof=1 standardisation", '("scale", StandardScaler())', f'("scale", {STD_DDOF1})'),
        ("first duplicate e-mail wins", 'duplicated(keep="last")', 'duplicated(keep="first")'),
        (
            "no dedup of the customer dict",
            '    customers = customers.filter("last_of_email")\n',
            "",
        ),
        (
            "left join instead of inner",
            'left_on="email", right_on="customer_email")',
            'left_on="email", right_on="customer_email", how="left")',
        ),
        ("missing year filter", '    mails = mails.filter("year >= 2022")\n', ""),
        ("off-by-one year", '"year >= 2022"', '"year > 2022"'),
        (
            "case-insensitive match",
            '"complaint" in row["mail_text"]',
            '"complaint" in row["mail_text"].lower()',
        ),
        (
            "missing use-case filter",
            'lambda row: "complaint" in row["mail_text"] or "bank account" in row["mail_text"],',
            "lambda row: True,",
        ),
        (
            "missing country filter",
            '    customers = customers.filter("country in @target_countries")\n',
            "",
        ),
        (
            "wrong target countries",
            'target_countries = ["UK", "DE", "FR"]',
            'target_countries = ["UK", "DE"]',
        ),
        (
            "swapped one-hot order",
            'categories=[["UK", "DE", "FR"]]',
            'categories=[["DE", "UK", "FR"]]',
        ),
        ("sorted one-hot order", 'categories=[["UK", "DE", "FR"]]', 'categories="auto"'),
        ("missing lower() on the title", 'row["mail_subject"].lower()', 'row["mail_subject"]'),
        (
            "sentiment on the raw text",
            'merged.project("sentiment", ["text"], lambda row: sentiment(row["text"]))',
            'merged.project("sentiment", ["mail_text"], lambda row: sentiment(row["mail_text"]))',
        ),
        ("label with sentiment <= 0", ".astype(float) < 0", ".astype(float) <= 0"),
        ("label ignores premium", '(negative & df["is_premium"].astype(bool))', "(negative)"),
        ("premium level case", 'row["level"] == "premium"', 'row["level"] == "Premium"'),
        ("sha1 instead of md5", "hashlib.md5(tok", "hashlib.sha1(tok"),
        ("embedding not normalised", "if norm > 0:", "if False:"),
        ("tokens without digits", 'r"[a-z0-9]+"', 'r"[a-z]+"'),
        ("missing negative word", 'NEG = [\n    "complaint",\n', "NEG = [\n"),
        ("sentiment denominator", "(pos + neg + 1)", "(pos + neg + 2)"),
        (
            "stale loop variable in the label",
            '(negative & df["is_premium"].astype(bool))',
            '(negative & bool(df["is_premium"].iloc[-1]))',
        ),
        (
            "centred but not scaled",
            '("scale", StandardScaler())',
            '("scale", StandardScaler(with_std=False))',
        ),
    ],
    "healthcare": [
        (
            "least common county",
            "mode = max(counts, key=counts.get)",
            "mode = min(counts, key=counts.get)",
        ),
        (
            "no county imputation",
            '    patients = patients.project("county", ["county"], impute_mode, vectorized=True)\n',
            "",
        ),
        (
            "constant imputation",
            'df["county"].where(df["county"] != "", mode)',
            'df["county"].where(df["county"] != "", "Unknown")',
        ),
        ("minors kept", '    patients = patients.filter("age >= 18")\n', ""),
        ("adult threshold off by one", '"age >= 18"', '"age > 18"'),
        ("age bucket boundary 35", "if age < 35:", "if age <= 35:"),
        ("age bucket boundary 60", "if age < 60:", "if age < 65:"),
        ("first duplicate ssn wins", 'duplicated(keep="last")', 'duplicated(keep="first")'),
        ("no dedup of the patient dict", '    patients = patients.filter("last_of_ssn")\n', ""),
        ("off-by-one visit year", '"visit_year >= 2018"', '"visit_year > 2018"'),
        (
            "missing visit-year filter",
            '    histories = histories.filter("visit_year >= 2018")\n',
            "",
        ),
        (
            "left join instead of inner",
            'left_on="ssn", right_on="patient_ssn")',
            'left_on="ssn", right_on="patient_ssn", how="left")',
        ),
        ("wrong threshold", '"35-59": 3', '"35-59": 4'),
        (
            "label with >=",
            'row["complications"] > THRESHOLDS',
            'row["complications"] >= THRESHOLDS',
        ),
        ("swapped smoker one-hot", 'categories=[["no", "yes"]]', 'categories=[["yes", "no"]]'),
        (
            "unsorted county one-hot",
            'OneHotEncoder(sparse_output=False), ["county"]',
            'OneHotEncoder(categories=[["Travis", "Queens", "Orange", "Marin", "Kings", "Cook"]], '
            'sparse_output=False, handle_unknown="ignore"), ["county"]',
        ),
        (
            "scales complications, not medication",
            '["age", "num_visits", "medication_count"]',
            '["age", "num_visits", "complications"]',
        ),
        ("min-max range", "MinMaxScaler()", "MinMaxScaler(feature_range=(0, 2))"),
        (
            "stale loop variable in the label",
            'np.asarray(df["label"], dtype=float)',
            'np.full(len(df), float(df["label"].iloc[-1]))',
        ),
        (
            "swapped output columns",
            '"smoker",\n            "num_visits",\n            "complications",',
            '"smoker",\n            "complications",\n            "num_visits",',
        ),
        ("empty ages not dropped", "    patients = patients.filter(\"age != ''\")\n", ""),
    ],
    "loans": [
        (
            "inner join instead of left",
            'right_on="bureau_id", how="left")',
            'right_on="bureau_id")',
        ),
        ("wrong default score", "else 580", "else 600"),
        (
            "wrong default delinquencies",
            'int(row["delinquencies"]) if row["has_bureau_record"] else 0',
            'int(row["delinquencies"]) if row["has_bureau_record"] else 1',
        ),
        (
            "inverted bureau flag",
            '1 if row["in_bureau"] == "yes" else 0',
            '0 if row["in_bureau"] == "yes" else 1',
        ),
        ("zero incomes kept", 'row["annual_income"] > 0', 'row["annual_income"] >= 0'),
        (
            "wrong default income",
            'if row["annual_income"] else 0.0',
            'if row["annual_income"] else 1.0',
        ),
        ("split boundary", "% 10 < 8", "% 10 <= 8"),
        ("sha1 split", "hashlib.md5(", "hashlib.sha1("),
        ("split on a digest prefix", "int(digest, 16)", "int(digest[:8], 16)"),
        (
            "missing train filter",
            "    apps = apps.filter(\n"
            '        lambda row: in_train_split(row["applicant_id"]), '
            'source_columns=["applicant_id"]\n'
            "    )\n",
            "",
        ),
        ("first bureau duplicate wins", 'duplicated(keep="last")', 'duplicated(keep="first")'),
        ("no dedup of the bureau dict", '    bureau = bureau.filter("last_of_id")\n', ""),
        (
            "ddof=1 standardisation",
            '("credit_score", StandardScaler(), ["credit_score"])',
            f'("credit_score", {STD_DDOF1}, ["credit_score"])',
        ),
        ("log10 instead of ln", "math.log(v)", "math.log10(v)"),
        (
            "inverted ratio",
            'frame["loan_amount"] / frame["annual_income"]',
            'frame["annual_income"] / frame["loan_amount"]',
        ),
        (
            "swapped employment one-hot",
            'EMPLOYMENT_TYPES = ["salaried", "self-employed",',
            'EMPLOYMENT_TYPES = ["self-employed", "salaried",',
        ),
        (
            "label by exclusion",
            'row["outcome"] == "default" else 0',
            'row["outcome"] != "repaid" else 0',
        ),
        (
            "missing bureau flag column",
            '"passthrough", ["delinquencies", "has_bureau_record"]',
            '"passthrough", ["delinquencies"]',
        ),
        (
            "stale loop variable in the label",
            'np.asarray(df["label"], dtype=float)',
            'np.full(len(df), float(df["label"].iloc[0]))',
        ),
        (
            "unknown employment is an error",
            'categories=[EMPLOYMENT_TYPES], sparse_output=False, handle_unknown="ignore"',
            'categories=[EMPLOYMENT_TYPES], sparse_output=False, handle_unknown="error"',
        ),
        (
            "income filter missing",
            "    apps = apps.filter("
            'lambda row: row["annual_income"] > 0, source_columns=["annual_income"])\n',
            "",
        ),
    ],
    "reviews": [
        ("last duplicate product wins", 'duplicated(keep="first")', 'duplicated(keep="last")'),
        ("no dedup of the product list", '    products = products.filter("first_of_id")\n', ""),
        ("first rating wins", 'duplicated(keep="last")', 'duplicated(keep="first")'),
        ("off-by-one start year", 'START_DATE = "2019-01-01"', 'START_DATE = "2020-01-01"'),
        ("wrong end date", 'END_DATE = "2021-12-31"', 'END_DATE = "2021-12-01"'),
        (
            "missing date filter",
            "    reviews = reviews.filter("
            '"review_date >= @START_DATE and review_date <= @END_DATE")\n',
            "",
        ),
        ("missing category filter", '    rows = rows.filter("category in @KEEP_CATEGORIES")\n', ""),
        (
            "swapped category one-hot",
            'KEEP_CATEGORIES = ["Electronics", "Books", "Toys"]',
            'KEEP_CATEGORIES = ["Books", "Electronics", "Toys"]',
        ),
        ("sorted category one-hot", "categories=[KEEP_CATEGORIES]", 'categories="auto"'),
        (
            "inverted third-party flag",
            '0 if row["seller"].startswith("StoreCo") else 1',
            '1 if row["seller"].startswith("StoreCo") else 0',
        ),
        (
            "empty seller is first party",
            '0 if row["seller"].startswith("StoreCo") else 1',
            '0 if row["seller"].startswith("StoreCo") or not row["seller"] else 1',
        ),
        (
            "normalised counts",
            "    return vec\n",
            "    return [v / max(1.0, sum(vec)) for v in vec]\n",
        ),
        ("'!' not a separator", '.replace("!", " ")', '.replace("?", " ")'),
        ("missing lower()", "txt.lower()", "txt"),
        ("seven hex digits", "hexdigest()[:8]", "hexdigest()[:7]"),
        ("label with >= 0.5", "(ratio > 0.5)", "(ratio >= 0.5)"),
        (
            "label denominator",
            "ratio = helpful / total.where(total > 0, 1.0)",
            "ratio = helpful / (total + 1)",
        ),
        (
            "ddof=1 standardisation",
            '("stars", StandardScaler(), ["star_rating"])',
            f'("stars", {STD_DDOF1}, ["star_rating"])',
        ),
        (
            "left join with ratings",
            'left_on="review_id", right_on="rated_id")',
            'left_on="review_id", right_on="rated_id", how="left")',
        ),
        (
            "swapped vote columns",
            '"helpful_votes",\n            "total_votes",\n            "review_text",',
            '"total_votes",\n            "helpful_votes",\n            "review_text",',
        ),
        (
            "stale loop variable in the label",
            "ratio = helpful / total.where",
            "ratio = helpful.iloc[-1] / total.where",
        ),
        ("standardises helpful votes", '["star_rating"]),', '["helpful_votes"]),'),
    ],
}

PARAMETERS = [
    pytest.param(case, name, old, new, id=f"{case}: {name}")
    for case, mutations in MUTATIONS.items()
    for name, old, new in mutations
]


def mutate(code: str, old: str, new: str) -> str:
    assert code.count(old) == 1, f"the mutation's text occurs {code.count(old)} times: {old!r}"
    return code.replace(old, new)


def test_every_case_has_at_least_20_mutations():
    assert {case: len(m) >= 20 for case, m in MUTATIONS.items()} == dict.fromkeys(MUTATIONS, True)


@pytest.mark.parametrize(("case", "name", "old", "new"), PARAMETERS)
def test_verifier_rejects_mutant(case, name, old, new):
    script = messy_script(case)
    mutant = mutate(reference_code(case), old, new)
    verdict = verify_rewrite(script, mutant, minimize=False, stop_at_first_difference=True)
    assert not verdict.equivalent, f"mutant {name!r} was judged equivalent:\n{verdict.summary()}"
    assert verdict.feedback()  # the LLM path feeds this back
