"""The sandbox: generated code that escapes its folder or the network fails, and nothing
escapes. Every test runs in a fresh interpreter and in a child of the warm fork server."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from lester.rewrite.sandbox import (
    SandboxLimits,
    WarmSandbox,
    network_namespace_available,
    run_sandboxed,
    scrubbed_environment,
)


@pytest.fixture(scope="module")
def warm():
    with WarmSandbox(preload=["numpy"]) as sandbox:
        yield sandbox


@pytest.fixture(params=["fresh", "warm"])
def run(request, warm):
    return run_sandboxed if request.param == "fresh" else warm.run


def test_writing_outside_the_folder_fails_and_the_file_does_not_appear(run, tmp_path):
    outside = tmp_path / "outside" / "escaped.txt"
    outside.parent.mkdir()
    code = f"open({str(outside)!r}, 'w').write('leaked')\nprint('not reached')"
    result = run(code, tmp_path / "work")
    assert not result.ok
    assert "outside the working folder" in result.violations[0]
    assert "not reached" not in result.stdout
    assert not outside.exists()


def test_relative_escape_and_swallowed_refusal_are_still_violations(run, tmp_path):
    code = (
        "try:\n"
        "    open('../escaped.txt', 'a').write('x')\n"
        "except PermissionError:\n"
        "    pass\n"
        "open('inside.txt', 'w').write('fine')\n"
    )
    result = run(code, tmp_path / "work")
    assert result.returncode == 0 and not result.ok  # the code caught it; the run still fails
    assert (tmp_path / "work" / "inside.txt").read_text() == "fine"
    assert not (tmp_path / "escaped.txt").exists()


def test_deleting_or_renaming_outside_the_folder_is_refused(run, tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("data")
    for statement in (f"os.remove({str(victim)!r})",
                      f"os.rename({str(victim)!r}, 'stolen.txt')",
                      f"shutil.rmtree({str(tmp_path)!r})"):  # fmt: skip
        result = run(f"import os, shutil\n{statement}", tmp_path / "work")
        assert not result.ok and result.violations, statement
    assert victim.read_text() == "data"


class _Listener:
    """A real TCP server on localhost that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connected = False
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connected = True
            connection.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.server.close()


@pytest.mark.parametrize("namespace", [True, False], ids=["with unshare", "audit hook only"])
def test_opening_a_socket_fails_and_reaches_no_server(tmp_path, namespace):
    listener = _Listener()
    try:
        code = (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {listener.port}), timeout=2).send(b'x')\n"
        )
        limits = SandboxLimits(timeout_s=20, network_namespace=namespace)
        result = run_sandboxed(code, tmp_path / "work", limits=limits)
        assert not result.ok
        assert any("network access refused" in v for v in result.violations)
        assert result.network_isolated == (namespace and network_namespace_available())
        time.sleep(0.3)
        assert not listener.connected
    finally:
        listener.close()


def test_name_lookup_and_child_processes_are_refused(run, tmp_path):
    for code in ("import socket; socket.getaddrinfo('example.com', 80)",
                 "import subprocess; subprocess.run(['true'])",
                 "import os; os.system('true')"):  # fmt: skip
        result = run(code, tmp_path / "work")
        assert not result.ok and result.violations, code


def test_the_environment_holds_no_keys(run, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "token-secret")
    code = "import os; print(sorted(os.environ.items()))"
    # the warm server scrubbed its environment when it started, before these were set
    result = run(code, tmp_path / "work")
    assert result.ok
    assert "secret" not in result.stdout
    assert "sk-" not in result.stdout


def test_scrubbed_environment_drops_secrets_but_keeps_the_locale():
    secrets = {"GITHUB_TOKEN": "x", "DB_PASSWORD": "y", "GOOGLE_APPLICATION_CREDENTIALS": "/k"}
    env = scrubbed_environment({"PATH": "/usr/bin", "LC_ALL": "C.UTF-8", **secrets})
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8"
    assert not {"GITHUB_TOKEN", "DB_PASSWORD", "GOOGLE_APPLICATION_CREDENTIALS"} & set(env)


def test_a_run_that_exceeds_its_time_is_killed(run, tmp_path):
    started = time.perf_counter()
    result = run("while True:\n    pass", tmp_path / "work", limits=SandboxLimits(timeout_s=1))
    assert result.timed_out and not result.ok
    assert time.perf_counter() - started < 10


def test_a_run_that_exceeds_its_memory_fails(run, tmp_path):
    code = "block = bytearray(1536 * 1024 * 1024)\nprint('allocated')"
    result = run(code, tmp_path / "work", limits=SandboxLimits(memory_mb=512))
    assert not result.ok and "MemoryError" in result.stderr
    assert "allocated" not in result.stdout


def test_inputs_are_copies_at_their_relative_paths(run, tmp_path):
    source = tmp_path / "customers.csv"
    source.write_text("id\n1\n")
    code = (
        "text = open('data/customers.csv').read()\n"
        "open('data/customers.csv', 'w').write('')\n"
        "print(text.split())"
    )
    result = run(code, tmp_path / "work", inputs={"data/customers.csv": source})
    assert result.ok and result.stdout.strip() == "['id', '1']"
    assert source.read_text() == "id\n1\n"


def test_a_failing_script_reports_its_own_traceback(run, tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "messy.py").write_text("def f():\n    return 1 / 0\nf()\n")
    result = run(["messy.py"], tmp_path / "work")
    assert result.returncode == 1
    failure = result.failure()
    assert "ZeroDivisionError" in failure and 'messy.py", line 2' in failure
    assert "runpy" not in failure
