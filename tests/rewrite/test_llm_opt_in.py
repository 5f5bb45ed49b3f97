"""Nothing reaches an LLM endpoint unless the caller opts in, even with an LLM fully
configured in the environment: a recording server stands in for the endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lester
from lester.pipeline import load_pipeline
from lester.rewrite.llm import load_llm_config
from tests.rewrite.chat_server import ChatServer
from tests.rewrite.messy_orders import chain_answers, write_case

REPOSITORY_SRC = Path(lester.__file__).resolve().parents[1]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """An LLM configured through the environment, pointing at a recording server."""
    with ChatServer(chain_answers()) as server:
        monkeypatch.setenv("LESTER_LLM_MODEL", "test-model")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield server


def test_loading_the_configuration_sends_nothing(configured: ChatServer) -> None:
    config = load_llm_config()
    assert config.base_url == configured.url
    assert configured.requests == []


def lester_rewrite(folder: Path, *options: str) -> subprocess.CompletedProcess:
    from lester.cli import main

    if "rewrite" not in main.commands:
        pytest.skip("the lester rewrite command is not in this build yet")
    return subprocess.run(
        [sys.executable, "-m", "lester", "rewrite", "messy.py", "-o", "pipeline.py", *options],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY_SRC)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_rewrite_command_sends_nothing_without_llm(
    configured: ChatServer, tmp_path: Path
) -> None:
    folder = tmp_path / "case"
    write_case(folder)
    completed = lester_rewrite(folder)
    assert configured.requests == [], completed.stdout + completed.stderr
    assert "(offline)" in completed.stdout


@pytest.mark.slow
def test_the_rewrite_command_with_llm_writes_the_verified_answer(
    configured: ChatServer, tmp_path: Path
) -> None:
    folder = tmp_path / "case"
    write_case(folder)
    completed = lester_rewrite(folder, "--llm")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert len(configured.requests) == 6
    assert "verified equivalent in round 1" in completed.stdout
    # The written module is a pipeline the runner can load: the whole contract, one
    # parameter per source.
    assert load_pipeline(folder / "pipeline.py").source_names == ["customers", "orders"]
