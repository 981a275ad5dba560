"""The typed schema of every command's config: each key's type, range and whether it is required.

:func:`validate` runs on the composed config of ``train``, ``solve`` and ``evaluate`` (and of every job of a
sweep) before anything is computed or written; a bad value raises :class:`~deep_smfg.config.ConfigError` naming
the key, the value and what is valid (docs/reliability.md lists the rules). Keys are dotted paths; ``*`` stands
for one level (``algo.step_sizes.*.c`` is every group's constant). A game's parameters are typed by their
factory's defaults (a parameter whose default is a float takes a number, one whose default is an int takes an
integer, ...), and the factory checks their ranges; the learner and model checks (unknown keys, step-size
orders) stay with the classes that read them.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from .config import ConfigError

SEED_MAX = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces


@dataclass(frozen=True)
class Spec:
    """One key: ``kind`` is int, float (an int is taken), bool, str, "ints" (a list of integers), "int_or_ints",
    "sgd_or_adam" (one optimiser name or one per group) or "any"; ``lo``/``hi`` bound numbers (``open`` bounds
    exclude the end); ``choices`` lists the valid strings; ``null`` allows a null value."""

    kind: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None
    null: bool = False
    required: bool = False

    def describe(self) -> str:
        kind = "one of " + ", ".join(self.choices) if self.choices else KINDS[self.kind][1]
        parts = [kind]
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            parts.append(f"in {left}{_fmt(self.lo)}, {_fmt(self.hi)}{right}")
        elif self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_fmt(self.lo)}")
        elif self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {_fmt(self.hi)}")
        if self.null:
            parts.append("or null")
        return " ".join(parts)

    def accepts(self, value: Any) -> bool:
        return self.null if value is None else KINDS[self.kind][0](value, self)

    def in_range(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))


def _integer(value: Any, spec: Spec) -> bool:
    return type(value) is int and spec.in_range(value)


def _number(value: Any, spec: Spec) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and spec.in_range(value)


def _integers(value: Any, spec: Spec) -> bool:
    return type(value) in (list, tuple) and all(_integer(v, spec) for v in value)


def _integer_or_integers(value: Any, spec: Spec) -> bool:
    return _integer(value, spec) or (_integers(value, spec) and len(value) > 0)


def _strings(value: Any, spec: Spec) -> bool:
    return type(value) in (list, tuple) and all(type(v) is str for v in value)


def _optimizers(value: Any, spec: Spec) -> bool:
    return all(n in ("sgd", "adam") for n in (value.values() if type(value) is dict else [value]))


# kind -> (the check, how it reads in an error)
KINDS = {
    int: (_integer, "an integer"),
    float: (_number, "a number"),
    bool: (lambda value, spec: type(value) is bool, "true or false"),
    str: (lambda value, spec: type(value) is str and (spec.choices is None or value in spec.choices), "a string"),
    "ints": (_integers, "a list of integers"),
    "int_or_ints": (_integer_or_integers, "an integer or a list of integers"),
    "strs": (_strings, "a list of strings"),
    "sgd_or_adam": (_optimizers, "sgd or adam, or one of them per group"),
    "any": (lambda value, spec: True, "any value"),
}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def Int(lo=None, hi=None, **kw) -> Spec:  # noqa: N802 - reads like a type
    return Spec(int, lo, hi, **kw)


def Num(lo=None, hi=None, **kw) -> Spec:  # noqa: N802
    return Spec(float, lo, hi, **kw)


BOOL, STR, PATH = Spec(bool), Spec(str), Spec(str, null=True)
DTYPE = Spec(str, choices=("float32", "float64"))
SEED = Int(0, SEED_MAX)
THREADS = Int(1, 1024)
POSITIVE = Num(0, lo_open=True)
STEP = {"c": POSITIVE, "p": Num(0, 1, lo_open=True), "k0": Num(0), "start": Int(0)}

TRAIN: dict[str, Spec] = {
    "seed": SEED, "dtype": DTYPE, "threads": THREADS, "eval_threads": Int(0, 1024), "run_dir": PATH, "sweep_dir": PATH,
    "optimized_metric": PATH, "resume": PATH, "overwrite": BOOL, "progress_bar": BOOL,
    "reference.n_starts": Int(1), "reference.n_steps": Int(1), "reference.lr": POSITIVE,
    # the train job's keys of every algo
    "algo._target_": Spec(str, required=True), "algo.iterations": Int(1), "algo.checkpoint_every": Int(1),
    "algo.eval_every": Int(0), "algo.best_response_iterations": Int(0),
    "algo.stop.plateau": BOOL, "algo.stop.window": Int(1), "algo.stop.relative": Num(0), "algo.stop.targets.*": Num(),
    # what the learners share (deep_smfg/learners/base.py)
    "algo.n_envs": Int(1), "algo.iterations_per_step": Int(1), "algo.log_every": Int(1),
    "algo.optimizer": Spec("sgd_or_adam"), "algo.occupancy_restart": BOOL, "algo.reward_centering": BOOL,
    "algo.allow_any_step_order": BOOL, "algo.leader_gradient": STR,
    **{f"algo.step_sizes.*.{k}": v for k, v in STEP.items()},
    **{f"algo.population_step.{k}": v for k, v in STEP.items()},
    # each learner's own (their classes check the combinations)
    "algo.eta": POSITIVE, "algo.evaluation_steps": Int(1), "algo.inner_steps": Int(1), "algo.q_samples": Int(1),
    "algo.inner_iterations": Int(1), "algo.leader_iterations": Int(1), "algo.br_iterations": Int(1),
    "algo.inner_per_outer": Int(1), "algo.leader_temperature": Num(0),
    # model/
    "model.policy": STR, "model.critic": STR,  # the modules list the valid kinds for the game at hand
    "model.hidden": Spec("ints", 1), "model.init_log_std": Num(-20, 20),
    "model.covariance": Spec(str, choices=("diag", "full")),
    "model.density": Spec(str, choices=("gaussian", "mixture")),
    "model.components": Int(1), "model.cells": Int(1),
    # trainer/ and logger/
    "trainer.accelerator": Spec(str, choices=("cpu", "gpu", "cuda", "auto")), "trainer.devices": Int(-1),
    "trainer.strategy": Spec(str, choices=("auto", "ddp")),  # ddp: ranks as subprocesses (docs/reliability.md)
    "trainer._target_": STR, "trainer.num_nodes": Int(1),  # the rest: Lightning's Trainer checks (train_job.py)
    "logger.kind": Spec(str, choices=("wandb", "csv", "none")),
    "logger.mode": Spec(str, choices=("offline", "online", "disabled")), "logger.project": STR,
    "logger.entity": Spec(str, null=True), "logger.group": Spec(str, null=True), "logger.name": Spec(str, null=True),
    "logger.notes": Spec(str, null=True), "logger.job_type": STR, "logger.log_checkpoints": BOOL,
    "logger.curves_every": Int(0),
    "logger.tags": Spec("strs"),
}

SOLVE: dict[str, Spec] = {
    "leader": Spec(str, choices=("uniform",)), "dtype": DTYPE, "threads": THREADS, "run_dir": PATH,
    "sweep_dir": PATH, "overwrite": BOOL, "optimized_metric": PATH,
    "solver._target_": Spec(str, required=True), "solver.tol": Num(0, lo_open=True, null=True),
    "solver.mean_field_tol": Num(0, lo_open=True, null=True), "solver.max_iter": Int(1),
    "solver.record_every": Int(1), "solver.damping": Num(0, 1, lo_open=True, null=True), "solver.eta": POSITIVE,
    "solver.inner_steps": Int(1), "solver.population_step": Num(0, 1, lo_open=True), "solver.kernel_power": Int(1),
    "solver.learning_rate": POSITIVE,
    "optimum.n_starts": Int(1), "optimum.n_steps": Int(1), "optimum.lr": POSITIVE, "optimum.seed": SEED,
}

EVALUATE: dict[str, Spec] = {
    "run_dir": Spec(str, required=True), "checkpoint": PATH, "n_players": Spec("int_or_ints", 1),
    "games": Int(2), "max_players": Int(1), "ghosts": Int(1), "periods": Int(1), "samples": Int(1),
    "best_response_iterations": Int(0), "mean_field_chains": Int(2), "seed": SEED, "device": STR, "threads": THREADS,
    "sweep_dir": PATH, "optimized_metric": PATH,
}

SCHEMAS = {"train": TRAIN, "solve": SOLVE, "evaluate": EVALUATE}


def flatten(cfg: DictConfig) -> dict[str, Any]:
    """``{dotted key: value}`` over the leaves of ``cfg`` (lists are leaves; ``???`` reads as the string)."""
    out: dict[str, Any] = {}

    def walk(node, prefix: str) -> None:
        for key in node:
            path = f"{prefix}{key}"
            if OmegaConf.is_missing(node, key):
                out[path] = "???"
                continue
            value = node[key]
            if isinstance(value, DictConfig) and not _is_map_leaf(path):
                walk(value, path + ".")
            else:
                out[path] = OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig,
                                                                                              ListConfig)) else value
    walk(cfg, "")
    return out


def _is_map_leaf(path: str) -> bool:
    return path == "algo.optimizer"  # one name, or one per group: checked as one value


def spec_for(schema: dict[str, Spec], key: str) -> Spec | None:
    if key in schema:
        return schema[key]
    for pattern, spec in schema.items():
        if "*" in pattern and fnmatch.fnmatchcase(key, pattern) and key.count(".") == pattern.count("."):
            return spec
    return None


def game_specs(cfg: DictConfig) -> dict[str, Spec]:
    """``game.<param>`` typed by the default of the factory ``game._target_`` names: float defaults take numbers, ints
    integers, and so on (a factory that does not import is refused here, with the reason)."""
    import inspect

    from .games import game_parameters

    specs = {"game._target_": Spec(str, required=True), "game.evaluator._target_": Spec(str)}
    for name, default in game_parameters(str(cfg.game._target_)).items():
        kind = {bool: bool, int: int, float: float, str: str}.get(type(default), "any")  # lists, None: any
        specs[f"game.{name}"] = Spec(kind, null=default is None or default is inspect.Parameter.empty)
    return specs


def validate(command: str, cfg: DictConfig, devices: bool = True) -> None:
    """Every key of ``cfg`` against the command's schema; the first bad one raises :class:`ConfigError`.

    ``devices``: also check that the trainer's accelerator is there (not for a finished run's config, which
    ``evaluate`` may read on another machine)."""
    schema = SCHEMAS[command]
    values = flatten(cfg)
    if "game._target_" in values:
        target = values["game._target_"]
        if target in (None, "???"):  # game=finite|continuous without a factory
            raise ConfigError("game._target_ is required: game=finite and game=continuous are the empty game nodes of "
                              "their kind; name your factory, game._target_=my_pkg.make_my_game (docs/custom_games.md)")
        if not isinstance(target, str):
            raise ConfigError(f"game._target_={target!r}: must name a game's factory (a dotted path)")
        schema = {**schema, **game_specs(cfg)}
    for key, spec in schema.items():
        if spec.required and (key not in values or values[key] in (None, "???")):
            raise ConfigError(f"{key} is required: pass {key}=<{spec.describe()}>")
    for key, value in values.items():
        spec = spec_for(schema, key)
        if spec is None:
            continue  # checked by the class that reads it (learner, model, solver arguments list the valid ones)
        if not spec.accepts(value):
            raise ConfigError(f"{key}={_show(value)}: must be {spec.describe()}")
    if devices:
        _check_accelerator(values)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _check_accelerator(values: dict[str, Any]) -> None:
    import torch

    accelerator = values.get("trainer.accelerator")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator!r}: torch sees no GPU on this machine "
                          f"(torch.cuda.is_available() is False); use trainer=cpu or trainer=ddp_cpu")
    devices = values.get("trainer.devices")
    if devices == 0:
        raise ConfigError("trainer.devices=0: must be an integer >= 1, or -1 for every visible device")
    if accelerator in ("gpu", "cuda") and isinstance(devices, int) and devices > torch.cuda.device_count():
        raise ConfigError(f"trainer.devices={devices}: only {torch.cuda.device_count()} GPU(s) are visible")
