"""The train job's progress bar: one bar over the run's iterations, as an RL loop wants it.

    continuous_pricing  45%|████▌     | 9000/20000 [00:41<00:50, 218 it/s, price=1.86, mf_err=0.0131, Phi_twin=0.437]

The bar counts the learner's iterations (not Lightning's epochs or batches), from where a resumed run starts, with
tqdm's rate and ETA; after each evaluation it shows the evaluator's short metrics (``Evaluator.progress``) from the
evaluation callback's history: integers as integers, other numbers to 3 significant digits. While a watched metric
is worse than it started, the bar says so in a word: ``warning=mf_err worse``. Only rank 0 draws it.
"""

from __future__ import annotations

import sys

from lightning.pytorch.callbacks import ProgressBar
from tqdm.auto import tqdm

from .evaluation.callbacks import EvaluationCallback, worse_metrics


def shown(value: float | int) -> str:
    """``value`` for the bar: an integer as one (``8000``, not ``8e+03``), another number to 3 significant digits."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.3g}"


class IterationProgressBar(ProgressBar):
    def __init__(self, evaluation: EvaluationCallback, total: int, description: str):
        super().__init__()
        self.evaluation, self.total, self.description = evaluation, int(total), description
        self.bar: tqdm | None = None
        self.enabled = True
        self._shown_evaluations = 0

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer, learner) -> None:
        if self.enabled and trainer.is_global_zero:
            start = int(learner.iteration)
            self.bar = tqdm(total=self.total, initial=start, desc=self.description, unit="it", dynamic_ncols=True,
                            file=sys.stderr, smoothing=0.1)
            self._update_postfix()

    def on_train_batch_end(self, trainer, learner, outputs, batch, batch_idx) -> None:
        if self.bar is None:
            return
        self.bar.update(int(learner.iteration) - self.bar.n)
        if len(self.evaluation.history) != self._shown_evaluations:
            self._update_postfix()

    def on_train_end(self, trainer, learner) -> None:
        if self.bar is not None:
            self.bar.update(int(learner.iteration) - self.bar.n)
            self._update_postfix()
            self.bar.close()
            self.bar = None

    def on_exception(self, trainer, learner, exception: BaseException) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _update_postfix(self) -> None:
        history, evaluator = self.evaluation.history, self.evaluation.evaluator
        self._shown_evaluations = len(history)
        if not history:
            return
        last = history[-1]
        postfix = {short: shown(last[name]) for short, name in evaluator.progress if name in last}
        worse = worse_metrics(history, evaluator.watch)
        if worse:
            names = {name: short for short, name in evaluator.progress}
            postfix["warning"] = ", ".join(names.get(key, key) for key in worse) + " worse"
        self.bar.set_postfix(postfix, refresh=True)
