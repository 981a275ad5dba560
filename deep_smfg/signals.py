"""SIGTERM (what a scheduler sends) and SIGINT (Ctrl-C) end a training run cleanly (docs/reliability.md).

Inside ``trainer.fit`` Lightning's own SIGTERM handler flags the signal and its loop stops after the current
training step, raising ``SIGTERMException``; a SIGINT is turned into a SIGTERM so that it stops the same way (never
in the middle of an update), and :class:`~deep_smfg.checkpoints.RunCheckpoint` saves the state. Outside the fit
(the reference computation before it, the report after it) nothing needs saving: the handler writes summary.json
with ``status: interrupted``, releases the folder's lock and exits at once. Either way the exit code is
128 + the signal's number (143 for SIGTERM, 130 for SIGINT).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Callable

from .config import RunEnded

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Signals:
    """``where``: what the job is doing outside a fit, in the error line."""

    def __init__(self, where: str = "outside training (the reference computation or the report)"):
        self.where = where
        self.signum: int | None = None
        self.in_fit = False
        self.on_exit: Callable[[str], None] | None = None  # writes the summary and releases the lock
        self._previous = {}

    def __enter__(self) -> Signals:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGTERM).name

    @property
    def code(self) -> int:
        return 128 + (self.signum or signal.SIGTERM)

    def _handle(self, signum, frame) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if self.in_fit:
            if signum == signal.SIGINT and first:
                os.kill(os.getpid(), signal.SIGTERM)  # Lightning's handler flags it; the loop stops after this step
            return
        message = f"stopped by {self.name} {self.where}"
        if self.on_exit is not None:
            self.on_exit(message)
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(self.code)


    def ended(self, run_dir: Path, iteration: int, checkpoint: str) -> RunEnded:
        """The error that ends a fit stopped by the signal, with where its state is."""
        return RunEnded(f"stopped by {self.name} at iteration {iteration}; the state is saved in "
                        f"{checkpoint or 'no checkpoint'}: deep-smfg train ... run_dir={run_dir} resume=last "
                        f"continues it", "interrupted", self.code)
