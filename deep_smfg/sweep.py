"""Sweeps: ``deep-smfg COMMAND -m key=a,b ...`` runs one job per combination of values (docs/sweeps.md).

The expansion is Hydra's own (its override parser and basic sweeper: comma lists, ``range(...)``,
``choice(...)``, ``glob(...)``), so a sweep means what it means in any Hydra app. Every job's config is
composed and checked before the first job runs; the jobs then run one after another in this process,
each in its own run folder under one sweep folder, and the finished jobs are summarised in
``sweep.csv`` (one row per job) and ``sweep.md`` (per job, then mean ± sd over seeds per setting).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, open_dict

from .config import ConfigError, RunEnded

MAX_FOLDER_NAME = 80  # job folder names stay well under the file system's 255 bytes
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

    @property
    def folder_name(self) -> str:
        """``<number>_<key=value,...>`` over the swept keys (Hydra's override_dirname style), file-system safe."""
        short = ",".join(f"{k}={v}" for k, v in self.swept.items())
        short = re.sub(r"[^\w.=,+-]", "_", short)[:MAX_FOLDER_NAME]
        return f"{self.number}_{short}" if short else str(self.number)


@dataclass
class JobResult:
    """A finished job: ``status`` is ``ok``, ``failed: <error>``, ``diverged: ...`` or ``interrupted: ...``;
    ``metrics`` are its final numbers."""

    job: Job
    status: str
    run_dir: str
    metrics: dict[str, float] = field(default_factory=dict)
    code: int = 0  # an interrupted job's exit code (128 + signal): the sweep stops there

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- expanding the command line -------------------------------------------------------------------


def expand(overrides: Sequence[str], config_loader: ConfigLoader | None = None) -> list[Job]:
    """The jobs of ``overrides``: the cartesian product of every sweep (Hydra's basic-sweeper semantics).

    ``config_loader`` lists a config group's options for ``glob(...)`` sweeps; without it those fail.
    Raises Hydra's ``HydraException`` on an override Hydra cannot parse.
    """
    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(list(overrides))
    is_sweep: dict[str, bool] = {}
    for override in parsed:  # a repeated key: the last one wins, as in the basic sweeper
        is_sweep[override.get_key_element()] = override.is_sweep_override()
    swept = [key for key, sweep in is_sweep.items() if sweep]
    (batch,) = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    jobs = []
    for number, job_overrides in enumerate(batch):
        values = dict(o.split("=", 1) for o in job_overrides)
        jobs.append(Job(number, list(job_overrides), {key: values[key] for key in swept}))
    return jobs


def is_seed(key: str) -> bool:
    """Keys averaged over in the per-setting table: ``seed`` and any ``<group>.seed`` (e.g. ``optimum.seed``)."""
    name = key.lstrip("+~").split("@", 1)[0]
    return name == "seed" or name.endswith(".seed")


# --- planning and running -------------------------------------------------------------------------


def default_sweep_dir(command: str) -> Path:
    return Path("runs") / "sweeps" / command / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def plan(jobs: list[Job], compose: Callable[[list[str]], DictConfig], command: str) -> tuple[Path, list[DictConfig]]:
    """Compose (and check, inside ``compose``) every job's config, then give each job its run folder.

    Writes nothing: any bad job raises ``ConfigError`` before the first job runs. The sweep folder is the
    jobs' common ``sweep_dir`` (default ``runs/sweeps/<command>/<timestamp>``); it must be new or empty,
    so that the summary only ever describes this sweep's jobs.
    """
    for key in ("sweep_dir", "run_dir"):
        if any(is_sweep_key(job, key) for job in jobs):
            raise ConfigError(f"{key} cannot be swept")
    cfgs = [_compose_job(job, compose) for job in jobs]
    if any(cfg.get("run_dir") for cfg in cfgs):
        raise ConfigError("a sweep sets each job's run_dir itself; choose the sweep's folder with sweep_dir=...")
    sweep_dir = Path(cfgs[0].sweep_dir) if cfgs[0].get("sweep_dir") else default_sweep_dir(command)
    if sweep_dir.exists() and any(sweep_dir.iterdir()):
        raise ConfigError(f"sweep folder {sweep_dir} is not empty; choose another sweep_dir=")
    for job, cfg in zip(jobs, cfgs, strict=True):
        with open_dict(cfg):  # a config folder of your own may lack the sweep_dir key
            cfg.run_dir = str(sweep_dir / job.folder_name)
            cfg.sweep_dir = str(sweep_dir)
    return sweep_dir, cfgs


def _compose_job(job: Job, compose: Callable[[list[str]], DictConfig]) -> DictConfig:
    try:
        return compose(job.overrides)
    except ValueError as exc:  # ConfigError and the games' definition errors: say which job
        raise ConfigError(f"job {job.number} ({job.label}): {exc}") from exc


def is_sweep_key(job: Job, key: str) -> bool:
    return any(k.lstrip("+~") == key for k in job.swept)


def run_jobs(jobs: Sequence[Job], cfgs: Sequence[DictConfig], run: Callable[[DictConfig], str]) -> list[JobResult]:
    """Run the planned jobs one after another, announcing each on stdout."""
    results = []
    for job, cfg in zip(jobs, cfgs, strict=True):
        print(f"[sweep] job {job.number + 1}/{len(jobs)}: {job.label} -> {cfg.run_dir}", flush=True)
        results.append(run_job(job, cfg, run))
        print(f"[sweep] job {job.number + 1}/{len(jobs)}: {results[-1].status}", flush=True)
        if results[-1].code:  # SIGTERM or Ctrl-C: the sweep stops with the job
            break
    return results


def run_job(job: Job, cfg: DictConfig, run: Callable[[DictConfig], str]) -> JobResult:
    """Run one job in this process; a failure is recorded (and its traceback printed), never raised.

    The job runs on a copy of the environment: the train command hands state to its DDP children through
    environment variables (its run folder), which must not leak into the next job.
    """
    saved_env = dict(os.environ)
    try:
        run(cfg)
        summary_path = Path(cfg.run_dir) / SUMMARY
        if not summary_path.is_file():
            return JobResult(job, f"failed: no {SUMMARY} written", cfg.run_dir)
        return JobResult(job, "ok", cfg.run_dir, metrics_of(json.loads(summary_path.read_text())))
    except RunEnded as exc:
        if exc.status != "interrupted":  # diverged: recorded like any failure
            return JobResult(job, f"{exc.status}: {(str(exc).splitlines() or [''])[0]}", cfg.run_dir)
        return JobResult(job, f"interrupted: {exc}", cfg.run_dir, code=exc.code)
    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the others
        traceback.print_exc(file=sys.stderr)
        first_line = (str(exc).splitlines() or [""])[0]
        return JobResult(job, f"failed: {type(exc).__name__}: {first_line}", cfg.run_dir)
    finally:
        _finish_wandb_run()
        os.environ.clear()
        os.environ.update(saved_env)


def _finish_wandb_run() -> None:
    """Close a W&B run a job left open: Lightning's WandbLogger would reuse it for the next job."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """The numbers a sweep reports: ``summary["final"]`` (train) or the summary's top-level numbers (solve)."""
    source = summary["final"] if isinstance(summary.get("final"), dict) else summary
    return {key: float(value) for key, value in source.items() if _is_number(value)}


def _is_number(value: Any) -> bool:
    # run folders write non-finite floats as the strings "nan", "inf", "-inf" (JSON has no such numbers)
    if isinstance(value, str):
        return value in ("nan", "inf", "-inf")
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
