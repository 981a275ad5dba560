"""When a run has learnt what it will learn: the stop rule ``algo.stop`` (docs/stopping.md).

After each evaluation the rule reads the run's history (the evaluator's metrics, one row per evaluation) and
ends the run when

* **targets**: every metric named in ``algo.stop.targets`` has reached its value (``<=`` for a metric where lower
  is better, ``>=`` where higher is; the evaluator declares which in ``Evaluator.better``), or
* **plateau** (``algo.stop.plateau=true``): every metric the evaluator watches has stopped improving. With
  ``best_before`` the best value before the last ``window`` evaluations, ``best_recent`` the best of those, and
  ``spread`` their range (max - min), a metric has plateaued when

      best_before - best_recent <= max(spread, relative * |best_before|)   (the mirror image where higher is better)

  that is, when the last evaluations moved its best by no more than they scatter among themselves (a metric still
  on its way down moves by more than its window's range: the range is then the way down itself), or by no more
  than ``relative`` of its size. The second term serves the metrics whose ideal is 0 (exploitability, gaps,
  errors: their value is their scale) and is left out where higher is better (an objective has no natural zero,
  so its size says nothing). No constant is in a metric's own units: a new game needs no preset.

``algo.iterations`` stays the cap. :func:`stop_reason` is the whole rule; :class:`StopRule` is its config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from .config import ConfigError

SIGN = {"lower": 1.0, "higher": -1.0}  # x * SIGN: lower is better for every metric


@dataclass(frozen=True)
class StopRule:
    plateau: bool = False
    window: int = 4  # evaluations
    relative: float = 0.05  # a fraction of a lower-is-better metric's size
    targets: Mapping[str, float] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.plateau or bool(self.targets)

    def checked(self, better: Mapping[str, str], watch: Mapping[str, str]) -> StopRule:
        """This rule, or a :class:`ConfigError` naming what is wrong (``better``: the metrics an evaluator reports
        with a direction; ``watch``: those the plateau test reads)."""
        if self.window < 1:
            raise ConfigError(f"algo.stop.window={self.window}: must be an integer >= 1 (evaluations)")
        if not self.relative >= 0:
            raise ConfigError(f"algo.stop.relative={self.relative}: must be a number >= 0")
        for name, value in self.targets.items():
            if name not in better:
                raise ConfigError(f"algo.stop.targets.{name}: this game's evaluator has no such metric; a target may "
                                  f"name {', '.join(sorted(better))}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"algo.stop.targets.{name}={value!r}: must be a number")
        if self.plateau and not watch:
            raise ConfigError("algo.stop.plateau=true: this game's evaluator watches no metric")
        return self


def stop_rule(node: Mapping, eval_every: int, better: Mapping[str, str], watch: Mapping[str, str]) -> StopRule:
    """The rule of the config node ``algo.stop``, checked against the evaluator's metrics, or a :class:`ConfigError`."""
    keys = [f.name for f in fields(StopRule)]
    unknown = sorted(set(node) - set(keys))
    if unknown:
        raise ConfigError(f"algo.stop.{unknown[0]}: unknown key (algo.stop's keys: {', '.join(keys)})")
    rule = StopRule(**node)
    if rule.active and not eval_every:
        raise ConfigError("algo.stop reads the run's evaluations: algo.eval_every=0 has none (set it, or turn "
                          "algo.stop.plateau off and its targets empty)")
    return rule.checked(better, watch)


def plateaued(values: list[float], better: str, window: int, relative: float) -> bool:
    """Whether a metric's evaluations ``values`` (first to last) have stopped improving (module docstring)."""
    if len(values) < window + 1:
        return False
    losses = [SIGN[better] * v for v in values]  # lower is better
    recent = losses[-window:]
    best_before, best_recent = min(losses[:-window]), min(recent)
    size = relative * abs(best_before) if better == "lower" else 0.0
    return best_before - best_recent <= max(max(recent) - best_recent, size)


def reached(value: float, target: float, better: str) -> bool:
    return SIGN[better] * (value - target) <= 0


def stop_reason(rule: StopRule, history: list[dict], better: Mapping[str, str],
                watch: Mapping[str, str]) -> dict | None:
    """Why the run should stop after its last evaluation (``{"reason": "targets" | "plateau", ...}``), or None."""
    if not history:
        return None
    last = history[-1]
    if rule.targets and all(reached(float(last[m]), t, better[m]) for m, t in rule.targets.items()):
        return {"reason": "targets", "targets": dict(rule.targets),
                "values": {m: float(last[m]) for m in rule.targets}}
    if rule.plateau and all(plateaued([float(row[m]) for row in history], direction, rule.window, rule.relative)
                            for m, direction in watch.items()):
        return {"reason": "plateau", "window": rule.window, "relative": rule.relative,
                "values": {m: float(last[m]) for m in watch}}
    return None
