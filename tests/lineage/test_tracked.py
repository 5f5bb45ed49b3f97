"""lester.lineage.tracked: which sink hears what, and when."""

from __future__ import annotations

import pytest

from lester.lineage import tracked
from lester.lineage.description import describe_start


class Recorder:
    def __init__(self) -> None:
        self.heard: list[str] = []

    def start(self, run):
        self.heard.append("start")

    def complete(self, run):
        self.heard.append("complete")

    def fail(self, run, error):
        self.heard.append("fail")


class BatchingRecorder(Recorder):
    def succeeded(self, run):
        self.heard.append("succeeded")


def describe():
    return describe_start("p", {}, ".", {})


def test_a_run_reported_only_on_success_reaches_each_sink_once_it_succeeded():
    plain, batching = Recorder(), BatchingRecorder()
    with tracked([plain, batching], describe, only_success=True):
        assert plain.heard == batching.heard == []  # nothing before the body succeeded
    assert plain.heard == ["start", "complete"]
    assert batching.heard == ["succeeded"]


def test_a_run_reported_only_on_success_leaves_no_trace_when_it_fails():
    plain, batching = Recorder(), BatchingRecorder()
    with pytest.raises(ValueError), tracked([plain, batching], describe, only_success=True):
        raise ValueError("refused")
    assert plain.heard == batching.heard == []


def test_a_tracked_run_reports_its_start_before_the_body_and_never_uses_succeeded():
    batching = BatchingRecorder()
    with tracked([batching], describe):
        assert batching.heard == ["start"]
    assert batching.heard == ["start", "complete"]
