"""One writer per run folder: an exclusive ``flock`` on ``run_dir/.lock``, which names its holder.

The lock is the kernel's: ``flock(LOCK_EX | LOCK_NB)`` on the open file, so of two jobs started together on one
``run_dir`` exactly one gets it, and the other fails at once naming the holder (pid, host, start time, command,
written into the file by the holder). The kernel drops the lock when its process dies, however it dies, so a
``kill -9`` leaves no lock to clear by hand: the next job finds the file still naming a holder, reports it as
stale, and takes the lock. The file itself stays (emptied on release): removing it could let a job that opened
it just before lock an orphan. On network file systems ``flock`` works where the server supports locks (NFSv4,
Lustre with ``flock``); where it does not, the job warns and runs without a lock (docs/reliability.md).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

from .config import ConfigError

LOCK_NAME = ".lock"


class RunLock:
    """``with RunLock(folder, "deep-smfg train"):`` holds ``folder``'s lock for the block."""

    def __init__(self, folder: Path, command: str):
        self.path = Path(folder) / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _describe(_read(fd))
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(f"{self.path.parent} is in use by another run: {holder}") from exc
            print(f"warning: {self.path.parent}'s file system does not support locks ({exc.strerror}): running "
                  f"without one, so nothing stops a second job from writing here", file=sys.stderr)
            return
        previous = _read(fd)
        if previous:
            print(f"warning: cleared a stale lock of {self.path.parent}: {_describe(previous)} is no longer "
                  f"running", file=sys.stderr)
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now().isoformat(timespec="seconds"), "command": self.command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read(fd: int) -> dict:
    data = os.pread(fd, 4096, 0)
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        return {"pid": "?", "command": f"unreadable lock {data[:40]!r}"}


def _describe(holder: dict) -> str:
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')} "
            f"({holder.get('command', '?')})")
