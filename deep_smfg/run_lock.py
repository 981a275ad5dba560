"""One writer per run folder: a lock file holding the writer's pid, host, start time and command.

The lock is created with ``O_CREAT | O_EXCL`` (atomic on local and NFS-v3+ file systems), so of two jobs started
together on one ``run_dir`` exactly one gets it and the other fails at once, naming the holder. A lock whose
process is gone (same host, no such pid: a ``kill -9`` or a crashed node) is stale: it is reported and cleared.
A lock from another host cannot be checked from here; ``break_lock=true`` clears it (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

from .config import ConfigError

LOCK_NAME = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class RunLock:
    def __init__(self, path: Path):
        self.path = path
        self.held = False

    @classmethod
    def acquire(cls, folder: Path, command: str, break_lock: bool = False) -> RunLock:
        lock = cls(Path(folder) / LOCK_NAME)
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now().isoformat(timespec="seconds"), "command": command}
        for _ in range(2):
            try:
                fd = os.open(lock.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                lock._clear_or_refuse(break_lock)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(holder, f)
            lock.held = True
            return lock
        raise ConfigError(f"could not take the lock {lock.path}: another writer took it at the same moment")

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # being written this instant, or garbage: treated as held by an unknown process

    def _clear_or_refuse(self, break_lock: bool) -> None:
        holder = self.holder()
        who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')} "
               f"({holder.get('command', '?')})")
        here = holder.get("host") == socket.gethostname()
        stale = here and isinstance(holder.get("pid"), int) and not _alive(holder["pid"])
        if stale or break_lock:
            print(f"warning: cleared {'a stale' if stale else 'the'} lock of {self.path.parent}: {who}"
                  f"{' is no longer running' if stale else ' (break_lock=true)'}", file=sys.stderr)
            self.path.unlink(missing_ok=True)
            return
        hint = ("" if here else "; its host is not this one, so whether it still runs cannot be checked from here: "
                "if it is gone, pass break_lock=true")
        raise ConfigError(f"{self.path.parent} is in use by another run: {who}{hint}")

    def release(self) -> None:
        if self.held:
            holder = self.holder()
            if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self.held = False


def release_lock(folder: Path) -> None:
    """Remove ``folder``'s lock if this process holds it (for exits that skip the ``with`` blocks)."""
    lock = RunLock(Path(folder) / LOCK_NAME)
    lock.held = True
    lock.release()
