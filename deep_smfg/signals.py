"""SIGTERM (what a scheduler sends) and SIGINT (Ctrl-C) end a job cleanly (docs/reliability.md).

Inside a fit the handler only records the signal; :class:`StopOnSignal`, a callback, hands it to Lightning at the
next training step (as a SIGTERM to this process, which Lightning's own handler flags and, under DDP, passes to
every rank), so the loop stops after a whole step, never in the middle of an update, and
:class:`~deep_smfg.checkpoints.RunCheckpoint` saves the state. A signal that arrives while the fit is starting
(before Lightning installs its handler) is handed over at the first step. Outside a fit (the reference
computation before it, the report after it, a solver) nothing needs saving: the handler calls ``on_exit`` (which
writes summary.json with ``status: interrupted`` and releases the folder's lock) and exits at once. Either way the
exit code is 128 + the signal's number (143 for SIGTERM, 130 for SIGINT).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Callable

from lightning.pytorch.callbacks import Callback

from .config import RunEnded

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Signals:
    """``with Signals(where) as signals:`` the job's handlers; ``where`` says what it does outside a fit."""

    def __init__(self, where: str = "outside training (the reference computation or the report)"):
        self.where = where
        self.signum: int | None = None
        self.in_fit = False
        self.on_exit: Callable[[str], None] = lambda message: None
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
        self.signum = self.signum or signum
        if self.in_fit:
            return  # StopOnSignal hands it to Lightning at the next training step
        message = f"stopped by {self.name} {self.where}"
        self.on_exit(message)
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(self.code)

    def ended(self, run_dir: Path, iteration: int, checkpoint: str) -> RunEnded:
        """The error that ends a fit stopped by the signal, with where its state is."""
        return RunEnded(f"stopped by {self.name} at iteration {iteration}; the state is saved in "
                        f"{checkpoint or 'no checkpoint'}: deep-smfg train ... run_dir={run_dir} resume=last "
                        f"continues it", "interrupted", self.code)


class StopOnSignal(Callback):
    """Hands a recorded signal to Lightning's SIGTERM handling at the start of a training step."""

    def __init__(self, signals: Signals):
        self.signals = signals

    def on_train_batch_start(self, trainer, learner, batch, batch_idx) -> None:
        if self.signals.signum is not None and not trainer.received_sigterm:
            os.kill(os.getpid(), signal.SIGTERM)
