"""total_sampled on a continuous game (continuous Equilibrium Pricing) against the discretised twin's exact gradient.

The learner runs with its leader frozen (step size 0) until its critics, follower, mean field and the estimator's
own critics and adjoint have settled; the leader direction is then averaged over further iterations and compared,
in the leader network's parameters, with the twin's exact total gradient mapped there
(``grad_omega sum_{s,b} G[s, b] phi_twin[s, b]``, ``G = dPhi_twin/dphi_twin``, ``phi_twin`` the leader's cell
probabilities on the twin's grid): an independent reference (the exact solvers on the twin's tensors, no samples).
A partial learner with the same seed runs on bit-identical lower levels (the estimator draws no random numbers), so
the difference of the two averaged directions is the estimator's implicit term alone (the followers' and the
population's answer), compared with the twin's ``total - partial``. scripts/bench_total_sampled_continuous.py
prints the same measurements at full length (docs/stackelberg_gradient.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from deep_smfg import exact
from deep_smfg.cli import main
from deep_smfg.evaluation.continuous_metrics import project_policies
from deep_smfg.games import make_game
from deep_smfg.games.continuous import discretise
from deep_smfg.learners import ACSMFG, PowerSchedule
from deep_smfg.learners.leader_gradients import available

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from bench_total_sampled_continuous import (  # noqa: E402
    FROZEN_LEADER,
    MODEL,
    OPTIMIZER,
    learner,
    measure,
    twin_directions,
)

QUIET = ["logger=none", "progress_bar=false"]


def test_the_continuous_kind_keeps_the_stationary_chains_pre_squash_draws():
    m = ACSMFG(make_game("continuous_pricing"), MODEL, step_sizes=FROZEN_LEADER, optimizer=OPTIMIZER,
               leader_gradient="total_sampled", n_envs=8, seed=0)
    m.run_standalone(2)
    t = m.last_transition
    torch.testing.assert_close(m.leader.squash(t.u_l_bar), t.b_bar)
    torch.testing.assert_close(m.follower.squash(t.u_f_bar), t.a_bar)
    finite = ACSMFG(make_game("congestion_toll"), step_sizes={g: PowerSchedule(0.1) for g in ACSMFG.GROUPS}, n_envs=8,
                    seed=0)
    finite.run_standalone(1)
    assert finite.last_transition.u_f_bar is None and finite.last_transition.u_l_bar is None


@pytest.mark.slow  # 40-50 s of learning: make test-slow (the default suite stays under 10 minutes)
def test_total_sampled_follows_the_twins_total_gradient_at_a_frozen_leader():
    """A state-dependent leader (last layer 0.5 N(0, 1)) where the twin's partial and total gradients differ."""
    r = measure(make_game("continuous_pricing"), "random", settle=1500, average=1000)
    assert r["identical lower levels"]
    total, partial = r["total_sampled"], r["partial"]
    assert total["cosine"] >= 0.98 > partial["cosine"]  # measured 0.998 and 0.956 (the twin's own: 0.960)
    assert 0.8 < total["ratio"] < 1.25 < partial["ratio"]  # measured 1.12 and 1.38 (of (1 - gamma) the twin's)
    assert r["implicit cosine"] >= 0.9  # the followers' and the population's answer alone: measured 0.976


def test_total_sampled_checkpoints_its_traces_with_the_chains():
    m = learner(make_game("continuous_pricing"), "total_sampled", "init")
    m.run_standalone(3)
    state = m.leader_gradient.chain_state()
    assert set(state) == {"e_occ", "e_stat", "keep"} and state["e_occ"].shape == (64,)
    m.leader_gradient.load_chain_state(None)
    assert m.leader_gradient.chain_state() is None
    m.leader_gradient.load_chain_state(state)
    assert torch.equal(m.leader_gradient.chain_state()["e_stat"], state["e_stat"])


def test_total_sampled_is_refused_on_continuous_games_it_cannot_run_naming_what_works(tmp_path, capsys, monkeypatch):
    assert available() == ["partial", "total_exact", "total_sampled"]  # the continuous half is not an option of its own
    monkeypatch.chdir(tmp_path)
    assert main(["train", "algo=ac_smfg_continuous_total", "algo.occupancy_restart=false", *QUIET,
                 f"run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "does not support occupancy_restart=false" in err and "options that work there: partial" in err
    assert not (tmp_path / "run").exists()


def test_the_twin_reference_is_the_exact_total_gradient_in_the_leaders_parameters():
    """The reference the direction test uses: for a leader whose mean is a constant ``c`` (last layer's weight 0),
    the twin's gradient in the bias of the mean is ``d Phi_twin / dc``, checked by central differences."""
    game = make_game("continuous_pricing")
    m = learner(game, "partial", "init")
    total, _, _ = twin_directions(game, m)
    bias = m.leader.net[-1].bias
    index = sum(p.numel() for p in m.leader.parameters()) - bias.numel()  # the mean's bias: last layer's bias[0]
    twin = discretise(game, 13, 9, 9, 64)

    def phi_of(shift: float) -> float:
        with torch.no_grad():
            bias[0] += shift
            _, phi = project_policies(twin, m.follower, m.leader)
            bias[0] -= shift
        return exact.leader_objective(twin.game, phi)

    h = 1e-3
    assert float(total[index]) == pytest.approx((phi_of(h) - phi_of(-h)) / (2 * h), rel=1e-3)


def test_expected_q_in_chunks_equals_one_call(monkeypatch):
    """At large N, ``expected_q`` evaluates ``Q`` over at most ``ROWS_PER_CALL`` rows per call: the same values and
    gradients in the states as one call over every row (here 37 states x 25 blocks of the main job's cells follower,
    in chunks of 7 rows, against one call)."""
    from deep_smfg.cli import compose_config
    from deep_smfg.config import build_learner
    from deep_smfg.learners.leader_gradients import total_sampled_continuous as tsc

    game = make_game("continuous_pricing")
    m = build_learner(compose_config("train", ["algo.n_envs=8"]), game)
    estimator = m.leader_gradient
    torch.manual_seed(0)
    with torch.no_grad():  # Q starts at 0: give it an output layer that reads its features
        estimator.q_y.net[-1].weight.normal_()
    lo, hi = game.state_space.tensors(dtype=torch.float32)
    s = lo + (hi - lo) * torch.rand(37, game.state_space.dim)

    def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
        x = s.clone().requires_grad_(True)
        values = estimator.expected_q(estimator.q_y, m.follower, x)
        (grad,) = torch.autograd.grad(values.sum(), x)
        return values.detach(), grad

    one_call, one_grad = evaluate()
    assert one_call.std() > 0.01 and one_grad.abs().max() > 0.01
    monkeypatch.setattr(tsc, "ROWS_PER_CALL", 7)
    chunked, chunked_grad = evaluate()
    torch.testing.assert_close(chunked, one_call, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(chunked_grad, one_grad, rtol=1e-5, atol=1e-6)
