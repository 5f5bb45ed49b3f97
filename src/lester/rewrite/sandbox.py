"""Run untrusted Python (a messy script, a generated pipeline) in a sandbox.

Each run gets a working folder with copies of its inputs, time and memory limits
(``resource.setrlimit`` in the child), an environment scrubbed of keys, tokens and cloud
credentials, no network and no writes outside its folder. The last two are enforced by an
audit hook installed before the code runs (:mod:`lester.rewrite._sandbox_child`) and, where
the machine allows unprivileged namespaces, by running the interpreter in an empty network
namespace (``unshare -rn``).

:func:`run_sandboxed` starts a fresh interpreter per run. :class:`WarmSandbox` keeps one
interpreter with heavy modules (pandas, scikit-learn, lester) imported and forks a child per
run, which makes a run cost milliseconds instead of an interpreter start; the verifier uses
it for the many runs of rewritten pipelines.

Examples
--------
>>> import tempfile
>>> result = run_sandboxed("print(open('in.txt').read().upper())", tempfile.mkdtemp(),
...                        inputs={"in.txt": b"hello"})
>>> result.ok, result.stdout.strip()
(True, 'HELLO')
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lester.errors import LesterError
from lester.rewrite import _sandbox_child

CHILD_SCRIPT = Path(_sandbox_child.__file__).resolve()
_OUTPUT_LIMIT = 20_000  # characters of stdout/stderr kept per run

_SECRET_PARTS = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|CERT", re.IGNORECASE
)
_SECRET_PREFIXES = (
    "OPENAI_", "ANTHROPIC_", "AWS_", "AZURE_", "GOOGLE_", "GCP_", "GCLOUD_", "CLOUDSDK_",
    "HF_", "HUGGING", "GITHUB_", "GH_", "GITLAB_", "DOCKER_", "KUBE", "LESTER_LLM_", "SSH_",
    "NPM_", "TWINE_", "PIP_", "DATABASE_", "PG", "MYSQL_", "REDIS_", "SLACK_",
)  # fmt: skip
_KEPT_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "VIRTUAL_ENV", "SYSTEMROOT")


class SandboxError(LesterError, RuntimeError):
    """The sandbox itself could not be set up (not a failure of the sandboxed code)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandboxed run.

    ``memory_mb`` limits the address space (``RLIMIT_AS``); ``timeout_s`` is wall-clock
    time, after which the run is killed; CPU time is limited to the same number of
    seconds as a second line of defence.

    Examples
    --------
    >>> SandboxLimits(timeout_s=5).memory_mb
    4096
    """

    timeout_s: float = 120.0
    memory_mb: int = 4096
    max_file_mb: int = 512
    network_namespace: bool = True  # use ``unshare -rn`` when available


@dataclass
class SandboxResult:
    """What a sandboxed run did.

    Examples
    --------
    >>> SandboxResult(returncode=0, stdout="", stderr="").ok
    True
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    duration_s: float = 0.0
    violations: list[str] = field(default_factory=list)
    network_isolated: bool = False
    workdir: str = ""

    @property
    def ok(self) -> bool:
        """Exited with 0, in time, without touching anything it may not."""
        return self.returncode == 0 and not self.timed_out and not self.violations

    def failure(self, lines: int = 15) -> str:
        """Why the run failed, short: the violation, the timeout or the traceback's end."""
        if self.violations:
            return "refused by the sandbox: " + "; ".join(self.violations)
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s"
        tail = "\n".join(_without_sandbox_frames(self.stderr).strip().splitlines()[-lines:])
        return f"exit code {self.returncode}" + (f":\n{tail}" if tail else "")


def _without_sandbox_frames(stderr: str) -> str:
    """A traceback without the frames of the sandbox machinery (runpy, the child)."""
    kept, skip_source = [], False
    for line in stderr.splitlines():
        if line.startswith("  File ") and ("<frozen runpy>" in line or CHILD_SCRIPT.name in line
                                            or "<sandboxed code>" in line):  # fmt: skip
            skip_source = True
            continue
        if skip_source and line.startswith("    "):
            continue
        skip_source = False
        kept.append(line)
    return "\n".join(kept)


def scrubbed_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for sandboxed code: only harmless variables of ``base`` (locale,
    ``PATH``), never one whose name looks like a key, token, password or cloud credential.

    Examples
    --------
    >>> env = scrubbed_environment({"PATH": "/bin", "OPENAI_API_KEY": "sk-1", "LC_ALL": "C",
    ...                             "MY_TOKEN": "t", "HOME": "/root"})
    >>> sorted(env)
    ['LC_ALL', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'PATH', 'PYTHONDONTWRITEBYTECODE', \
'PYTHONHASHSEED']
    """
    base = os.environ if base is None else base
    env = {
        name: value
        for name, value in base.items()
        if (name in _KEPT_VARIABLES or name.startswith("LC_")) and not _is_secret(name)
    }
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",  # set iteration order is part of what the original computes
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def _is_secret(name: str) -> bool:
    upper = name.upper()
    return bool(_SECRET_PARTS.search(upper)) or upper.startswith(_SECRET_PREFIXES)


@cache
def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` works here (unprivileged user and network namespaces).

    Examples
    --------
    >>> isinstance(network_namespace_available(), bool)
    True
    """
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def copy_inputs(workdir: Path, inputs: Mapping[str, str | Path | bytes]) -> None:
    """Place the inputs at their relative paths in ``workdir``: a path is copied, bytes are
    written. Paths must stay inside ``workdir``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> copy_inputs(folder, {"data/a.csv": b"x\\n1\\n"})
    >>> (folder / "data" / "a.csv").read_text()
    'x\\n1\\n'
    """
    root = workdir.resolve()
    for relative, content in inputs.items():
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or Path(relative).is_absolute():
            raise SandboxError(
                f"input path {relative!r} leaves the working folder; inputs need paths "
                f"relative to it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copyfile(content, target)


def _target(command: str | Sequence[str]) -> dict:
    """``"code"`` for a string; ``["script.py", args...]`` or ``["-m", "module", args...]``."""
    if isinstance(command, str):
        return {"kind": "code", "value": command, "argv": []}
    command = [str(part) for part in command]
    if not command:
        raise SandboxError("an empty command; give code, [script, args...] or [-m, module, ...]")
    if command[0] == "-m":
        if len(command) < 2:
            raise SandboxError("'-m' needs a module name")
        return {"kind": "module", "value": command[1], "argv": command[2:]}
    return {"kind": "script", "value": command[0], "argv": command[1:]}


def _child_config(workdir: Path, command: str | Sequence[str]) -> dict:
    scratch = workdir / ".tmp"
    scratch.mkdir(exist_ok=True)
    return {
        "workdir": str(workdir),
        "writable": [str(workdir)],
        "target": _target(command),
        "env": {"HOME": str(workdir), "TMPDIR": str(scratch)},
    }


def _limit_resources(limits: SandboxLimits) -> None:
    """Runs in the child before the sandboxed code: address space, CPU time, file size."""
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, int(limits.timeout_s) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = limits.max_file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _python_path() -> str:
    """So that the sandboxed interpreter imports this very ``lester``."""
    import lester

    return str(Path(lester.__file__).resolve().parents[1])


def _violations(stderr: str) -> list[str]:
    mark = _sandbox_child.VIOLATION_MARK
    return [line.split(mark, 1)[1].strip() for line in stderr.splitlines() if mark in line]


def run_sandboxed(
    command: str | Sequence[str],
    workdir: str | Path,
    inputs: Mapping[str, str | Path | bytes] | None = None,
    limits: SandboxLimits | None = None,
) -> SandboxResult:
    """Run ``command`` in a fresh sandboxed interpreter inside ``workdir``.

    ``command`` is Python code (a string), ``[script, args...]`` (relative to ``workdir``)
    or ``["-m", module, args...]``. ``inputs`` maps relative paths to files to copy (or to
    bytes). The outputs stay in ``workdir`` for the caller to read.

    Examples
    --------
    >>> import tempfile
    >>> result = run_sandboxed("open('/tmp/../etc/lester-escape', 'w')", tempfile.mkdtemp())
    >>> result.ok, "outside the working folder" in result.violations[0]
    (False, True)
    """
    limits = limits or SandboxLimits()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    copy_inputs(workdir, inputs or {})
    config = _child_config(workdir, command)
    config_file = Path(tempfile.mkstemp(prefix="lester-sandbox-", suffix=".json")[1])
    config_file.write_text(json.dumps(config), encoding="utf-8")
    env = scrubbed_environment()
    env.update(config["env"], PYTHONPATH=_python_path())
    argv = [sys.executable, "-B", str(CHILD_SCRIPT), str(config_file)]
    isolated = limits.network_namespace and network_namespace_available()
    if isolated:
        argv = ["unshare", "-rn", *argv]
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: _limit_resources(limits),
        )
        timed_out = False
        try:
            stdout, stderr = process.communicate(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            stdout, stderr = process.communicate()
    finally:
        config_file.unlink(missing_ok=True)
    stderr_text = stderr.decode("utf-8", "replace")
    return SandboxResult(
        returncode=process.returncode,
        stdout=stdout.decode("utf-8", "replace")[-_OUTPUT_LIMIT:],
        stderr=stderr_text[-_OUTPUT_LIMIT:],
        timed_out=timed_out,
        duration_s=time.perf_counter() - started,
        violations=_violations(stderr_text),
        network_isolated=isolated,
        workdir=str(workdir),
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class WarmSandbox:
    """One sandboxed interpreter that imports ``preload`` once and forks a child per run.

    The server runs with the scrubbed environment and, where available, in its own empty
    network namespace; each forked child gets the resource limits, its working folder and
    the audit hook before the code runs, exactly like :func:`run_sandboxed` (the memory limit
    counts on top of what the warm interpreter already holds). Thread-safe: runs are
    serialised.

    Examples
    --------
    >>> import tempfile
    >>> with WarmSandbox(preload=["json"]) as sandbox:
    ...     result = sandbox.run("import json; print(json.dumps([1]))", tempfile.mkdtemp())
    >>> result.stdout.strip()
    '[1]'
    """

    def __init__(self, preload: Sequence[str] = (), limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.preload = list(preload)
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.network_isolated = False

    def _start(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        env = scrubbed_environment()
        env.update(PYTHONPATH=_python_path())
        argv = [sys.executable, "-B", str(CHILD_SCRIPT), "--serve", ",".join(self.preload)]
        self.network_isolated = self.limits.network_namespace and network_namespace_available()
        if self.network_isolated:
            argv = ["unshare", "-rn", *argv]
        self._process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        ready = self._process.stdout.readline()
        if ready.strip() != "ready":
            error = self._process.stderr.read()
            self._process = None
            raise SandboxError(f"the warm sandbox did not start: {ready}{error[-2000:]}")
        return self._process

    def run(
        self,
        command: str | Sequence[str],
        workdir: str | Path,
        inputs: Mapping[str, str | Path | bytes] | None = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxResult:
        """Like :func:`run_sandboxed`, in a child forked from the warm interpreter."""
        limits = limits or self.limits
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        copy_inputs(workdir, inputs or {})
        logs = Path(tempfile.mkdtemp(prefix="lester-sandbox-logs-"))
        config = _child_config(workdir, command)
        config.update(
            stdout=str(logs / "stdout"),
            stderr=str(logs / "stderr"),
            timeout_s=limits.timeout_s,
            memory_mb=limits.memory_mb,
            max_file_mb=limits.max_file_mb,
        )
        started = time.perf_counter()
        try:
            with self._lock:
                process = self._start()
                process.stdin.write(json.dumps(config) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
            if not answer:
                self.close()
                raise SandboxError("the warm sandbox stopped unexpectedly")
            status = json.loads(answer)
            stdout = _read_text(logs / "stdout")
            stderr = _read_text(logs / "stderr")
        finally:
            shutil.rmtree(logs, ignore_errors=True)
        return SandboxResult(
            returncode=status["returncode"],
            stdout=stdout[-_OUTPUT_LIMIT:],
            stderr=stderr[-_OUTPUT_LIMIT:],
            timed_out=status["timed_out"],
            duration_s=time.perf_counter() - started,
            violations=_violations(stderr),
            network_isolated=self.network_isolated,
            workdir=str(workdir),
        )

    def close(self) -> None:
        """Stop the server (idempotent)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()
        if process is not None:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> WarmSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes()[-4 * _OUTPUT_LIMIT :].decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


_shared: dict[tuple, WarmSandbox] = {}


def shared_warm_sandbox(preload: Sequence[str]) -> WarmSandbox:
    """A process-wide warm sandbox per preload list, stopped at exit.

    Examples
    --------
    >>> shared_warm_sandbox(["json"]) is shared_warm_sandbox(["json"])
    True
    """
    key = tuple(preload)
    if key not in _shared:
        _shared[key] = WarmSandbox(preload)
    return _shared[key]


@atexit.register
def _close_shared() -> None:
    for sandbox in _shared.values():
        sandbox.close()
