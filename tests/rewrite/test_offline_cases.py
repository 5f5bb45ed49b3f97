"""The offline rewrite of each visible messy case is verified equivalent by the verifier
(real inputs; the edge cases run in tests/cli/test_rewrite_cli.py for one case), and keeps
each case's traps in the generated code."""

from __future__ import annotations

import pytest

from lester.rewrite.codegen import generate_module
from lester.rewrite.offline import rewrite_offline
from lester.rewrite.verify import verify_rewrite
from tests.rewrite.conftest import CASES, messy_script

TRAPS = {
    # the customers dict: the last duplicate e-mail wins
    "creditcard": [
        "distinct(subset=['customer_email'], keep='last')",
        "StandardScaler()",
        "categories=[list(['UK', 'DE', 'FR'])]",
    ],
    # min-max over prepared rows; the county mode is computed before any filter
    "healthcare": ["MinMaxScaler()", "categories='auto'", "idxmax()"],
    # bureau.get(id, DEFAULT_BUREAU): a left join with defaults
    "loans": ["how='left'", "DEFAULT_BUREAU", "keep='last'"],
    # the nested-loop search with break: the first product wins
    "reviews": ["keep='first'", "how='inner'", "handle_unknown='error'"],
}


@pytest.mark.parametrize("case", CASES)
def test_offline_rewrite_of_each_case_is_verified_equivalent(case):
    messy_case = messy_script(case).parent
    result = rewrite_offline((messy_case / "messy.py").read_text(), base_dir=messy_case)
    code = generate_module(result, "messy.py")

    assert result.gaps == []
    for trap in TRAPS[messy_case.name]:
        assert trap in code, trap
    verdict = verify_rewrite(messy_case / "messy.py", code, edge_cases=False)
    assert verdict.equivalent, verdict.feedback()


def test_a_rewrite_that_drops_the_last_duplicate_rule_is_not_equivalent():
    messy_case = messy_script("creditcard").parent
    result = rewrite_offline((messy_case / "messy.py").read_text(), base_dir=messy_case)
    code = generate_module(result, "messy.py").replace("keep='last'", "keep='first'")
    assert not verify_rewrite(messy_case / "messy.py", code, edge_cases=False).equivalent
