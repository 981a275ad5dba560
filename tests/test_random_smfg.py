"""The random SMFG family (deep_smfg/games/random_smfg.py): its tables against the docstring's formulas, and what
each knob wires."""

from __future__ import annotations

import pytest
import torch

from deep_smfg.games import GameDefinitionError, make_game

f64 = torch.float64


def mean_field(n: int, seed: int = 7) -> torch.Tensor:
    mu = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=f64) + 0.05
    return mu / mu.sum()


def test_the_rewards_follow_the_formula_and_the_subsidy_is_the_only_leader_channel_by_default():
    game = make_game("random_smfg", seed=3, reward_coupling=1.5, welfare_weight=0.5)
    mu = mean_field(4)
    r_f, r_l, P = game.reward_f_tensor(mu), game.reward_l_tensor(mu), game.transition_tensor(mu)
    # the subsidy U[s, a, b] is the only part of r_f that reads b, and the crowding the only part that reads mu
    base = game.reward_f_tensor(game.uniform_mean_field())
    shift = r_f - base  # -1.5 (c(mu) - c(uniform))[s], the same for every a and b
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift), atol=1e-12)
    assert (r_f[:, :, 0] - r_f[:, :, 1]).abs().max() > 0.1
    assert torch.equal(P[:, :, 0], P[:, :, 1]) and torch.equal(P, game.transition_tensor(game.uniform_mean_field()))
    # the leader: law_weight w.mu - cost_weight C[b] + welfare_weight (r_f - U): only the cost reads b,
    # and leader action 0 costs nothing
    cost = r_l[:, :, :1] - r_l  # 0.2 C[b], C ~ U(0, 1)
    assert torch.allclose(cost, cost[:1, :1, :].expand_as(cost), atol=1e-12)
    assert float(cost[0, 0, 0]) == 0.0 and 0 < float(cost.max()) <= 0.2
    # mu enters r_l through w.mu and through the welfare's crowding, which is half the followers' shift
    law_shift = (r_l - game.reward_l_tensor(game.uniform_mean_field())) - 0.5 * shift
    assert torch.allclose(law_shift, law_shift[:1, :1, :1].expand_as(law_shift), atol=1e-12)


def test_the_crowding_term_is_k_mu_plus_half_log_mu():
    game = make_game("random_smfg", seed=0, reward_coupling=1.0)
    mu1, mu2 = mean_field(4, 1), mean_field(4, 2)
    d = game.reward_f_tensor(mu1)[:, 0, 0] - game.reward_f_tensor(mu2)[:, 0, 0]  # -(c(mu1) - c(mu2))
    log_part = 0.5 * (torch.log(mu1 + 0.01) - torch.log(mu2 + 0.01))
    linear = -d - log_part  # K (mu1 - mu2), K = I + R R^T / S symmetric positive definite: a monotone coupling
    assert float(linear @ (mu1 - mu2)) > float(((mu1 - mu2) ** 2).sum()) - 1e-12


@pytest.mark.parametrize("channel", ["transitions", "both"])
def test_the_transition_channel_lets_the_leader_move_the_followers(channel):
    game = make_game("random_smfg", seed=1, leader_channel=channel)
    mu = mean_field(4)
    P, r_f = game.transition_tensor(mu), game.reward_f_tensor(mu)
    assert (P[:, :, 0] - P[:, :, 1]).abs().max() > 0.05
    assert torch.equal(r_f[:, :, 0], r_f[:, :, 1]) == (channel == "transitions")
    assert not game.transition_reads_mean_field


def test_transition_coupling_mixes_in_a_kernel_that_avoids_crowded_states():
    still = make_game("random_smfg", seed=2, leader_channel="both")
    game = make_game("random_smfg", seed=2, leader_channel="both", transition_coupling=0.5)
    assert game.transition_reads_mean_field
    crowded = torch.tensor([0.7, 0.1, 0.1, 0.1], dtype=f64)
    uniform = game.uniform_mean_field()
    P0, P_u, P_c = still.transition_tensor(uniform), game.transition_tensor(uniform), game.transition_tensor(crowded)
    # softmax(L + M - 4 mu) at the uniform mu is softmax(L + M): the mixture equals the fixed kernel there
    torch.testing.assert_close(P_u, P0, atol=1e-12, rtol=0)
    assert float(P_c[..., 0].mean()) < float(P0[..., 0].mean())  # fewer moves into the crowded state


def test_every_table_is_drawn_whatever_the_knobs():
    """A knob changes only its own part: the same seed gives the same followers' base rewards and kernel."""
    a = make_game("random_smfg", seed=5, leader_channel="rewards", welfare_weight=0.0)
    b = make_game("random_smfg", seed=5, leader_channel="both", welfare_weight=1.0)
    mu = mean_field(4)
    torch.testing.assert_close(a.reward_f_tensor(mu), b.reward_f_tensor(mu), atol=0, rtol=0)


@pytest.mark.parametrize("bad, message", [({"leader_channel": "prices"}, "leader_channel must be one of"),
                                          ({"transition_coupling": 1.5}, "transition_coupling must lie in"),
                                          ({"reward_coupling": -1.0}, "reward_coupling must be >= 0"),
                                          ({"n_states": 0}, "n_states must be a positive integer")])
def test_bad_knobs_are_refused(bad, message):
    with pytest.raises(GameDefinitionError, match=message):
        make_game("random_smfg", **bad)
