"""The LLM loop on a visible messy case (``../shared/messy/loans``): scripted answers that are
a real, correct Lester rewrite of the case, after a wrong first answer that forgets the
default profile of the left join. Skipped when the shared folder is absent."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from lester.rewrite.llm import LLMConfig, RoundStatus, rewrite_with_llm
from tests.rewrite.chat_server import ChatServer
from tests.rewrite.messy_orders import CountingVerifier, fenced


def shared_folder() -> Path | None:
    configured = os.environ.get("LESTER_SHARED")
    folder = (
        Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared"
    )
    return folder if (folder / "messy").is_dir() else None


LOANS_COLUMNS = [
    "applicant_id",
    "annual_income",
    "loan_amount",
    "employment",
    "credit_score",
    "delinquencies",
    "has_bureau_record",
    "label",
]

LOANS_DATAPREP = textwrap.dedent(
    """\
    import hashlib

    import pandas as pd

    import lester as lt


    def _in_train_split(applicant_id):
        digest = hashlib.md5(applicant_id.encode('utf-8')).hexdigest()
        return int(digest, 16) % 10 < 8


    def _lester_dataprep(applicants_path, credit_bureau_path):
        # No primary key: the script keeps duplicate applicants as separate rows.
        applicants = lt.read_csv(applicants_path, name='applicants')
        applicants = applicants.filter('annual_income > 0')
        applicants = applicants.project(
            target_column='in_train', source_columns=['applicant_id'],
            func=lambda row: _in_train_split(row['applicant_id']))
        applicants = applicants.filter('in_train')
        bureau = lt.read_csv(credit_bureau_path, name='credit_bureau')
        # The script's dict keeps the last bureau row per applicant.
        bureau = bureau.project(
            target_column='last_of_id', source_columns=['applicant_id'],
            func=lambda df: ~df['applicant_id'].duplicated(keep='last'), vectorized=True)
        bureau = bureau.filter('last_of_id')
        bureau = bureau.rename(columns={'applicant_id': 'bureau_id', 'credit_score': 'score',
                                        'delinquencies': 'bureau_delinquencies'})
        result_df = lt.join(applicants, bureau, left_on='applicant_id', right_on='bureau_id',
                            how='left')
        result_df = result_df.project(
            target_column='credit_score', source_columns=['score'],
            func=lambda row: 580 if pd.isna(row['score']) else int(row['score']))
        result_df = result_df.project(
            target_column='delinquencies', source_columns=['bureau_delinquencies'],
            func=lambda row: 0 if pd.isna(row['bureau_delinquencies'])
            else int(row['bureau_delinquencies']))
        result_df = result_df.project(
            target_column='has_bureau_record', source_columns=['bureau_id'],
            func=lambda row: 0 if pd.isna(row['bureau_id']) else 1)
        result_df = result_df.project(
            target_column='label', source_columns=['outcome'],
            func=lambda row: 1 if row['outcome'] == 'default' else 0)
        return result_df[['applicant_id', 'annual_income', 'loan_amount', 'employment',
                          'credit_score', 'delinquencies', 'has_bureau_record', 'label']]
    """
)

# A plausible LLM slip: an inner join drops the applicants the bureau does not know.
LOANS_DATAPREP_INNER = LOANS_DATAPREP.replace(
    "right_on='bureau_id',\n                        how='left')", "right_on='bureau_id')"
)

LOANS_FEATURES = textwrap.dedent(
    """\
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    EMPLOYMENT_TYPES = ['salaried', 'self-employed', 'unemployed', 'retired']


    def _log(frame):
        return np.log(frame.to_numpy(dtype=float))


    def _loan_to_income(frame):
        values = frame.to_numpy(dtype=float)
        return (values[:, 0] / values[:, 1]).reshape(-1, 1)


    def encode_features():
        return ColumnTransformer([
            ('log_income', FunctionTransformer(_log), ['annual_income']),
            ('loan_to_income', FunctionTransformer(_loan_to_income),
             ['loan_amount', 'annual_income']),
            ('credit_score', StandardScaler(), ['credit_score']),
            ('delinquencies', 'passthrough', ['delinquencies']),
            ('has_bureau_record', 'passthrough', ['has_bureau_record']),
            ('employment', OneHotEncoder(categories=[EMPLOYMENT_TYPES], sparse_output=False,
                                         handle_unknown='ignore'), ['employment']),
        ])
    """
)

LOANS_LABELS = textwrap.dedent(
    """\
    from sklearn.linear_model import LogisticRegression


    def extract_label(df):
        return df['label'].astype(float).to_numpy()


    def create_model(num_features):
        return LogisticRegression()
    """
)


@pytest.fixture
def loans(tmp_path: Path):
    shared = shared_folder()
    if shared is None:
        pytest.skip("the shared messy cases are not available (set LESTER_SHARED)")
    folder = tmp_path / "loans"
    shutil.copytree(shared / "messy" / "loans", folder, ignore=shutil.ignore_patterns("out"))
    folder.chmod(0o755)
    sources = {
        "applicants": folder / "data" / "applicants.csv",
        "credit_bureau": folder / "data" / "credit_bureau.csv",
    }
    return folder, sources, CountingVerifier(folder / "messy.py", sources, max_reduction_runs=8)


@pytest.mark.slow
def test_the_loans_case_is_rewritten_after_one_rejected_round(loans) -> None:
    folder, sources, check = loans
    module = "\n\n".join([LOANS_DATAPREP, LOANS_FEATURES, LOANS_LABELS])
    answers = [fenced(LOANS_DATAPREP_INNER)] * 4 + [fenced(LOANS_FEATURES), fenced(LOANS_LABELS)]
    with ChatServer([*answers, fenced(module)]) as server:
        result = rewrite_with_llm(
            folder / "messy.py",
            sources=sources,
            config=LLMConfig("test-model", server.url, None, timeout_s=20, max_retries=0),
            verify=check,
            output_columns=LOANS_COLUMNS,
        )

    assert [r.status for r in result.rounds] == [
        RoundStatus.VERIFIER_REJECTED,
        RoundStatus.ACCEPTED,
    ]
    assert result.rounds[0].feedback in server.last_user_message(6)
    assert "credit_bureau_path" in server.last_user_message(3)
    assert result.verified and check.calls == 2
    statuses = {case.name: case.status for case in result.verdict.cases}
    assert statuses["real inputs"] == "equivalent", result.verdict.summary()
    assert statuses["duplicate key: credit_bureau"] == "equivalent"
