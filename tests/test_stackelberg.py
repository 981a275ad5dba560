"""The leader objective Phi and the Stackelberg gradient, against finite differences and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import SMFG_CONFIGS, config_id, leader_value, np64

from deep_smfg.exact import (
    follower_mdp,
    gamma_map,
    gradient_alignment,
    leader_objective,
    leader_return,
    logit_gradient,
    reference_leader_optimum,
    soft_best_response,
    solve_equilibrium,
    stackelberg_gradient,
)
from deep_smfg.games import make_game

f64 = torch.float64
EPS = 1e-5
TOL = 1e-13


def random_logits(game, seed: int, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(game.n_states, game.n_leader_actions, generator=gen, dtype=f64)


def central_difference(f, omega: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    fd = torch.zeros_like(omega)
    for idx in np.ndindex(*omega.shape):
        plus, minus = omega.clone(), omega.clone()
        plus[idx] += eps
        minus[idx] -= eps
        fd[idx] = (f(torch.softmax(plus, -1)) - f(torch.softmax(minus, -1))) / (2 * eps)
    return fd


def rel_err(g: torch.Tensor, fd: torch.Tensor) -> float:
    return float((g - fd).norm() / fd.norm())


@pytest.mark.parametrize("cfg", SMFG_CONFIGS, ids=config_id)
def test_total_and_partial_gradients_match_finite_differences(cfg):
    game = make_game(cfg[0], **cfg[1])
    omega = random_logits(game, seed=0)
    phi = torch.softmax(omega, -1)
    grad = stackelberg_gradient(game, phi, tol=TOL)
    eq = grad.equilibrium
    assert grad.total.shape == grad.partial.shape == (game.n_states, game.n_leader_actions)
    # Phi itself, against an independent numpy evaluation of J_l at the equilibrium
    assert grad.value == pytest.approx(leader_value(game, np64(phi), np64(eq.pi), np64(eq.mu)), abs=1e-10)
    assert leader_objective(game, phi, tol=TOL) == pytest.approx(grad.value, abs=1e-10)

    # total: re-solve the equilibrium at each perturbed leader (warm-started from mu*)
    fd_total = central_difference(lambda p: leader_objective(game, p, tol=TOL, mu0=eq.mu), omega)
    g_total = logit_gradient(phi, grad.total)
    assert fd_total.norm() > 1e-3  # a non-degenerate check
    assert rel_err(g_total, fd_total) < 1e-4, (g_total, fd_total)

    # partial: pi and mu frozen at the equilibrium, J_l evaluated by the library and by numpy
    pi_f, mu_f = eq.pi.detach(), eq.mu.detach()
    fd_partial = central_difference(lambda p: float(leader_return(game, p, pi_f, mu_f)), omega)
    fd_partial_np = central_difference(lambda p: leader_value(game, np64(p), np64(pi_f), np64(mu_f)), omega)
    np.testing.assert_allclose(fd_partial.numpy(), fd_partial_np.numpy(), atol=1e-8)
    g_partial = logit_gradient(phi, grad.partial)
    assert fd_partial.norm() > 1e-3
    assert rel_err(g_partial, fd_partial) < 1e-4, (g_partial, fd_partial)

    # gradient_alignment is the cosine of the two logit gradients
    cos = float((g_total.flatten() @ g_partial.flatten()) / (g_total.norm() * g_partial.norm()))
    assert gradient_alignment(game, phi, grad) == pytest.approx(cos, abs=1e-12)


def test_logit_gradient_is_the_softmax_chain_rule():
    gen = torch.Generator().manual_seed(5)
    omega = torch.randn(3, 4, generator=gen, dtype=f64)
    G = torch.randn(3, 4, generator=gen, dtype=f64)
    # f(omega) = sum G * softmax(omega): its autograd gradient is the chain rule
    w = omega.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((G * torch.softmax(w, -1)).sum(), w)
    torch.testing.assert_close(logit_gradient(torch.softmax(omega, -1), G), expected, atol=1e-14, rtol=0)


def test_nash_game_has_zero_leader_gradient():
    game = make_game("four_rooms")
    phi = game.uniform_leader(f64)
    assert game.is_nash and phi.shape == (104, 1)
    grad = stackelberg_gradient(game, phi)
    assert grad.value == 0.0
    assert grad.total.abs().max().item() == 0.0
    assert grad.partial.abs().max().item() == 0.0
    assert logit_gradient(phi, grad.total).abs().max().item() == 0.0
    opt = reference_leader_optimum(game)
    assert opt.value == 0.0


# ----- the verification game: an independent closed form -----------------------------------------

TOLL = dict(c0=0.0, c1=0.8, k=1.0, b_max=1.0, target=0.3, w=1.0, kappa=0.2, gamma=0.9, tau=0.3)


def toll_share(p: float, c0, c1, k, b_max, tau, **_) -> float:
    """Root of m = sigmoid((c1 - c0 - k (2m - 1) - p b_max) / tau) by Newton from m = 1/2 (monotone)."""
    m = 0.5
    for _ in range(100):
        s = 1 / (1 + math.exp(-(c1 - c0 - k * (2 * m - 1) - p * b_max) / tau))
        F, dF = m - s, 1 + s * (1 - s) * 2 * k / tau
        m -= F / dF
    return m


def toll_phi(p: float, target, w, kappa, b_max, gamma, **kw) -> float:
    m = toll_share(p, b_max=b_max, **kw)
    return (-w * (m - target) ** 2 - kappa * p * b_max**2) / (1 - gamma)


def toll_dphi(p: float, h: float = 1e-6, **kw) -> float:
    return (toll_phi(p + h, **kw) - toll_phi(p - h, **kw)) / (2 * h)


@pytest.mark.parametrize("params", [TOLL, dict(TOLL, c1=0.3, k=2.0, tau=0.5, gamma=0.8, target=0.45)],
                         ids=["default", "other"])
def test_verification_game_matches_closed_form(params):
    game = make_game("congestion_toll", **params)
    cf = game.closed_form
    for p in [0.0, 0.1, 0.3, 0.5, 0.77, 1.0]:
        phi = torch.tensor([[1 - p, p]], dtype=f64)
        grad = stackelberg_gradient(game, phi, tol=TOL)
        share = toll_share(p, **params)
        # the library's closed form agrees with the one written here
        assert cf.share(p) == pytest.approx(share, abs=1e-12)
        assert cf.phi_value(p) == pytest.approx(toll_phi(p, **params), abs=1e-12)
        assert cf.phi_derivative(p) == pytest.approx(toll_dphi(p, **params), abs=1e-6)
        # the solvers
        assert abs(grad.equilibrium.mu[1].item() - share) < 1e-9
        assert abs(grad.equilibrium.pi[0, 1].item() - share) < 1e-9
        assert abs(grad.value - cf.phi_value(p)) < 1e-9
        assert abs(leader_objective(game, phi) - cf.phi_value(p)) < 1e-9
        dphi_dp = (grad.total[0, 1] - grad.total[0, 0]).item()
        assert dphi_dp == pytest.approx(cf.phi_derivative(p), abs=1e-8)


def toll_optimum(params, n_grid: int = 4001) -> float:
    grid = np.linspace(0, 1, n_grid)
    i = int(np.argmax([toll_phi(p, **params) for p in grid]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    for _ in range(80):  # ternary search on a unimodal bracket
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        lo, hi = (lo, b) if toll_phi(a, **params) > toll_phi(b, **params) else (a, hi)
    return toll_phi(0.5 * (lo + hi), **params)


def test_verification_game_reference_optimum():
    game = make_game("congestion_toll", **TOLL)
    p_star, value = game.closed_form.optimum()
    assert 0.05 < p_star < 0.95  # an interior optimum: the ascent can reach it
    assert value == pytest.approx(toll_optimum(TOLL), abs=1e-9)
    opt = reference_leader_optimum(game)
    assert abs(opt.value - value) < 1e-6
    assert opt.phi[0, 1].item() == pytest.approx(p_star, abs=1e-2)
    assert leader_objective(game, opt.phi) == pytest.approx(opt.value, abs=1e-10)


# ----- every SMFG: the leader matters, and the reference optimum beats random leaders -------------


def one_hot_leader(game, actions: list[int]) -> torch.Tensor:
    return torch.eye(game.n_leader_actions, dtype=f64)[actions]


def leader_pair(game):
    """Two leader policies with visibly different follower equilibria."""
    S, last = game.n_states, game.n_leader_actions - 1
    if game.name in ("shop_positioning", "market_entrance"):
        # A state-independent fee shifts every follower reward equally (shop) or barely (market):
        # charge the last fee on the lower half of the states and nothing elsewhere, then the reverse.
        low = [last if s < S // 2 else 0 for s in range(S)]
        high = [0 if s < S // 2 else last for s in range(S)]
        return one_hot_leader(game, low), one_hot_leader(game, high)
    return one_hot_leader(game, [0] * S), one_hot_leader(game, [last] * S)


@pytest.mark.parametrize("cfg", SMFG_CONFIGS, ids=config_id)
def test_leader_moves_the_follower_equilibrium(cfg):
    game = make_game(cfg[0], **cfg[1])
    phi_a, phi_b = leader_pair(game)
    mu_a = solve_equilibrium(game, phi_a).mu
    mu_b = solve_equilibrium(game, phi_b).mu
    assert (mu_a - mu_b).abs().sum().item() >= 0.1


@pytest.fixture(scope="module", params=SMFG_CONFIGS, ids=config_id)
def optimum(request):
    name, kw = request.param
    game = make_game(name, **kw)
    return game, reference_leader_optimum(game, n_starts=2, n_steps=60)


def test_reference_optimum_beats_random_leaders(optimum):
    game, opt = optimum
    assert len(opt.start_values) == 2 and max(opt.start_values) == opt.value
    # the reported value is what its policy achieves (numpy J_l at the re-solved equilibrium)
    eq = solve_equilibrium(game, opt.phi)
    assert leader_value(game, np64(opt.phi), np64(eq.pi), np64(eq.mu)) == pytest.approx(opt.value, abs=1e-9)
    # a non-trivial optimum: the ascent improves on the uniform leader
    assert opt.value > leader_objective(game, game.uniform_leader(f64)) + 1e-3
    for seed in range(20):
        phi = torch.softmax(random_logits(game, seed=100 + seed, scale=2.0), -1)
        assert opt.value >= leader_objective(game, phi) - 1e-9, seed


# ----- docs/model.md: the partial gradient is blind when the leader governs by incentives ----


@pytest.mark.parametrize(
    "p_target,kappa,phi_uniform,spec_total,blind",
    [(1.6, 1.0, -0.876, -0.129, False), (1.5, 0.3, -0.591, -0.172, True)],
)
def test_pricing_prototype_partial_gradient_blindness(p_target, kappa, phi_uniform, spec_total, blind):
    game = make_game(
        "equilibrium_pricing", leader="incentive", p_target=p_target, kappa=kappa, x_max=3, q_max=2, h_max=2,
        d=4.0, e0=1.0, sigma=1.0, costs=(0.5, 0.25, 0.3, 0.5, 0.1), n_subsidy=5, b_max=0.4, tau=0.2, gamma=0.9,
    )
    assert leader_objective(game, game.uniform_leader(f64)) == pytest.approx(phi_uniform, abs=5e-4)
    total = reference_leader_optimum(game, n_starts=1, n_steps=150).value
    partial = reference_leader_optimum(game, n_starts=1, n_steps=150, gradient="partial").value
    assert total >= spec_total - 0.01  # at least as good as the spec's prototype ascent
    if blind:
        assert partial < total - 0.1
    else:
        assert abs(partial - total) < 0.01


@pytest.mark.parametrize("cfg", [("pricing", None), ("random_smfg", dict(leader_channel="both", transition_coupling=0.5,
                                                                          n_states=3))], ids=["pricing", "random"])
def test_the_three_terms_match_finite_differences_with_the_population_frozen(cfg):
    """``population_frozen`` is ``Phi`` with ``mu*`` held fixed and the followers' soft best response re-solved at
    every perturbed leader; the three terms add up to the total (which, on a game whose transitions read ``mu``, is
    checked against finite differences too)."""
    game = make_game("equilibrium_pricing", leader="incentive") if cfg[1] is None else make_game(cfg[0], **cfg[1])
    omega = random_logits(game, seed=2)
    phi = torch.softmax(omega, -1)
    grad = stackelberg_gradient(game, phi, tol=TOL)
    mu = grad.equilibrium.mu.detach()

    def frozen_population_objective(p: torch.Tensor) -> float:
        mdp = follower_mdp(game, p, mu)
        pi = soft_best_response(mdp.r_phi, mdp.P_phi, game.gamma, game.tau, tol=1e-14, max_iter=5000).pi
        return float(leader_return(game, p, pi, mu))

    fd = central_difference(frozen_population_objective, omega)
    got = logit_gradient(phi, grad.population_frozen)
    assert (fd - logit_gradient(phi, grad.partial)).norm() > 1e-3  # the followers' answer is not negligible here
    assert rel_err(got, fd) < 1e-4, (got, fd)
    terms = grad.terms()
    torch.testing.assert_close(sum(terms.values()), grad.total, atol=1e-12, rtol=0)

    # the population's answer is the adjoint times how the followers' stationary law moves with the leader, mu* held
    def answered_law(p: torch.Tensor) -> torch.Tensor:
        mdp = follower_mdp(game, p, mu)
        pi = soft_best_response(mdp.r_phi, mdp.P_phi, game.gamma, game.tau, tol=1e-14, max_iter=5000).pi
        return gamma_map(game, pi, p, mdp.P)

    fd_population = central_difference(lambda p: float(grad.adjoint @ answered_law(p)), omega)
    assert fd_population.norm() > 1e-3
    assert rel_err(logit_gradient(phi, terms["population"]), fd_population) < 1e-4
    fd_total = central_difference(lambda p: leader_objective(game, p, tol=TOL, mu0=mu), omega)
    assert rel_err(logit_gradient(phi, grad.total), fd_total) < 1e-4
