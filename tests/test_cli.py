"""The configs and the `deep-smfg` command: defaults in one place, clear errors, run folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deep_smfg.cli import compose_config, main
from deep_smfg.games import CONTINUOUS_GAMES, GAMES, game_parameters

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def cfg_target(name: str) -> str:
    factory = {**GAMES, **CONTINUOUS_GAMES}[name]
    return f"{factory.__module__}.{factory.__name__}"


@pytest.mark.parametrize("name", sorted(GAMES) + sorted(CONTINUOUS_GAMES))
def test_game_config_lists_every_parameter_with_the_factory_default(name):
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS / "game" / f"{name}.yaml"))
    factory = {**GAMES, **CONTINUOUS_GAMES}[name]
    assert cfg.pop("_target_") == f"{factory.__module__}.{factory.__name__}"
    kind = "continuous" if name in CONTINUOUS_GAMES else "finite"
    assert cfg.pop("defaults")[0] == kind  # the kind's model and algo (configs/game/finite.yaml, continuous.yaml)
    cfg.pop("evaluator", None)
    defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in game_parameters(cfg_target(name)).items()}
    assert cfg == defaults


@pytest.mark.parametrize(
    "args, message",
    [
        (["solve", "game=nope"], "four_rooms"),  # lists the valid games
        (["solve", "game=four_rooms", "game.foo=1"], "valid parameters: noise, kappa"),
        (["solve", "game.gamma=1.5"], "gamma must lie in (0, 1), got 1.5"),
        (["solve", "game=shop_positioning", "game.tau=0"], "tau must be > 0, got 0"),
        (["solve", "game=market_entrance", "game.fees=[]"], "fees must hold at least one value"),
        (["solve", "dtype=float16"], "dtype='float16': must be one of float32, float64"),
        (["solve", "solver.damping=2"], "solver.damping=2: must be a number in (0, 1] or null"),
        (["solve", "solver=nope"], "damped_fixed_point"),  # lists the available solver configs
        (["frobnicate"], "valid commands"),
        (["solve", "game=continuous_pricing"], "solve handles finite games (congestion_toll, equilibrium_pricing"),
        (["train", "game=continuous_pricing", "model=tabular"], "continuous games need model=squashed_gaussian"),
        (["train", "algo.optimizer.leader=rmsprop"], "'leader': 'rmsprop'}: must be sgd or adam"),
        (["train", "algo.step_sizes.leader.c=0.1"], "break the four-timescale order"),
    ],
)
def test_bad_input_is_rejected_with_a_message_and_writes_nothing(tmp_path, capsys, args, message):
    run_dir = tmp_path / "run"
    assert main(args + [f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


def test_the_configs_come_from_the_installed_package():
    from importlib import resources

    from deep_smfg.cli import config_dir

    assert config_dir() == Path(str(resources.files("deep_smfg.configs")))
    assert (config_dir() / "train.yaml").is_file() and (config_dir() / "algo" / "ac_smfg.yaml").is_file()


def test_solve_writes_a_run_folder_and_prints_the_summary_last(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["solve", "game=congestion_toll", "optimum.n_starts=2", "optimum.n_steps=40", f"run_dir={run_dir}"]
    assert main(args) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last_line)
    assert summary == json.loads((run_dir / "summary.json").read_text())
    assert {"config.yaml", "summary.json", "mean_field.png", "leader_ascent.png", "metrics.csv",
            "convergence.png"} <= {p.name for p in run_dir.iterdir()}
    assert OmegaConf.load(run_dir / "config.yaml").game._target_ == cfg_target("congestion_toll")
    from deep_smfg.games import make_game

    closed = make_game("congestion_toll").closed_form
    assert summary["phi_uniform"] == pytest.approx(closed.phi_value(0.5), abs=1e-7)
    assert summary["phi_star"] == pytest.approx(closed.optimum()[1], abs=1e-5)
    assert summary["phi_star"] >= summary["phi_uniform"]
    assert abs(summary["exploitability"]) < 1e-8

    # the solver's history: one row per step, ending where the summary says
    assert (summary["solver"], summary["solver_converged"]) == ("damped_fixed_point", True)
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(1, summary["solver_iterations"] + 1))
    assert float(rows[-1]["exploitability"]) == pytest.approx(summary["final_exploitability"], rel=1e-7, abs=1e-15)
    assert float(rows[0]["exploitability"]) > 1e-2 and summary["final_exploitability"] < 1e-12
    assert float(rows[-1]["leader_objective"]) == pytest.approx(summary["phi_uniform"], abs=1e-7)  # 8 digits
    assert summary["solver_mean_field_error"] < 1e-9


def test_train_defaults_follow_the_game_kind():
    main_job = compose_config("train", [])
    assert ((main_job.game._target_, main_job.model.policy, main_job.algo.optimizer.critic)
            == (cfg_target("continuous_pricing"), "cells", "adam"))  # its own config picks the cells policy
    assert main_job.algo.leader_gradient == "total_sampled"  # ... and the total leader (README, the main job)
    assert compose_config("train", ["algo=ac_smfg_continuous"]).algo.leader_gradient == "partial"  # the paper's
    own = compose_config("train", ["game=continuous", "game._target_=" + cfg_target("continuous_pricing")])
    assert (own.model.policy, own.algo.leader_gradient) == ("squashed_gaussian", "partial")  # the kind's defaults
    finite = compose_config("train", ["game=shop_positioning"])
    assert (finite.model.policy, finite.algo.optimizer, finite.algo.step_sizes.critic.c) == ("tabular", "sgd", 4.0)
    # algo=ac_smfg on four_rooms takes its per-game settings (configs/algo/for_game/), explicitly chosen or not
    for extra in ([], ["algo=ac_smfg"]):
        rooms = compose_config("train", ["game=four_rooms", *extra])
        assert rooms.algo == compose_config("train", ["game=four_rooms", "algo=ac_smfg_four_rooms"]).algo
        assert (rooms.algo.reward_centering, rooms.algo.step_sizes.critic.k0, rooms.algo.n_envs) == (True, 100, 256)
    assert compose_config("train", ["game=shop_positioning", "algo=ac_smfg"]).algo.reward_centering is False
    chosen = compose_config("train", ["game=four_rooms", "model=mlp"])
    assert (chosen.model.policy, chosen.algo.optimizer.critic) == ("mlp", "adam")  # SGD at c = 4 diverges on MLPs
