"""The trusted exploitability of continuous games (deep_smfg/evaluation/twin_best_response.py): the twin's soft best
response played in the game, against a closed form (a game whose state never moves: the soft best response is
``exp(r(a) / tau)`` normalised on the action box), and its table policy against counts of its own draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deep_smfg.config import ConfigError
from deep_smfg.evaluation.twin_best_response import TwinSoftBestResponse, twin_best_response_gain
from deep_smfg.evaluation.twin_evaluator import ExploitabilityMeasure
from deep_smfg.games.continuous import Box, ContinuousGame
from deep_smfg.modules import BoxFeatures, SquashedGaussianPolicy
from deep_smfg.modules.cell_policy import CellPolicy
from deep_smfg.modules.cells import CellGrid

K, C, GAMMA, TAU = 4.0, 0.3, 0.5, 0.2


def _still_game() -> ContinuousGame:
    """The state stays at 0; the follower's reward is ``-K (a - C)^2`` on ``a in [0, 1]``; ``z = a``."""

    def zeros(n, generator=None, like=None):
        return torch.zeros(n, 1, **({} if like is None else dict(dtype=like.dtype)))

    return ContinuousGame(
        name="still", state_space=Box((0.0,), (1.0,)), action_space=Box((0.0,), (1.0,)),
        leader_action_space=Box((-1.0,), (1.0,)), z_space=Box((0.0,), (1.0,)),
        next_state=lambda s, a, b, m, eps: torch.zeros_like(s),
        sample_noise=lambda n, generator=None, like=None: zeros(n, generator, like),
        noise_quadrature=lambda k: (torch.zeros(1, 1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)),
        reward_f=lambda s, a, b, m: -K * (a[:, 0] - C) ** 2, reward_l=lambda s, a, b, m: torch.zeros_like(s[:, 0]),
        contribution=lambda s, a, b: a[:, :1], initial_state=zeros, gamma=GAMMA, tau=TAU)


def _exact_gain_of_the_uniform_policy() -> float:
    """``(tau log Z - E_U[r]) / (1 - gamma)`` with ``Z = int_0^1 exp(r / tau)``: the soft optimum's value per period
    minus the uniform policy's (whose differential entropy on [0, 1] is 0), by a fine trapezoid rule."""
    a = np.linspace(0.0, 1.0, 200_001)
    r = -K * (a - C) ** 2
    return (TAU * math.log(np.trapezoid(np.exp(r / TAU), a)) - np.trapezoid(r, a)) / (1 - GAMMA)


def test_the_measure_reaches_the_closed_form_exploitability_from_below():
    game = _still_game()
    features = BoxFeatures(torch.tensor([0.0]), torch.tensor([1.0]))
    uniform = CellPolicy(features, torch.tensor([0.0]), torch.tensor([1.0]), [8], 4)  # starts uniform on [0, 1]
    leader = SquashedGaussianPolicy(features, torch.tensor([-1.0]), torch.tensor([1.0]), [8])
    exact = _exact_gain_of_the_uniform_policy()  # 0.616
    out = twin_best_response_gain(game, uniform, leader, torch.tensor([0.5]), [(2, 5), (2, 33), (2, 129)],
                                  n_leader=3, n_quadrature=1, n_chains=20_000, seed=0)
    coarse, mid, fine = out.grids
    assert fine.gain == pytest.approx(exact, abs=0.005 + 4 * fine.standard_error)
    assert coarse.gain < mid.gain < exact + 4 * mid.standard_error  # a lower bound, tighter with the grid
    assert out.exploitability == fine.gain and out.converged
    # the twin's own value of its best response is the game's, up to Monte Carlo (the twin is exact here)
    assert abs(fine.twin_value_gap) < 4 * fine.standard_error + 0.005


def test_the_table_policy_draws_the_hat_mixture_of_its_neighbours_laws():
    torch.manual_seed(0)
    pi = torch.softmax(torch.randn(2, 6, dtype=torch.float64), -1)  # 2 grid states, 3 x 2 action cells
    grids = [torch.linspace(0, 2, 3, dtype=torch.float64), torch.linspace(0, 1, 2, dtype=torch.float64)]
    cells = CellGrid.around(grids)
    policy = TwinSoftBestResponse(pi, torch.tensor([0.0, 1.0], dtype=torch.float64), cells)
    n = 200_000
    s = torch.full((n, 1), 0.25)
    _, a = policy.sample(s, torch.Generator().manual_seed(1))
    want = 0.75 * pi[0] + 0.25 * pi[1]
    counts, _ = np.histogramdd(a.numpy(), bins=[e.numpy() for e in cells.edges])
    assert np.abs(counts.reshape(-1) / n - want.numpy()).max() < 4 * math.sqrt(0.25 / n)
    idx = cells.index(a[:10].double())
    assert torch.allclose(policy.log_prob(s[:10], a[:10]).double(),
                          torch.log(want[idx]) - cells.log_volumes()[idx], atol=1e-5)


@pytest.mark.parametrize("bad, message", [
    (dict(grids=[[1, 9]]), r"grids=\[\[1, 9\]\]: must be a non-empty list"),
    (dict(grids=[]), "grids=.*non-empty"),
    (dict(grids=[25, 17]), r"grids=\[25, 17\]: must be a non-empty list of \[n_states, n_actions\] pairs"),
    (dict(tolerance="abc"), "tolerance='abc': must be a number >= 0"),
    (dict(report_chains=0), "report_chains=0: must be an integer >= 2"),
    (dict(threshold=-1), "threshold=-1: must be a number >= 0"),
])
def test_bad_measure_settings_are_config_errors(bad, message):
    with pytest.raises(ConfigError, match=message):
        ExploitabilityMeasure(**bad)


def test_a_bad_measure_setting_stops_train_before_anything_is_written(tmp_path, capsys):
    from deep_smfg.cli import main

    run_dir = tmp_path / "run"
    for bad, message in (("grids=[[1,3]]", "grids=[[1, 3]]: must be a non-empty list"),
                         ("tolerance=abc", "tolerance='abc': must be a number >= 0")):
        assert main(["train", f"game.evaluator.exploitability.{bad}", "logger=none", "algo.iterations=10",
                     f"run_dir={run_dir}"]) == 2
        assert f"game.evaluator.exploitability.{message}" in capsys.readouterr().err
        assert not run_dir.exists()
