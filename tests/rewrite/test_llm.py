"""The LLM rewrite loop against a real local OpenAI-compatible HTTP server that replays
scripted answers; each accepted module is really run and compared with the messy script."""

from __future__ import annotations

from pathlib import Path

import pytest

from lester.rewrite.llm import (
    LLMConfig,
    LLMRewriteError,
    RoundStatus,
    assemble_module,
    extract_code,
    rewrite_with_llm,
)
from tests.rewrite.chat_server import ChatServer, Scripted
from tests.rewrite.messy_orders import (
    CORRECT_MODULE,
    DATAPREP,
    DATAPREP_WORDS,
    OUTPUT_COLUMNS,
    WRONG_MODULE,
    CountingVerifier,
    chain_answers,
    fenced,
    write_case,
)

CHAIN = [
    "dataprep",
    "dataprep-local-variables",
    "dataprep-method-names",
    "dataprep-path-parameters",
    "features",
    "labels",
]


@pytest.fixture
def case(tmp_path: Path):
    """The messy orders script, its data and the real verifier on the real inputs only."""
    folder = tmp_path / "case"
    sources = write_case(folder)
    return (
        folder,
        sources,
        CountingVerifier(folder / "messy.py", sources, edge_cases=False, minimize=False),
    )


@pytest.fixture
def full_case(case):
    """The same, verified on the real inputs and the generated edge cases."""
    folder, sources, _ = case
    return folder, sources, CountingVerifier(folder / "messy.py", sources)


def config_for(server: ChatServer, timeout_s: float = 20) -> LLMConfig:
    return LLMConfig(
        model="test-model", base_url=server.url, api_key=None, timeout_s=timeout_s, max_retries=0
    )


def run_loop(case, server: ChatServer, max_rounds: int = 4, timeout_s: float = 20):
    folder, sources, check = case
    messages: list[str] = []
    result = rewrite_with_llm(
        folder / "messy.py",
        sources=sources,
        config=config_for(server, timeout_s),
        max_rounds=max_rounds,
        verify=check,
        progress=messages.append,
        output_columns=OUTPUT_COLUMNS,
    )
    return result, messages


@pytest.mark.slow
def test_a_correct_chain_is_verified_in_the_first_round(full_case) -> None:
    folder, sources, verifier = full_case
    with ChatServer(chain_answers()) as server:
        result, progress = run_loop(full_case, server)

    assert result.verified and result.verdict.equivalent
    assert [r.status for r in result.rounds] == [RoundStatus.ACCEPTED]
    assert [request.prompt for request in result.rounds[0].requests] == CHAIN
    assert len(server.requests) == 6 and server.remaining == 0
    # The real verifier ran the accepted module against the script, edge cases included.
    statuses = {case.name: case.status for case in result.verdict.cases}
    assert statuses["real inputs"] == "equivalent" and verifier.calls == 1
    assert statuses["duplicate key: customers"] == "equivalent"
    assert all(body["model"] == "test-model" for body in server.requests)

    script = (folder / "messy.py").read_text()
    first = server.last_user_message(0)
    assert script in first and "_lester_dataprep" in first and str(OUTPUT_COLUMNS) in first
    assert "customers_path" in first and "orders_path" in first
    # The refinements continue the data-prep conversation, features and labels start anew.
    assert [len(body["messages"]) for body in server.requests] == [2, 4, 6, 8, 2, 2]
    assert "@" in server.last_user_message(1)
    assert "ColumnTransformer" in server.last_user_message(4)
    assert "extract_label(df)" in server.last_user_message(5)
    # What was sent: the script and the header line of each source, never a data row.
    everything_sent = "".join(
        m["content"]
        for body in server.requests
        for m in body["messages"]
        if m["role"] != "assistant"
    )
    for path in sources.values():
        header, first_row = path.read_text().splitlines()[:2]
        assert header in everything_sent and first_row not in everything_sent
    report = "\n".join(result.report_lines())
    assert "6 requests (dataprep, dataprep-local-variables" in report
    assert "first 1 line(s) of customers.csv, orders.csv" in report
    assert report.endswith("verified equivalent in round 1")
    assert any("round 1/4" in line for line in progress)


@pytest.mark.slow
def test_a_wrong_rewrite_is_rejected_and_its_feedback_leads_to_the_fix(full_case) -> None:
    answers = [*chain_answers(dataprep=DATAPREP_WORDS), fenced(CORRECT_MODULE)]
    with ChatServer(answers) as server:
        result, _ = run_loop(full_case, server)

    first, second = result.rounds
    assert first.status is RoundStatus.VERIFIER_REJECTED
    assert second.status is RoundStatus.ACCEPTED and result.verified
    assert [request.prompt for request in second.requests] == ["repair"]
    repair_message = server.last_user_message(6)
    # The verifier's feedback (the first differing rows) is what went back to the model,
    # together with the wrong module and the original script.
    assert first.feedback and first.feedback in repair_message
    assert "smallest input found" in first.feedback and "original only" in first.feedback
    assert "len(row['note'].split())" in repair_message
    assert "if amount <= 0:" in repair_message
    assert result.code == extract_code(fenced(CORRECT_MODULE))
    assert full_case[2].calls == 2


def test_syntax_errors_are_fed_back_until_the_module_parses(case) -> None:
    broken = DATAPREP.replace(
        "def _lester_dataprep(customers_path, orders_path):",
        "def _lester_dataprep(customers_path, orders_path)",
    )
    still_broken = CORRECT_MODULE.replace(
        "return ColumnTransformer([", "return ColumnTransformer([["
    )
    answers = [*chain_answers(dataprep=broken), fenced(still_broken), fenced(CORRECT_MODULE)]
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server)

    statuses = [r.status for r in result.rounds]
    assert statuses == [RoundStatus.SYNTAX_ERROR, RoundStatus.SYNTAX_ERROR, RoundStatus.ACCEPTED]
    assert "syntax error" in result.rounds[0].feedback
    assert result.rounds[0].feedback in server.last_user_message(6)
    assert result.rounds[1].feedback in server.last_user_message(7)
    # The follow-up continues the repair conversation: the broken answer is in it.
    assert any("ColumnTransformer([[" in m["content"] for m in server.requests[7]["messages"])
    assert case[2].calls == 1  # nothing that does not parse is ever run


def test_a_forbidden_api_is_rejected_without_running_the_module(case, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    sneaky = CORRECT_MODULE.replace(
        "import lester as lt",
        f"import lester as lt\nimport subprocess\nsubprocess.run(['touch', {str(marker)!r}])",
    )
    answers = [*chain_answers(), fenced(CORRECT_MODULE)]
    answers[3] = fenced(sneaky)
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server)

    first, second = result.rounds
    assert first.status is RoundStatus.FORBIDDEN_API
    assert "import of 'subprocess' is not allowed" in first.detail
    assert first.feedback in server.last_user_message(6)
    assert second.status is RoundStatus.ACCEPTED
    assert not marker.exists() and case[2].calls == 1


def test_a_static_check_failure_names_the_undeclared_column(case) -> None:
    overdeclared = DATAPREP.replace("source_columns=['note']", "source_columns=['note', 'amount']")
    answers = [*chain_answers(dataprep=overdeclared), fenced(CORRECT_MODULE)]
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server)

    assert result.rounds[0].status is RoundStatus.STATIC_CHECK_FAILURE
    assert "declares source_columns ['amount'] that its function never reads" in (
        server.last_user_message(6)
    )
    assert result.verified and case[2].calls == 1


def test_a_timeout_ends_its_round_and_the_next_round_resends_the_request(case) -> None:
    answers = [Scripted(content=fenced(DATAPREP), delay_s=1.5), *chain_answers()]
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server, timeout_s=0.5)

    first, second = result.rounds
    assert first.status is RoundStatus.TIMEOUT and "no answer within 0.5s" in first.detail
    assert first.requests[0].error and first.requests[0].prompt == "dataprep"
    assert second.status is RoundStatus.ACCEPTED
    assert server.requests[1]["messages"] == server.requests[0]["messages"]
    assert "round 1: 1 request (dataprep)" in "\n".join(result.report_lines())


def test_an_http_error_ends_its_round_without_ending_the_loop(case) -> None:
    answers = [
        *chain_answers()[:4],
        Scripted(status=503, content="overloaded"),
        *chain_answers()[4:],
    ]
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server)

    assert [r.status for r in result.rounds] == [RoundStatus.HTTP_ERROR, RoundStatus.ACCEPTED]
    assert "HTTP 503" in result.rounds[0].detail
    # Round 2 resumed the chain at the failed step instead of starting over.
    assert [r.prompt for r in result.rounds[1].requests] == ["features", "labels"]


def test_after_max_rounds_the_result_says_not_verified(case) -> None:
    answers = [*chain_answers(dataprep=DATAPREP_WORDS), fenced(WRONG_MODULE)]
    with ChatServer(answers) as server:
        result, _ = run_loop(case, server, max_rounds=2)

    assert not result.verified and result.code is None
    assert result.candidate == extract_code(fenced(WRONG_MODULE))
    assert [r.status for r in result.rounds] == [RoundStatus.VERIFIER_REJECTED] * 2
    assert result.report_lines()[-1] == "LLM rewrite NOT verified after 2 of 2 rounds"
    assert result.to_dict()["verified"] is False
    assert len(server.requests) == 7


def test_a_verifier_that_cannot_run_stops_the_loop(case) -> None:
    _, sources, verifier = case
    orders = sources["orders"]
    lines = orders.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 2)[0] + ",12,5e,note"  # the original now crashes on it
    orders.write_text("\n".join(lines) + "\n")
    with ChatServer([*chain_answers(), fenced(CORRECT_MODULE)]) as server:
        result, _ = run_loop(case, server)

    assert [r.status for r in result.rounds] == [RoundStatus.VERIFIER_ERROR]
    assert "OriginalScriptError" in result.error and not result.verified
    assert len(server.requests) == 6 and verifier.calls == 1
    assert result.report_lines()[-1].startswith("LLM rewrite stopped in round 1: the verifier")


def test_an_unreachable_endpoint_is_reported_per_round(case) -> None:
    with ChatServer([]) as server:
        url = server.url  # the port is free again once the server is closed
    folder, sources, check = case
    config = LLMConfig("m", base_url=url, api_key=None, timeout_s=5, max_retries=0)
    result = rewrite_with_llm(
        folder / "messy.py", sources=sources, config=config, max_rounds=2, verify=check
    )
    assert [r.status for r in result.rounds] == [RoundStatus.CONNECTION_ERROR] * 2
    assert not result.verified and check.calls == 0


def test_bad_input_is_refused_before_anything_is_sent(case, tmp_path: Path) -> None:
    folder, sources, check = case
    with ChatServer(chain_answers()) as server:
        with pytest.raises(LLMRewriteError, match="source files do not exist"):
            rewrite_with_llm(
                folder / "messy.py",
                sources={"orders": tmp_path / "nope.csv"},
                config=config_for(server),
                verify=check,
            )
        with pytest.raises(LLMRewriteError, match="max_rounds"):
            rewrite_with_llm(
                folder / "messy.py",
                sources=sources,
                config=config_for(server),
                verify=check,
                max_rounds=0,
            )
        assert server.requests == []


def test_sample_lines_zero_sends_no_line_of_the_data(case) -> None:
    folder, sources, check = case
    with ChatServer(chain_answers()) as server:
        config = LLMConfig("m", server.url, None, timeout_s=20, max_retries=0, sample_lines=0)
        result = rewrite_with_llm(folder / "messy.py", sources=sources, config=config, verify=check)
    sent = "".join(m["content"] for body in server.requests for m in body["messages"])
    assert "order_id,customer_id,amount,note" not in sent
    assert result.verified and "no line of any source file" in "\n".join(result.report_lines())


# ---------------------------------------------------------------------------- code handling
def test_extract_code_takes_fenced_blocks_and_tolerates_a_cut_answer() -> None:
    assert extract_code("```py\na = 1\n```") == "a = 1"
    assert extract_code("text\n```python\ndef f():\n    return 1\n") == "def f():\n    return 1"
    assert extract_code("x = 2\n") == "x = 2"
    assert extract_code("``` ```") is None


def test_assemble_module_keeps_one_copy_of_shared_imports_and_helpers() -> None:
    helper = "import re\n\n\ndef clean(text):\n    return re.sub('x', '', text)\n"
    module = assemble_module([helper, helper + "\n\ndef other():\n    return 2\n"], header="h")
    assert module.count("import re") == 1 and module.count("def clean") == 1
    assert module.startswith('"""h"""') and "def other" in module
    broken = assemble_module(["def f(:\n    pass", "x = 1"])
    assert "def f(:" in broken and "x = 1" in broken


def test_a_module_with_future_import_keeps_it_first() -> None:
    module = assemble_module(
        ["import numpy as np\nA = 1", "from __future__ import annotations\nB = 2"]
    )
    assert module.splitlines()[0] == "from __future__ import annotations"
    compile(module, "m", "exec")


def test_the_prompts_match_lesters_real_api() -> None:
    import lester as lt
    from lester.rewrite import prompts

    text = prompts.LESTER_API
    for name in ["read_csv", "join", "union"]:
        assert f"lt.{name}(" in text and hasattr(lt, name)
    for method in ["filter", "project", "distinct", "explode", "groupby", "rename", "select"]:
        assert f".{method}(" in text and hasattr(lt.TrackedFrame, method)
    assert "_lester_dataprep(<source>_path" in prompts.CONTRACT
