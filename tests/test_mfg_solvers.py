"""MF-TRPO, fictitious play and online mirror descent (docs/solvers.md) against independent answers:
``exact.solve_equilibrium``'s mean field, numpy soft value iteration and the numpy exploitability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import exploitability as np_exploitability
from helpers import game_arrays, np64, soft_policy_value, soft_value_iteration

from deep_smfg import exact
from deep_smfg.cli import main
from deep_smfg.games import make_game
from deep_smfg.solvers import run_solver
from deep_smfg.solvers.fictitious_play import FictitiousPlay
from deep_smfg.solvers.mf_trpo import MFTRPO
from deep_smfg.solvers.mirror_descent import OnlineMirrorDescent

f64 = torch.float64


def random_mdp(S=4, A=3, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 3
    return rng.normal(size=(S, A)), P / P.sum(-1, keepdims=True)


def test_the_mirror_step_s_fixed_point_is_the_soft_best_response():
    r, P = random_mdp()
    gamma, tau = 0.9, 0.4
    _, Q_star, pi_star = soft_value_iteration(r, P, gamma, tau)
    for eta in (0.1, 1.0, 1 / tau):
        out = exact.mirror_step(torch.tensor(np.log(pi_star)), torch.tensor(Q_star), eta, tau)
        np.testing.assert_allclose(out.exp().numpy(), pi_star, atol=1e-12)
    # the slide's sign, pi^(1 + eta tau) exp(eta q), moves away from it
    slide = np.log(pi_star) * (1 + 0.5 * tau) + 0.5 * Q_star
    assert np.abs(np.exp(slide - np.log(np.exp(slide).sum(-1, keepdims=True))) - pi_star).max() > 1e-2
    with pytest.raises(ValueError, match="0 < eta \\* tau <= 1"):
        exact.mirror_step(torch.zeros(2, 2), torch.zeros(2, 2), 3.0, tau)


def trpo_inner_loop(r, P, gamma, tau, eta, steps):
    """MF-TRPO's inner loop at a frozen mean field, step 1 / (eta (k+2)); the value gaps to the soft optimum."""
    v_star, _, _ = soft_value_iteration(r, P, gamma, tau)
    rt, Pt = torch.tensor(r), torch.tensor(P)
    log_pi = torch.full(r.shape, -np.log(r.shape[1]), dtype=f64)
    gaps = []
    for k in range(steps):
        q = exact.soft_policy_evaluation(rt, Pt, log_pi.exp(), gamma, tau).Q
        log_pi = exact.mirror_step(log_pi, q, 1 / (eta * (k + 2)), tau)
        gaps.append((v_star - soft_policy_value(r, P, np64(log_pi.exp()), gamma, tau)).max())
    return np.array(gaps), np64(log_pi.exp())


def test_the_trpo_inner_loop_converges_to_the_soft_best_response_at_its_rate():
    """The log-policy error contracts by ``1 - tau / (eta (k+2))`` a step, i.e. like ``k^(-tau/eta)``, and the
    value gap (quadratic in it) like ``k^(-2 tau/eta)``: checked on a random MDP against numpy's soft value
    iteration."""
    r, P = random_mdp(seed=1)
    gamma, tau = 0.9, 0.4
    _, _, pi_star = soft_value_iteration(r, P, gamma, tau)
    gaps, pi = trpo_inner_loop(r, P, gamma, tau, eta=tau / 2, steps=200)
    assert gaps.min() >= -1e-12 and gaps[-1] < 1e-9  # measured 2.9e-11
    np.testing.assert_allclose(pi, pi_star, atol=1e-5)
    for eta in (tau, 1.0):  # measured exponents 1.97 and 0.90 for 2.0 and 0.8
        gaps, _ = trpo_inner_loop(r, P, gamma, tau, eta=eta, steps=200)
        assert np.log2(gaps[99] / gaps[199]) == pytest.approx(2 * tau / eta, abs=0.25)


def test_one_mf_trpo_population_step_by_hand():
    game = make_game("four_rooms")
    phi = game.uniform_leader(f64)
    solver = MFTRPO(eta=1.0, inner_steps=2, population_step=0.3, kernel_power=4)
    state = solver.init(game, phi)
    new = solver.step(game, state)
    # by hand, in numpy: two TRPO steps at the uniform mean field, then d + 0.3 (d K^4 - d)
    _, _, r_phi, P_phi = game_arrays(game, np64(phi), np64(state.mu))
    pi = np.full((game.n_states, game.n_actions), 1 / game.n_actions)
    for k in range(2):
        v = soft_policy_value(r_phi, P_phi, pi, game.gamma, game.tau)
        q = r_phi + game.gamma * P_phi @ v
        step = 1 / (k + 2)
        logits = (1 - game.tau * step) * np.log(pi) + step * q
        pi = np.exp(logits - logits.max(-1, keepdims=True))
        pi /= pi.sum(-1, keepdims=True)
    K = np.einsum("sa,sat->st", pi, P_phi)
    d = np.full(game.n_states, 1 / game.n_states)
    d = d + 0.3 * (d @ np.linalg.matrix_power(K, 4) - d)
    np.testing.assert_allclose(np64(new.pi), pi, atol=1e-12)
    np.testing.assert_allclose(np64(new.d), d, atol=1e-12)
    np.testing.assert_allclose(np64(new.mu), d, atol=1e-12)  # four_rooms: z = s


# (solver, a bound on its steps to the tolerances below; measured: four_rooms / congestion_toll)
SOLVERS = [
    (MFTRPO(), 100),  # 43 / 16
    (OnlineMirrorDescent(), 200),  # 77 / 93
    (FictitiousPlay(), 800),  # 378 / 10
]
# The exploitability is quadratic in the distance to the equilibrium, with a game-dependent constant: these
# tolerances are what it takes for the mean field to come within 1e-3 of the equilibrium's on each game.
TOL = {"four_rooms": 1e-4, "congestion_toll": 1e-7}


@pytest.mark.parametrize("name", ["four_rooms", "congestion_toll"])
@pytest.mark.parametrize("solver, bound", SOLVERS, ids=lambda s: getattr(s, "name", ""))
def test_solver_reaches_the_equilibrium(name, solver, bound):
    game = make_game(name)
    phi = game.uniform_leader(f64)
    run = run_solver(solver, game, phi, bound, tol=TOL[name], mean_field_tol=1e-4)
    assert run.converged and run.final_exploitability < 1e-3
    eq = exact.solve_equilibrium(game, phi)
    assert exact.mean_field_error(run.state.mu, eq.mu) < 1e-3
    # independent numpy: the exploitability of the returned policy against the mean field it induces
    assert abs(np_exploitability(game, np64(run.state.pi), np64(phi))) < TOL[name]
    assert run.history[0]["exploitability"] > 1e-2  # from the uniform start


def test_fictitious_play_s_average_policy_induces_its_average_mean_field():
    game = make_game("four_rooms")
    run = run_solver(FictitiousPlay(), game, game.uniform_leader(f64), 30)
    assert max(h["mean_field_gap"] for h in run.history) < 1e-10
    expl = [h["exploitability"] for h in run.history]
    assert expl[-1] < expl[0] / 10


@pytest.mark.parametrize(
    "args, message",
    [
        (["solver=mf_trpo", "solver.eta=0.1"], "eta must be >= tau / 2 = 0.25"),
        (["solver=mf_trpo", "solver.population_step=0"], "solver.population_step=0: must be a number in (0, 1]"),
        (["solver=mf_trpo", "solver.kernel_power=0"], "solver.kernel_power=0: must be an integer >= 1"),
        (["solver=mirror_descent", "solver.learning_rate=3"], "learning_rate must be <= 1 / tau = 2"),
        (["solver=fictitious_play", "+solver.damping=0.5"], "takes no arguments"),
    ],
)
def test_bad_solver_parameters_are_rejected_and_write_nothing(tmp_path, capsys, args, message):
    run_dir = tmp_path / "run"
    assert main(["solve", "game=four_rooms"] + args + [f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()
