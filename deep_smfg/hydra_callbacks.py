"""Hydra callbacks of every command (configs/hydra_app/default.yaml): check every job before any runs, and write a
sweep's tables when it ends (docs/sweeps.md).

* :class:`CheckJobs`: before a run, its config; before a sweep, every job's (each combination of the swept values, an
  ``interval``'s two ends; beyond :data:`~deep_smfg.sweep.MAX_CHECKED` combinations each value once), the sweep folder
  (new or empty) and what a sweep refuses (``run_dir=``, a swept ``sweep_dir``). A bad job ends the command with
  exit code 2 and an error naming it, before Hydra makes any folder. It also names the job folders by
  the swept keys only (Hydra's ``override_dirname`` less the fixed keys).
* :class:`SweepTable`: each job's record (its number, overrides and result folder) at its end, in
  ``<sweep_dir>/.jobs/`` (removed at the end), wherever the launcher ran it; at the sweep's end ``sweep.csv`` and
  ``sweep.md`` (mean ± sd over seeds) from the jobs' ``summary.json``, printed, and the best job when the jobs return
  ``optimized_metric``.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from . import hydra_app, sweep
from .config import ConfigError
from .hydra_app import check_job, job_config
from .run_claim import check_run_path

JOBS = ".jobs"
# what the last sweep of this process ended with (read by deep_smfg/cli.py for the exit code)
LAST_SWEEP: dict[str, Any] = {}


def sweep_overrides(config: DictConfig) -> list[str]:
    """The sweep's overrides: the sweeper's ``params`` from the config (Optuna's search space), then the command
    line's (which win)."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)


def refusing(check):
    """A check whose :class:`ConfigError` (or game definition error) ends the process with exit code 2 and one error
    line: Hydra turns a callback's exceptions into warnings, but lets ``SystemExit`` through."""

    def checked(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check(self, config, **kwargs)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from exc

    return checked


class CheckJobs(Callback):
    @refusing
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        command = config.hydra.job.name
        check_job(command, job_config(config))
        if hydra_app.commands()[command].owns_output_dir:  # the folder Hydra is about to make
            hydra_app.FRESH_FOLDERS[:] = check_run_path(Path(config.hydra.run.dir))

    @refusing
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        command = config.hydra.job.name
        loader = GlobalHydra.instance().config_loader()
        overrides = sweep_overrides(config)
        values = sweep.parse(overrides, loader)
        swept = sweep.swept_of(values)
        owns_output_dir = hydra_app.commands()[command].owns_output_dir
        for key in ("sweep_dir", "run_dir") if owns_output_dir else ("sweep_dir",):  # evaluate: one run per job
            if key in swept:
                raise ConfigError(f"{key} cannot be swept")
        for job in sweep.checked_jobs(overrides, loader):
            try:
                cfg = job_config(loader.load_sweep_config(config, job.overrides))
                if cfg.get("run_dir") and owns_output_dir:
                    raise ConfigError("a sweep sets each job's run folder itself; choose the sweep's folder with "
                                      "sweep_dir=... (or hydra.sweep.dir=...)")
                check_job(command, cfg)
            except ValueError as exc:  # ConfigError and the games' definition errors: say which job
                raise ConfigError(f"job {job.number} ({job.label}): {exc}") from exc
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise ConfigError(f"sweep folder {sweep_dir} is not empty; choose another sweep_dir= (or hydra.sweep.dir=)")
        fixed = [key for key in values if key not in swept]
        with read_write(config.hydra), open_dict(config.hydra):  # each job folder: its number and swept values
            config.hydra.overrides.hydra.append(
                "hydra.job.config.override_dirname.exclude_keys=[" + ",".join(f"'{k}'" for k in fixed) + "]")


class SweepTable(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            print(f"[sweep] job {config.hydra.job.num}: {' '.join(config.hydra.overrides.task)} -> "
                  f"{config.hydra.runtime.output_dir}", flush=True)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        cfg = job_config(config)
        command = hydra_app.commands()[config.hydra.job.name]
        if command.owns_output_dir:
            with open_dict(cfg):
                cfg.run_dir = config.hydra.runtime.output_dir
        record = {"number": int(config.hydra.job.num), "overrides": list(job_return.overrides or []),
                  "result_dir": str(command.result_dir(cfg)), "returned": _number(job_return)}
        folder = Path(config.hydra.sweep.dir) / JOBS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record['number']}.json").write_text(json.dumps(record) + "\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        records = sorted((json.loads(p.read_text()) for p in (sweep_dir / JOBS).glob("*.json")),
                         key=lambda r: r["number"])
        swept = sweep.swept_of(sweep.parse(sweep_overrides(config), GlobalHydra.instance().config_loader()))
        results = []
        for record in records:
            chosen = dict(o.split("=", 1) for o in record["overrides"])
            job = sweep.Job(record["number"], record["overrides"], {k: chosen.get(k, "") for k in swept})
            results.append(sweep.job_result(job, Path(record["result_dir"])))
        title = f"deep-smfg {config.hydra.job.name} -m " + " ".join(config.hydra.overrides.task)
        print(sweep.write_summary(sweep_dir, results, title) if results else "no job finished")
        shutil.rmtree(sweep_dir / JOBS, ignore_errors=True)  # sweep.csv holds what the records said
        best = _best(records, config)
        if best is not None:
            print(f"best: job {best['number']} ({' '.join(best['overrides'])}): "
                  f"{config.get('optimized_metric')} = {best['returned']:.6g}")
        print(f"sweep folder: {sweep_dir}")
        failed = [r for r in results if not r.ok]
        if failed:
            print(f"error: {len(failed)} of {len(results)} jobs failed (status column of {sweep_dir / 'sweep.csv'})",
                  file=sys.stderr)
        LAST_SWEEP.update(sweep_dir=sweep_dir, results=results, best=best, code=1 if failed or not results else 0)


def _number(job_return: JobReturn) -> float | None:
    try:
        value = job_return.return_value
    except Exception:  # noqa: BLE001 - a job that raised returns nothing
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _best(records: list[dict], config: DictConfig) -> dict | None:
    """The job whose returned number is best (``hydra.sweeper.direction``: minimize unless it says maximize)."""
    scored = [r for r in records if r["returned"] is not None and math.isfinite(r["returned"])]
    if not scored:
        return None
    sign = -1.0 if "max" in str(OmegaConf.select(config, "hydra.sweeper.direction") or "minimize") else 1.0
    return min(scored, key=lambda r: sign * r["returned"])
