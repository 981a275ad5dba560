"""When a run has learnt what it will learn: the stop rule ``algo.stop`` (docs/stopping.md).

After each evaluation the rule reads the run's history (the evaluator's metrics, one row per evaluation) and
ends the run when

* **targets**: every metric named in ``algo.stop.targets`` has reached its value (``<=`` for a metric where lower
  is better, ``>=`` where higher is; the evaluator declares which in ``Evaluator.better``), or
* **plateau** (``algo.stop.plateau=true``): every metric the evaluator watches has stopped improving. Write the
  metric so that lower is better; over its last ``window`` evaluations fit a least-squares line, and let ``noise``
  be the range of the residuals about it. With ``best_before`` its best value before those evaluations, the metric
  has plateaued when both

      best_before - min(last window)      <= allowance   (no new best beyond the noise)
      -slope * (window - 1)               <= allowance   (no descent across the window beyond the noise)
      allowance = max(noise, relative * |best_before|)   (relative: only where lower is better)

  A metric on its way down has a fitted descent larger than its scatter about the line, so it goes on; noise
  around a level has neither a new best nor a descent beyond its own scatter, so it stops. The relative term
  serves the metrics whose ideal is 0 (exploitability, gaps, errors: their value is their scale) and is left out
  where higher is better (an objective has no natural zero). No constant is in a metric's own units: a new game
  needs no preset.

``algo.iterations`` stays the cap. :func:`stop_reason` is the whole rule; :class:`StopRule` is its config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from .config import ConfigError, RunEnded

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
    if not isinstance(node, Mapping):
        raise ConfigError(f"algo.stop={node!r}: must be a map with the keys {', '.join(keys)} (docs/stopping.md)")
    if not isinstance(node.get("targets", {}), Mapping):
        raise ConfigError(f"algo.stop.targets={node['targets']!r}: must be a map {{metric: value}}, e.g. "
                          "+algo.stop.targets.leader_gap=0.01")
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
    best_before = min(losses[:-window])
    slope, residuals = line_fit(recent)
    noise = max(residuals) - min(residuals)
    allowance = max(noise, relative * abs(best_before) if better == "lower" else 0.0)
    new_best = best_before - min(recent)
    trend = -slope * (window - 1)  # the fitted line's descent across the window
    return new_best <= allowance and trend <= allowance


def line_fit(y: list[float]) -> tuple[float, list[float]]:
    """The least-squares slope of ``y`` against ``0, 1, ...`` and the residuals about the line."""
    n = len(y)
    x_mean, y_mean = (n - 1) / 2, sum(y) / n
    sxx = sum((x - x_mean) ** 2 for x in range(n))
    slope = sum((x - x_mean) * (v - y_mean) for x, v in enumerate(y)) / sxx if sxx else 0.0
    return slope, [v - y_mean - slope * (x - x_mean) for x, v in enumerate(y)]


def reached(value: float, target: float, better: str) -> bool:
    return SIGN[better] * (value - target) <= 0


def stop_reason(rule: StopRule, history: list[dict], better: Mapping[str, str],
                watch: Mapping[str, str]) -> dict | None:
    """Why the run should stop after its last evaluation (``{"reason": "targets" | "plateau", ...}``), or None."""
    if not history:
        return None
    last = history[-1]
    missing = sorted(set(rule.targets) - set(last))
    if missing:  # declared in Evaluator.better, not reported for this game (e.g. price_error without a market)
        reported = ", ".join(sorted(k for k in last if k in better))
        raise RunEnded(f"algo.stop.targets.{missing[0]}: the evaluator reported no {missing[0]} at iteration "
                       f"{last.get('iteration', '?')}; it reported {reported}", "failed", 1)
    if rule.targets and all(reached(float(last[m]), t, better[m]) for m, t in rule.targets.items()):
        return {"reason": "targets", "targets": dict(rule.targets),
                "values": {m: float(last[m]) for m in rule.targets}}
    if rule.plateau and all(plateaued([float(row[m]) for row in history], direction, rule.window, rule.relative)
                            for m, direction in watch.items()):
        return {"reason": "plateau", "window": rule.window, "relative": rule.relative,
                "values": {m: float(last[m]) for m in watch}}
    return None
