"""Sweeps: ``deep-smfg COMMAND -m key=a,b ...`` runs one job per combination of values (docs/sweeps.md).

Hydra runs the sweep (its sweeper expands the overrides, its launcher runs the jobs: one after another, in
parallel with ``hydra/launcher=joblib``, on a cluster with ``hydra/launcher=submitit_slurm``). This module holds
what the sweep's callbacks (deep_smfg/hydra_callbacks.py) need: the jobs a command line stands for, to check
every one before any runs, and the tables of the finished jobs: ``sweep.csv`` (one row per job) and ``sweep.md``
(per job, then mean ± sd over seeds per setting).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType

MAX_FOLDER_NAME = 80  # job folder names stay well under the file system's 255 bytes
MAX_CHECKED = 64  # combinations of values checked before a sweep; beyond, each value once (docs/sweeps.md)
SUMMARY = "summary.json"


@dataclass(frozen=True)
class Job:
    """One job of a sweep: its number, its full override list and the values of the swept keys."""

    number: int
    overrides: list[str]
    swept: dict[str, str]

    @property
    def label(self) -> str:
        """The swept values, ``key=value`` separated by spaces (``(no swept keys)`` for a one-job sweep)."""
        return " ".join(f"{k}={v}" for k, v in self.swept.items()) or "(no swept keys)"


@dataclass
class JobResult:
    """A finished job: ``status`` is ``ok``, ``failed: <error>``, ``diverged: ...`` or ``interrupted: ...``;
    ``metrics`` are its final numbers."""

    job: Job
    status: str
    run_dir: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- expanding the command line -------------------------------------------------------------------


def folder_name(override_dirname: str) -> str:
    """A job folder's name after its number: Hydra's ``override_dirname`` of the swept keys, with characters other
    than letters, digits and ``. = , + -`` replaced by ``_`` and cut to :data:`MAX_FOLDER_NAME` characters."""
    return re.sub(r"[^\w.=,+-]", "_", override_dirname)[:MAX_FOLDER_NAME]


def sweep_values(override: Override) -> list[str]:
    """The values a swept override takes: each value of a list, ``range`` or ``choice``; an ``interval``'s two
    ends (the values a sweeper such as Optuna draws lie between them)."""
    if override.value_type == ValueType.INTERVAL_SWEEP:
        interval = override.value()
        return [str(interval.start), str(interval.end)]
    return list(override.sweep_string_iterator())


def parse(overrides: Sequence[str], config_loader: ConfigLoader | None = None) -> dict[str, list[str]]:
    """``key -> values`` of ``overrides`` in command-line order: a swept key's values, a fixed key's one value (a
    repeated key: the last one wins, in the first one's place, as in Hydra's basic sweeper). The swept keys are
    :func:`swept_of`. ``config_loader`` lists a config group's options for ``glob(...)``. Raises Hydra's
    ``HydraException`` on an override Hydra cannot parse."""
    values: dict[str, list[str]] = {}
    for override in OverridesParser.create(config_loader=config_loader).parse_overrides(list(overrides)):
        key = override.get_key_element()
        values[key] = (sweep_values(override) if override.is_sweep_override()
                       else [override.get_value_element_as_str()])
    return values


def swept_of(values: dict[str, list[str]]) -> list[str]:
    """The keys that take more than one value (``seed=0,1``; ``seed=3`` and ``seed=choice(3)`` are one job)."""
    return [key for key, vals in values.items() if len(vals) > 1]


def _jobs(values: dict[str, list[str]], combinations) -> list[Job]:
    swept = swept_of(values)
    return [Job(n, [f"{k}={v}" for k, v in chosen.items()], {k: chosen[k] for k in swept})
            for n, chosen in enumerate(dict(zip(values, c, strict=True)) for c in combinations)]


def expand(overrides: Sequence[str], config_loader: ConfigLoader | None = None) -> list[Job]:
    """The jobs of ``overrides``: the cartesian product of every swept key's values, the first key varying slowest,
    numbered as Hydra's basic sweeper numbers them (``hydra.job.num``)."""
    values = parse(overrides, config_loader)
    return _jobs(values, itertools.product(*values.values()))


def checked_jobs(overrides: Sequence[str], config_loader: ConfigLoader | None = None) -> list[Job]:
    """The jobs a sweep's check composes: every job while there are at most :data:`MAX_CHECKED`, else each swept
    value once (with the other keys at their first value)."""
    values = parse(overrides, config_loader)
    if math.prod(len(v) for v in values.values()) <= MAX_CHECKED:
        return _jobs(values, itertools.product(*values.values()))
    first = [vals[0] for vals in values.values()]
    variants = [[*first[:i], v, *first[i + 1:]] for i, vals in enumerate(values.values()) for v in vals[1:]]
    return _jobs(values, [first, *variants])


def is_seed(key: str) -> bool:
    """Keys averaged over in the per-setting table: ``seed`` and any ``<group>.seed`` (e.g. ``optimum.seed``)."""
    name = key.lstrip("+~").split("@", 1)[0]
    return name == "seed" or name.endswith(".seed")


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """The numbers a sweep reports: ``summary["final"]`` (train) or the summary's top-level numbers (solve)."""
    source = summary["final"] if isinstance(summary.get("final"), dict) else summary
    return {key: float(value) for key, value in source.items() if _is_number(value)}


def _is_number(value: Any) -> bool:
    # run folders write non-finite floats as the strings "nan", "inf", "-inf" (JSON has no such numbers)
    if isinstance(value, str):
        return value in ("nan", "inf", "-inf")
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def job_result(job: Job, run_dir: Path) -> JobResult:
    """A finished job's row, read from its run folder's ``summary.json`` (its ``status`` and ``error``)."""
    path = run_dir / SUMMARY
    if not path.is_file():
        return JobResult(job, f"failed: no {SUMMARY} written", str(run_dir))
    summary = json.loads(path.read_text())
    status = summary.get("status", "completed")
    if status != "completed":
        return JobResult(job, f"{status}: {(str(summary.get('error', '')).splitlines() or [''])[0]}", str(run_dir))
    return JobResult(job, "ok", str(run_dir), metrics_of(summary))


# --- summarising ----------------------------------------------------------------------------------


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); the sd of fewer than two values is nan."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def swept_keys(results: Sequence[JobResult]) -> list[str]:
    return list(results[0].job.swept) if results else []


def metric_keys(results: Sequence[JobResult]) -> list[str]:
    """Every metric any finished job reported, in order of first appearance."""
    keys: dict[str, None] = {}
    for result in results:
        keys.update(dict.fromkeys(result.metrics))
    return list(keys)


def job_table(results: Sequence[JobResult]) -> tuple[list[str], list[list[Any]]]:
    """One row per job: job number, swept values, status, final metrics (None where missing), run folder."""
    keys, metrics = swept_keys(results), metric_keys(results)
    header = ["job", *keys, "status", *metrics, "run_dir"]
    rows = [[r.job.number, *(r.job.swept[k] for k in keys), r.status, *(r.metrics.get(m) for m in metrics),
             r.run_dir] for r in results]
    return header, rows


def setting_table(results: Sequence[JobResult]) -> tuple[list[str], list[list[Any]]]:
    """One row per setting (the swept values other than seeds): the number of finished seeds and, per metric,
    ``(mean, sd)`` over them (None without any). Failed jobs are left out of the statistics."""
    keys, metrics = [k for k in swept_keys(results) if not is_seed(k)], metric_keys(results)
    groups: dict[tuple[str, ...], list[JobResult]] = {}
    for r in results:
        groups.setdefault(tuple(r.job.swept[k] for k in keys), []).append(r)
    rows = []
    for setting, members in groups.items():
        done = [r for r in members if r.ok]
        values = [[r.metrics[m] for r in done if m in r.metrics] for m in metrics]
        stats = [mean_sd(v) if v else None for v in values]
        rows.append([*setting, len(done), *stats])
    return [*keys, "seeds", *metrics], rows


def fmt(value: Any) -> str:
    """A table cell: 4 significant digits for numbers, ``mean ± sd`` for a pair (just the mean if sd is nan),
    empty for a missing value."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        mean, sd = value
        return fmt(mean) if math.isnan(sd) else f"{fmt(mean)} ± {sd:.2g}"
    if isinstance(value, float):
        # counts (iterations, samples) stay whole numbers instead of 1e+04
        return str(int(value)) if value.is_integer() and abs(value) < 1e7 else f"{value:.4g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def sweep_markdown(results: Sequence[JobResult], title: str) -> str:
    """``sweep.md``: the per-job table, then (when seeds were swept) the per-setting mean ± sd table, then
    the failed jobs' errors (the job table's status column just says ``failed``, to stay readable)."""
    header, rows = job_table(results)
    status = header.index("status")
    rows = [[*row[:status], "ok" if r.ok else "failed", *row[status + 1:-1]]
            for r, row in zip(results, rows, strict=True)]
    text = f"# {title}\n\n## Jobs\n\n{markdown_table(header[:-1], rows)}\n"
    if any(is_seed(k) for k in swept_keys(results)):
        text += f"\n## Settings: mean ± sd over seeds\n\n{markdown_table(*setting_table(results))}\n"
    failed = [r for r in results if not r.ok]
    if failed:
        text += "\n## Failed jobs\n\n" + "".join(f"- job {r.job.number} ({r.job.label}): {r.status}\n" for r in failed)
    return text


def write_csv(path: Path, results: Sequence[JobResult]) -> None:
    """``sweep.csv``: the per-job table with full-precision numbers."""
    header, rows = job_table(results)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_summary(sweep_dir: Path, results: Sequence[JobResult], title: str) -> str:
    """Write ``sweep.csv`` and ``sweep.md`` into the sweep folder; returns the markdown."""
    write_csv(sweep_dir / "sweep.csv", results)
    text = sweep_markdown(results, title)
    (sweep_dir / "sweep.md").write_text(text)
    return text
