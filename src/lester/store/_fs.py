"""File-system primitives: atomic writes, fsync, hashing and the crash hook used by tests.

Every file the store writes goes through :func:`write_atomic`: the bytes are written to a
temporary name in the target directory, fsynced, and renamed into place, so a reader (or a
restart after ``kill -9``) sees either no file or the whole file. Temporary names start with
:data:`TEMP_PREFIX`, which is how :meth:`lester.store.Store.recover` recognises leftovers.

Examples
--------
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> write_atomic(target, b"hello")
>>> sha256_file(target) == sha256_bytes(b"hello")
True
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import shutil
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".tmp-"
_MAX_READ = 0x7FFFF000
CRASH_ENV = "LESTER_STORE_CRASH_AT"


def sha256_bytes(data: bytes | memoryview) -> str:
    """Hex sha256 of ``data``.

    Examples
    --------
    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content, read in blocks.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     sha256_file(f.name)[:12]
    'e3b0c44298fc'
    """
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def read_file(path: str, size: int) -> bytes:
    """The whole content of the file at ``path``, expected to hold ``size`` bytes: one
    ``read`` call when it does (no ``stat``, no buffered reader), more when it is longer.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> read_file(f.name, 3), read_file(f.name, 1)
    (b'abc', b'abc')
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(descriptor, size + 1)
        # A short read of a regular file means its end, except at Linux's 2 GiB cap per call.
        if len(data) <= size and len(data) < _MAX_READ:
            return data
        blocks = [data]
        while block := os.read(descriptor, 1 << 20):
            blocks.append(block)
        return b"".join(blocks)
    finally:
        os.close(descriptor)


def temp_name(name: str) -> str:
    """A fresh temporary file or folder name that :func:`is_temp` recognises.

    Examples
    --------
    >>> is_temp(temp_name("x.json"))
    True
    """
    return f"{TEMP_PREFIX}{secrets.token_hex(4)}-{name}"


def is_temp(name: str) -> bool:
    """Whether a file or folder name is a temporary one (a leftover when no writer runs).

    Examples
    --------
    >>> is_temp("manifest.v000001.json")
    False
    """
    return name.startswith(TEMP_PREFIX)


def write_atomic(path: Path, data: bytes | memoryview, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync it, and rename it into place.

    The caller fsyncs the directory (once for many files, see :func:`fsync_dirs`). With
    ``fsync=False`` the caller makes the file durable later, with :func:`sync_filesystem`,
    before anything refers to it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "b.bin"
    >>> write_atomic(path, b"x"); path.read_bytes()
    b'x'
    """
    temp = path.with_name(temp_name(path.name))
    try:
        with open(temp, "xb") as file:
            file.write(data)
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        crash_point("file:temp")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _load_syncfs() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError, TypeError):  # not Linux (or an old libc)
        return None
    function.argtypes = [ctypes.c_int]
    return function


_syncfs = _load_syncfs()


def can_sync_filesystem() -> bool:
    """Whether :func:`sync_filesystem` is available (Linux's ``syncfs``).

    Examples
    --------
    >>> import sys
    >>> can_sync_filesystem() == sys.platform.startswith("linux")
    True
    """
    return _syncfs is not None


def sync_filesystem(path: Path) -> None:
    """Make every file and directory change on the file system holding ``path`` durable,
    with one ``syncfs`` call.

    A writer of many new files calls it once instead of fsyncing each file and each folder
    (about 40 calls for an update of five customers): one journal commit instead of one per
    call. It also writes back other processes' dirty data on that file system, which can
    make it slower on a busy shared disk, never less safe.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a", b"1", fsync=False)
    >>> sync_filesystem(folder) if can_sync_filesystem() else None
    """
    if _syncfs is None:
        raise OSError("syncfs is not available on this system")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs failed: {os.strerror(error)}", str(path))
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make renames and deletions inside the directory ``path`` durable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fsync_dir(pathlib.Path(tempfile.gettempdir()))
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(paths: Iterable[Path]) -> None:
    """:func:`fsync_dir` each existing directory of ``paths`` once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fsync_dirs([pathlib.Path(tempfile.gettempdir()), pathlib.Path("/no/such/dir")])
    """
    for path in sorted(set(paths)):
        if path.is_dir():
            fsync_dir(path)


def remove_tree(path: Path) -> None:
    """Remove a file or folder tree if it exists, then fsync its parent.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()); remove_tree(folder); folder.exists()
    False
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    if path.parent.is_dir():
        fsync_dir(path.parent)


def crash_point(stage: str) -> None:
    """Kill this process with SIGKILL if ``$LESTER_STORE_CRASH_AT`` names ``stage``.

    Tests use it to check that a crash at any stage of a write leaves the old or the new
    version; it costs one environment look-up otherwise.

    Examples
    --------
    >>> crash_point("update:switched")  # no-op unless the variable is set
    """
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)
