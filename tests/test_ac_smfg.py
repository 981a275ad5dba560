"""AC-SMFG: one iteration against a hand-written tabular update; schedules; bad configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deep_smfg.games import make_game
from deep_smfg.learners import ACSMFG, NonFiniteError
from deep_smfg.learners.schedules import PowerSchedule, as_schedule, check_timescales, ordered

SCHEDULES = {"critic": PowerSchedule(0.9, 0.5), "follower": PowerSchedule(0.7, 0.5),
             "mean_field": PowerSchedule(0.3, 0.5), "leader": PowerSchedule(0.2, 0.5)}


def hand_written_update(game, theta, omega, v_f, v_l, mu, tr, k, centre=0.0):
    """docs/ac_smfg.md, steps 3-7, for N = 1 with numpy arrays (independent of the module); ``centre`` is subtracted
    from the follower's entropy-regularised reward (reward centering). Returns the new arrays and that reward."""
    s, a, b, s2, z = (int(getattr(tr, key)) for key in ("s", "a", "b", "s_next", "z_bar"))
    beta, alpha, xi, zeta = (SCHEDULES[n](k) for n in ("critic", "follower", "mean_field", "leader"))
    mu_t = torch.tensor(mu, dtype=torch.float64)
    r_f = float(game.reward_f_tensor(mu_t)[s, a, b])
    r_l = float(game.reward_l_tensor(mu_t)[s, a, b])
    pi_s = np.exp(theta[s] - theta[s].max())
    pi_s /= pi_s.sum()
    phi_s = np.exp(omega[s] - omega[s].max())
    phi_s /= phi_s.sum()
    reward = r_f - game.tau * math.log(pi_s[a])
    delta_f = reward - centre + game.gamma * v_f[s2] - v_f[s]
    delta_l = r_l + game.gamma * v_l[s2] - v_l[s]
    v_f, v_l, theta, omega, mu = v_f.copy(), v_l.copy(), theta.copy(), omega.copy(), mu.copy()
    v_f[s] += beta * delta_f
    v_l[s] += beta * delta_l
    theta[s] += alpha * delta_f * (np.eye(len(pi_s))[a] - pi_s)  # grad of log softmax
    e_z = np.eye(len(mu))[z]
    mu = mu + xi * (e_z - mu)  # stays on the simplex for xi <= 1: the projection is the identity
    omega[s] += zeta * delta_l * (np.eye(len(phi_s))[b] - phi_s)
    return (theta, omega, v_f, v_l, mu), reward


@pytest.mark.parametrize("centering", [False, True], ids=["plain", "reward_centering"])
@pytest.mark.parametrize("name", ["equilibrium_pricing", "shop_positioning", "market_entrance", "four_rooms"])
def test_one_iteration_equals_hand_written_tabular_update(name, centering):
    """With reward centering, rbar_0 = the first reward, then rbar_k += min(1, xi_k) (reward_k - rbar_{k-1})."""
    game = make_game(name)
    torch.manual_seed(0)
    m = ACSMFG(game, step_sizes=SCHEDULES, n_envs=1, seed=3, reward_centering=centering).double()
    rbar = 0.0
    with torch.no_grad():  # start away from zero so every term of the update matters
        for p in (m.follower.theta, m.leader.theta, m.critic_f.values, m.critic_l.values):
            p.copy_(torch.randn_like(p))
        m.mean_field.mu.copy_(torch.distributions.Dirichlet(torch.ones(game.n_z, dtype=torch.float64)).sample())
    for k in range(5):
        before = [x.detach().numpy().copy() for x in (m.follower.theta, m.leader.theta, m.critic_f.values,
                                                      m.critic_l.values, m.mean_field.mu)]
        m.run_standalone(1)
        _, reward = hand_written_update(game, *before, m.last_transition, k)
        if centering:
            rbar = reward if k == 0 else rbar + min(1.0, SCHEDULES["mean_field"](k)) * (reward - rbar)
            assert float(m.reward_offset) == pytest.approx(rbar, abs=1e-12)
        expected, _ = hand_written_update(game, *before, m.last_transition, k, centre=rbar)
        got = [x.detach().numpy() for x in (m.follower.theta, m.leader.theta, m.critic_f.values, m.critic_l.values,
                                            m.mean_field.mu)]
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-10)
        assert any(np.abs(e - b).max() > 1e-6 for e, b in zip(expected, before, strict=True))


def test_batched_iteration_averages_the_per_chain_updates():
    """N chains: the critic moves by beta * mean over chains of delta * e_s (the batch average)."""
    game = make_game("market_entrance")
    m = ACSMFG(game, step_sizes=SCHEDULES, n_envs=8, seed=1).double()
    with torch.no_grad():
        m.mean_field.mu.fill_(1 / game.n_z)
    v_before = m.critic_f.values.detach().clone()
    theta = m.follower.theta.detach().clone()
    m.run_standalone(1)
    tr = m.last_transition
    mu0 = torch.full((game.n_z,), 1 / game.n_z, dtype=torch.float64)
    r_f = game.reward_f_tensor(mu0)[tr.s, tr.a, tr.b]
    logp = torch.log_softmax(theta[tr.s], -1).gather(-1, tr.a[:, None]).squeeze(-1)
    delta = r_f - game.tau * logp + game.gamma * v_before[tr.s_next] - v_before[tr.s]
    expected = v_before.clone()
    expected.index_add_(0, tr.s, SCHEDULES["critic"](0) * delta / 8)
    torch.testing.assert_close(m.critic_f.values.detach(), expected, rtol=0, atol=1e-12)


def test_schedule_order_is_enforced_unless_overridden():
    bad = dict(SCHEDULES, leader=PowerSchedule(5.0, 0.5))
    with pytest.raises(ValueError, match="leader 5.0"):
        check_timescales(bad)
    check_timescales(bad, allow_any_order=True)
    with pytest.raises(ValueError, match="timescale"):  # a slower decay on a slower timescale overtakes
        check_timescales(dict(SCHEDULES, leader=PowerSchedule(0.1, 0.3)))
    assert PowerSchedule(2.0, 0.5)(3) == pytest.approx(1.0)
    assert PowerSchedule(2.0, 0.5, k0=5)(3) == pytest.approx(2.0 / 3)


def test_the_order_with_offsets_is_decided_exactly():
    """``ordered`` against brute force on k = 0..10^14, wherever the brute force can see the answer (p_slow >= p_fast;
    otherwise the slow step overtakes only beyond any grid, and ``ordered`` says no)."""
    rng = np.random.default_rng(0)
    grid = np.unique(np.concatenate([np.arange(5000), np.logspace(0, 14, 400).astype(np.int64)]))
    agree = 0
    for _ in range(3000):
        slow, fast = (PowerSchedule(float(rng.choice([0.5, 1, 4, 40])), float(rng.choice([0.4, 0.5, 0.7, 1.0])),
                                    float(rng.choice([0, 10, 100, 1000]))) for _ in range(2))
        if slow.p < fast.p:
            assert not ordered(slow, fast)
            continue
        steps = [s.c / (grid + 1 + s.k0) ** s.p for s in (slow, fast)]
        brute = bool(np.all(steps[0] <= steps[1] * (1 + 1e-12)))
        assert ordered(slow, fast) == brute, (slow, fast)
        agree += 1
    assert agree > 1000
    # the four_rooms preset: mean field 4/(k+101)^0.7 under follower 20/(k+101)^0.5 under critic 40/(k+101)^0.4
    assert ordered(PowerSchedule(4.0, 0.7, 100), PowerSchedule(20.0, 0.5, 100))
    assert ordered(PowerSchedule(20.0, 0.5, 100), PowerSchedule(40.0, 0.4, 100))
    # a larger offset on the faster group delays it: 1/(k+1)^0.5 exceeds 1/(k+101)^0.5 at every k
    assert not ordered(PowerSchedule(1.0, 0.5), PowerSchedule(1.0, 0.5, 100))


def test_a_group_that_waits_takes_no_step_before_its_start():
    waits = PowerSchedule(2.0, 0.5, start=10)
    assert waits(9) == 0 and waits(10) == pytest.approx(2.0 / 11**0.5)  # then the unmasked schedule
    assert as_schedule({"c": 2.0, "start": 10}) == waits
    assert ordered(PowerSchedule(1.0, start=100), PowerSchedule(1.0))  # a slow group that waits keeps the order
    assert not ordered(PowerSchedule(1.0), PowerSchedule(1.0, start=100))  # a fast one that waits breaks it
    m = ACSMFG(make_game("equilibrium_pricing"), step_sizes=dict(SCHEDULES, leader=PowerSchedule(0.1, start=5)),
               n_envs=8, seed=0)
    start = m.leader.theta.detach().clone()
    m.run_standalone(5)
    assert torch.equal(m.leader.theta.detach(), start)
    m.run_standalone(1)
    assert not torch.equal(m.leader.theta.detach(), start)


def test_non_finite_loss_stops_with_a_clear_message():
    game = make_game("equilibrium_pricing")
    huge = {n: PowerSchedule(1e200, 0.0) for n in SCHEDULES}
    m = ACSMFG(game, step_sizes=huge, n_envs=4, seed=0).double()
    with pytest.raises(NonFiniteError, match="non-finite loss at iteration .*none saved yet"):
        m.run_standalone(20)
