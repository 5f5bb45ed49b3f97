"""The part of the sandbox that runs inside the sandboxed interpreter (standard library only).

It installs an audit hook (PEP 578) that refuses network access, process creation and
writes outside the allowed folders, then runs the target: a script file, a code string or
a module. Used as a script by :func:`lester.rewrite.sandbox.run_sandboxed` and imported by
the warm fork server of :class:`lester.rewrite.sandbox.WarmSandbox`.

An audit hook is a guard against accidents and careless generated code, not against an
adversary who can load native code; the network is additionally cut by a network namespace
(``unshare -rn``) where the machine allows one.

Examples
--------
>>> _is_write(os.O_WRONLY | os.O_CREAT), _is_write(os.O_RDONLY)
(True, False)
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import traceback

VIOLATION_MARK = "LESTER-SANDBOX-VIOLATION:"

_NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "socket.sendto",
        "socket.sendmsg",
    }
)
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"}
)
# event -> positions of the path arguments that the event modifies
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.symlink": (1,),
    "os.link": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_ALWAYS_WRITABLE = ("/dev/null", "/dev/stdout", "/dev/stderr")


def _is_write(flags: int) -> bool:
    return bool(flags & _WRITE_FLAGS)


def _refuse(message: str) -> None:
    # os.write raises no audit event, so reporting cannot recurse into the hook.
    os.write(2, f"\n{VIOLATION_MARK} {message}\n".encode("utf-8", "replace"))
    raise PermissionError(f"lester sandbox: {message}")


def install_guard(writable: list[str]) -> None:
    """Install the audit hook; ``writable`` are the folders writes may go to."""
    roots = [os.path.realpath(root) for root in writable]

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor was checked when it was opened
        try:
            resolved = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        if resolved in _ALWAYS_WRITABLE:
            return True
        return any(resolved == root or resolved.startswith(root + os.sep) for root in roots)

    def hook(event: str, args: tuple) -> None:
        if event in _NETWORK_EVENTS:
            _refuse(f"network access refused ({event})")
        elif event in _PROCESS_EVENTS:
            _refuse(f"starting processes is refused ({event})")
        elif event == "open":
            path, _mode, flags = args
            if isinstance(flags, int) and _is_write(flags) and not inside(path):
                _refuse(f"writing {path!r} outside the working folder is refused")
        elif event in _PATH_EVENTS:
            for position in _PATH_EVENTS[event]:
                if position < len(args) and not inside(args[position]):
                    _refuse(f"{event} of {args[position]!r} outside the working folder is refused")

    sys.addaudithook(hook)


def run_target(target: dict) -> int:
    """Run ``{"kind": "script"|"code"|"module", "value": ..., "argv": [...]}`` as
    ``__main__``; returns the exit code (1 and a traceback on an exception)."""
    argv = list(target.get("argv") or [])
    kind, value = target["kind"], target["value"]
    try:
        if kind == "script":
            sys.argv = [value, *argv]
            sys.path[0:0] = [os.path.dirname(os.path.abspath(value))]
            runpy.run_path(value, run_name="__main__")
        elif kind == "module":
            sys.argv = [value, *argv]
            runpy.run_module(value, run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *argv]
            exec(compile(value, "<sandboxed code>", "exec"), {"__name__": "__main__"})
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # the target's own failure: report it like the interpreter does
        traceback.print_exc()
        return 1
    return 0


def enter(config: dict) -> int:
    """Set up the working folder and the guard, then run the target."""
    os.chdir(config["workdir"])
    os.environ.update(config.get("env", {}))
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # re-read TMPDIR in a forked child
    sys.dont_write_bytecode = True
    if sys.path and sys.path[0] in ("", os.path.dirname(os.path.abspath(__file__))):
        sys.path[0] = config["workdir"]
    install_guard(config["writable"])
    code = run_target(config["target"])
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(config: dict) -> None:
    """In the forked child: own process group, limits, logs, then the target."""
    import resource

    code = 1
    try:
        os.setpgid(0, 0)
        # The limit counts on top of what the warm interpreter already holds.
        memory = _address_space() + config["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = max(1, int(config["timeout_s"]) + 1)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        size = config["max_file_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, config["stdout"]), (2, config["stderr"])):
            log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(log, fd)
            os.close(log)
        code = enter(config)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run_forked(config: dict) -> dict:
    import signal
    import time

    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        _child(config)
    deadline = time.monotonic() + config["timeout_s"]
    pause, timed_out = 0.002, False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return {"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}


def serve(preload: list[str]) -> None:
    """The warm server: import ``preload``, then answer one JSON line per JSON request."""
    import importlib

    sys.dont_write_bytecode = True
    for name in preload:
        importlib.import_module(name)
    channel = sys.stdout
    channel.write("ready\n")
    channel.flush()
    for line in sys.stdin:
        if line.strip():
            channel.write(json.dumps(_run_forked(json.loads(line))) + "\n")
            channel.flush()


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve([name for name in sys.argv[2].split(",") if name])
    else:
        with open(sys.argv[1], encoding="utf-8") as handle:
            sys.exit(enter(json.load(handle)))
