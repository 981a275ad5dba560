"""The regularised mean field equilibrium, checked against independent numpy fixed points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import (
    ALL_CONFIGS,
    config_id,
    exploitability,
    game_arrays,
    induced,
    np64,
    soft_value_iteration,
)

from deep_smfg.exact import (
    EquilibriumNotConverged,
    follower_exploitability,
    follower_mdp,
    gamma_map,
    induced_mean_field,
    mean_field_error,
    quality,
    soft_best_response,
    solve_equilibrium,
)
from deep_smfg.games import GAMES, make_game
from deep_smfg.games.four_rooms import room_masses

f64 = torch.float64


def test_configs_cover_every_registered_game():
    assert {name for name, _ in ALL_CONFIGS} == set(GAMES)


def random_leader(game, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(game.n_states, game.n_leader_actions, generator=gen, dtype=f64), -1)


def leaders(cfg):
    game = make_game(cfg[0], **cfg[1])
    out = [("uniform", game.uniform_leader(f64))]
    if not game.is_nash:
        out.append(("random", random_leader(game, 1)))
    return game, out


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=config_id)
def test_equilibrium_is_a_fixed_point(cfg):
    game, phis = leaders(cfg)
    for label, phi in phis:
        eq = solve_equilibrium(game, phi)
        mu, pi = np64(eq.mu), np64(eq.pi)
        assert mu.shape == (game.n_z,) and abs(mu.sum() - 1) < 1e-12 and (mu >= 0).all()
        assert eq.residual < 1e-10

        # independent numpy: BR by soft value iteration at mu, then Gamma by least squares
        phi_np = np64(phi)
        P, _, r_phi, P_phi = game_arrays(game, phi_np, mu)
        V_np, Q_np, pi_np = soft_value_iteration(r_phi, P_phi, game.gamma, game.tau)
        np.testing.assert_allclose(pi, pi_np, atol=1e-8, err_msg=label)
        np.testing.assert_allclose(np64(eq.values.V), V_np, atol=1e-8, err_msg=label)
        assert np.abs(induced(game, pi_np, phi_np, P) - mu).sum() < 1e-8, label

        # the library's own pieces, recomposed here
        mdp = follower_mdp(game, phi, eq.mu)
        br = soft_best_response(mdp.r_phi, mdp.P_phi, game.gamma, game.tau)
        assert (gamma_map(game, br.pi, phi, mdp.P) - eq.mu).abs().sum().item() < 1e-8, label

        # the equilibrium policy is unexploitable, independently and by the library
        assert follower_exploitability(game, eq.pi, phi) < 1e-8, label
        assert abs(exploitability(game, pi, phi_np)) < 1e-8, label


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=config_id)
def test_uniform_follower_is_exploitable(cfg):
    game = make_game(cfg[0], **cfg[1])
    phi = game.uniform_leader(f64)
    pi = torch.full((game.n_states, game.n_actions), 1.0 / game.n_actions, dtype=f64)
    got = follower_exploitability(game, pi, phi)
    expected = exploitability(game, np64(pi), np64(phi))
    assert got > 1e-3
    assert abs(got - expected) < 1e-8 * (1 + abs(expected)), (got, expected)


def test_quality_and_induced_mean_field_at_a_fixed_mean_field():
    game = make_game("market_entrance", leader="sell_skew")
    phi = random_leader(game, 3)
    pi = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]], dtype=f64)
    mu = torch.tensor([0.5, 0.2, 0.3], dtype=f64)
    _, _, r_phi, P_phi = game_arrays(game, np64(phi), np64(mu))
    from helpers import soft_policy_value

    v_star, _, _ = soft_value_iteration(r_phi, P_phi, game.gamma, game.tau)
    v_pi = soft_policy_value(r_phi, P_phi, np64(pi), game.gamma, game.tau)
    expected = float(np64(game.rho) @ (v_star - v_pi))
    assert expected > 1e-3
    assert abs(quality(game, pi, phi, mu) - expected) < 1e-9
    P, *_ = game_arrays(game, np64(phi), np64(mu))
    np.testing.assert_allclose(np64(induced_mean_field(game, pi, phi)), induced(game, np64(pi), np64(phi), P),
                               atol=1e-12)
    assert mean_field_error(torch.tensor([0.2, 0.3, 0.5]), torch.tensor([0.5, 0.3, 0.2])) == pytest.approx(0.6)


def test_float32_equilibrium_agrees_with_float64():
    game = make_game("market_entrance", leader="balanced")
    eq64 = solve_equilibrium(game, game.uniform_leader(f64))
    eq32 = solve_equilibrium(game, game.uniform_leader(torch.float32))
    assert eq32.mu.dtype == torch.float32
    np.testing.assert_allclose(np64(eq32.mu), np64(eq64.mu), atol=1e-4)
    np.testing.assert_allclose(np64(eq32.pi), np64(eq64.pi), atol=1e-4)


NON_CONVERGING = [
    ("shop_positioning", {}, 1.0, 50),
    ("shop_positioning", {}, 0.9, 50),
    ("market_entrance", {}, 1.0, 50),
    ("equilibrium_pricing", {}, 1.0, 50),
    # ENVIRONMENTS.md: plain damping 0.5 fails at kappa = 0.02, tau = 0.1
    ("four_rooms", {"kappa": 0.02, "tau": 0.1}, 0.5, 100),
]


@pytest.mark.parametrize("name,kw,damping,max_iter", NON_CONVERGING, ids=lambda v: str(v))
def test_non_convergence_is_reported_with_the_residual(name, kw, damping, max_iter):
    game = make_game(name, **kw)
    tol = 1e-11
    with pytest.raises(EquilibriumNotConverged) as info:
        solve_equilibrium(game, game.uniform_leader(f64), damping=damping, max_iter=max_iter, tol=tol)
    err = info.value
    assert err.residual > tol
    assert "residual" in str(err)
    assert f"{err.residual:.3e}" in str(err)


def test_four_rooms_small_damping_converges_where_half_damping_fails():
    # ENVIRONMENTS.md: damping 0.02 works at kappa = 0.02, tau = 0.1
    game = make_game("four_rooms", kappa=0.02, tau=0.1)
    eq = solve_equilibrium(game, game.uniform_leader(f64), damping=0.02, max_iter=5000)
    assert eq.residual < 1e-10
    assert follower_exploitability(game, eq.pi, game.uniform_leader(f64)) < 1e-8


@pytest.mark.parametrize("damping", [0.0, -0.1, 1.5])
def test_invalid_damping_is_rejected(damping):
    game = make_game("market_entrance")
    with pytest.raises(ValueError, match="damping"):
        solve_equilibrium(game, game.uniform_leader(f64), damping=damping)


def independent_room_masses(game, mu: np.ndarray) -> list[float]:
    masses = [0.0] * 4
    for (x, y), m in zip(np64(game.state_coords).astype(int).tolist(), mu, strict=True):
        if x != 6 and y != 6:
            masses[(x > 6) + 2 * (y > 6)] += m
    return masses


@pytest.mark.parametrize(
    "kappa,expected",
    [(0.02, (0.36, 0.21, 0.21, 0.17)), (0.1, (0.72, 0.10, 0.10, 0.03)), (0.0, (25 / 104,) * 4)],
)
def test_four_rooms_room_masses_match_the_spec(kappa, expected):
    # ENVIRONMENTS.md, measured with an independent solver: noise 0.1, gamma 0.9, K = 1, tau = 0.5
    game = make_game("four_rooms", kappa=kappa, tau=0.5, noise=0.1, gamma=0.9, K=1.0)
    eq = solve_equilibrium(game, game.uniform_leader(f64))
    masses = room_masses(eq.mu)
    np.testing.assert_allclose(masses, independent_room_masses(game, np64(eq.mu)), atol=1e-12)
    np.testing.assert_allclose(masses, expected, atol=0.01)
    if kappa == 0.0:  # the stationary game is trivial: uniform over the 104 free cells
        assert eq.mu.max().item() / eq.mu.min().item() == pytest.approx(1.0, abs=1e-6)
