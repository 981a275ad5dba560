"""A user's own game, defined in this file, trained through the CLI by ``_target_`` and through ``deep_smfg.train``,
loaded back (``load_run``, ``load_from_checkpoint``), and refused with nothing written when it is broken."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import deep_smfg
from deep_smfg.cli import main
from deep_smfg.games import ContinuousGame, FiniteGame, make_game
from deep_smfg.learners import ACSMFG

SHORT = ["algo.iterations=300", "algo.eval_every=100", "algo.checkpoint_every=100", "logger=csv",
         "progress_bar=false", "reference.n_starts=1", "reference.n_steps=20"]


def make_queue(load_cost: float = 1.0, gamma: float = 0.9, tau: float = 0.5) -> FiniteGame:
    """Two counters; a customer's next counter is the one it picks (w.p. 0.8); a counter's cost grows with its
    load (counter 1 three times as fast); the manager's two actions shift a bonus between the counters and it
    wants counter 0 at 60% load."""
    S, A, B = 2, 2, 2
    P = torch.full((S, A, B, S), 0.2, dtype=torch.float64)
    for a in range(A):
        P[:, a, :, a] = 0.8
    bonus = torch.tensor([[0.3, 0.0], [0.0, 0.3]], dtype=torch.float64)  # [B, A]
    weight = torch.tensor([1.0, 3.0], dtype=torch.float64)  # counter 1 is the slow one

    def reward_f(mu):
        return (-load_cost * (weight * mu)[None, :, None] + bonus.T[None, :, :]).expand(S, A, B)

    def reward_l(mu):
        return (-(mu[0] - 0.6) ** 2).expand(S, A, B).clone()

    return FiniteGame("queue", P, reward_f, reward_l, torch.full((S,), 0.5, dtype=torch.float64), gamma, tau)


def make_queue_bad_reward(gamma: float = 0.9) -> FiniteGame:
    """Like :func:`make_queue` but its follower reward has the wrong shape ``[S, A]``."""
    game = make_queue(gamma=gamma)
    return FiniteGame("queue_bad", game.transition, lambda mu: torch.zeros(2, 2, dtype=torch.float64),
                      game.reward_l, game.rho, gamma, game.tau)


def make_not_a_game() -> dict:
    return {"states": 2}


def make_pricing_bad_reward() -> ContinuousGame:
    """Continuous pricing whose leader reward returns ``[N, 1]`` instead of ``[N]``."""
    import dataclasses

    game = make_game("continuous_pricing")
    return dataclasses.replace(game, reward_l=lambda s, a, b, m: game.reward_l(s, a, b, m)[:, None])


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if "time" not in k and "seconds" not in k} for r in csv.DictReader(f)]


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_own_game_by_target_equals_the_python_api_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the reference cache (runs/.cache) and nothing else lands here
    cli_dir = tmp_path / "cli"
    assert main(["train", f"game._target_={__name__}.make_queue", "seed=3", *SHORT, f"run_dir={cli_dir}"]) == 0
    run = deep_smfg.train(make_queue(), ["seed=3", *SHORT, f"run_dir={tmp_path / 'api'}"])
    assert run.run_dir == tmp_path / "api" and run.summary["status"] == "completed"
    cli_rows, api_rows = _rows(cli_dir), _rows(run.run_dir)
    assert len(cli_rows) >= 4 and cli_rows == api_rows
    cli_state, api_state = _state(cli_dir / "checkpoints" / "last.ckpt"), _state(run.checkpoint)
    assert cli_state.keys() == api_state.keys()
    assert all(torch.equal(cli_state[k], api_state[k]) for k in cli_state)
    # the run learned something: the exact exploitability fell (an independent check of the numbers above)
    assert float(cli_rows[-1]["exact/follower_exploitability"]) < float(cli_rows[0]["exact/follower_exploitability"])


def test_load_run_and_load_from_checkpoint_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    assert main(["train", f"game._target_={__name__}.make_queue", *SHORT, f"run_dir={run_dir}"]) == 0
    saved = _state(run_dir / "checkpoints" / "last.ckpt")
    run = deep_smfg.load_run(run_dir)  # a new process would rebuild the game from config.yaml the same way
    assert run.game.name == "queue" and run.summary["iterations"] == 300 and not run.learner.training
    assert all(torch.equal(v, saved[k]) for k, v in run.learner.state_dict().items())
    states = torch.tensor([0, 1])
    with torch.no_grad():
        table = torch.softmax(run.follower(states), -1)
    assert torch.equal(run.act(states, mean=True), table.argmax(-1))
    draws = run.act(torch.zeros(20000, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    assert abs(float(draws.double().mean()) - float(table[0, 1])) < 0.015  # drawn with the policy's law
    learner = ACSMFG.load_from_checkpoint(run.checkpoint)
    assert all(torch.equal(v, saved[k]) for k, v in learner.state_dict().items())
    assert learner.game.name == "queue"


@pytest.mark.parametrize("kind, target, message", [
    ("finite", "no_such_module.make_game", "cannot be imported (ModuleNotFoundError"),
    ("finite", f"{__name__}.no_such_factory", "has no attribute 'no_such_factory'"),
    ("finite", f"{__name__}.make_not_a_game", "returned a dict, not a deep_smfg.games.FiniteGame or ContinuousGame"),
    (None, f"{__name__}.make_queue_bad_reward", "reward_f has shape (2, 2), expected (2, 2, 2)"),
    (None, f"{__name__}.make_queue_failing_reward", "failed when called: ZeroDivisionError"),
    ("continuous", f"{__name__}.make_pricing_bad_reward",
     "reward_l(s, a, b, m) must return a tensor of shape [8], got [8, 1]"),
])
def test_a_bad_game_is_refused_with_nothing_written(tmp_path, monkeypatch, capsys, kind, target, message):
    """kind None: the kind is read from the factory's return annotation (game._target_ alone)."""
    monkeypatch.chdir(tmp_path)
    chosen = [f"game={kind}"] if kind else []
    assert main(["train", *chosen, f"game._target_={target}", f"run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_parameter_of_a_user_game_lists_the_valid_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", f"game._target_={__name__}.make_queue", "+game.speed=2"]) == 2
    assert "unknown parameter(s) speed for game" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_config_folder_of_ones_own_names_the_game(tmp_path, monkeypatch, capsys):
    """--config-dir DIR: DIR/game/queue.yaml is game=queue, for solve as for train; its parameters override."""
    (tmp_path / "conf" / "game").mkdir(parents=True)
    (tmp_path / "conf" / "game" / "queue.yaml").write_text(
        f"defaults:\n  - finite\n  - _self_\n_target_: {__name__}.make_queue\nload_cost: 2.0\n")
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "solved"
    assert main(["solve", "--config-dir", "conf", "game=queue", "optimum.n_starts=1", "optimum.n_steps=10",
                 f"run_dir={run_dir}"]) == 0
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    from deep_smfg import exact

    game, default = make_queue(load_cost=2.0), make_queue()
    eq = exact.solve_equilibrium(game, game.uniform_leader())
    eq_default = exact.solve_equilibrium(default, default.uniform_leader())
    assert float((eq.mu - eq_default.mu).abs().max()) > 1e-3  # the parameter moves the answer ...
    assert summary["game"] == "queue" and abs(summary["exploitability"]) < 1e-8
    assert summary["equilibrium_mean_field"] == pytest.approx(eq.mu.tolist(), abs=1e-8)  # ... and load_cost=2 was used
    assert main(["solve", "--config-dir", "conf", "game=queue", "game.nope=1"]) == 2
    assert "unknown parameter 'nope'" in capsys.readouterr().err
    assert main(["solve", "--config-dir", "no_such_folder", "game=queue"]) == 2


def test_a_kind_node_without_a_factory_says_what_to_add(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "game=finite", f"run_dir={tmp_path / 'run'}"]) == 2
    assert "game._target_ is required" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def make_queue_failing_reward() -> FiniteGame:
    """Like :func:`make_queue`, but its leader reward fails at some mean fields (a bug in a user's function)."""
    game = make_queue()

    def reward_l(mu):
        if float(mu[0]) > 0.55:
            raise ZeroDivisionError("the user's reward divides by zero")
        return game.reward_l(mu)

    return FiniteGame("queue_fails", game.transition, game.reward_f, reward_l, game.rho, game.gamma, game.tau)
