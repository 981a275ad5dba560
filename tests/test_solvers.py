"""The exact-model solver protocol, its loop and the damped fixed point, against independent answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import exploitability as np_exploitability
from helpers import game_arrays, induced, np64, soft_value_iteration
from omegaconf import OmegaConf

from deep_smfg import exact
from deep_smfg.cli import compose_config, main
from deep_smfg.games import make_game
from deep_smfg.solve import make_solver
from deep_smfg.solvers import Solver, run_solver
from deep_smfg.solvers.damped_fixed_point import DampedFixedPoint

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
f64 = torch.float64


def full_run(name: str, iterations: int = 300):
    game = make_game(name)
    phi = game.uniform_leader(f64)
    return game, phi, run_solver(DampedFixedPoint(), game, phi, iterations)  # tol=None: every step, no early stop


@pytest.mark.parametrize("name", ["congestion_toll", "four_rooms"])
def test_damped_fixed_point_reaches_the_equilibrium(name):
    game, phi, run = full_run(name)
    history = run.history
    assert [h["iteration"] for h in history] == list(range(1, 301)) and run.iterations == 300 and not run.converged

    # the recorded exploitability is exact.follower_exploitability, and falls by orders of magnitude
    assert run.final_exploitability == exact.follower_exploitability(game, run.state.pi, phi)
    assert history[0]["exploitability"] > 1e-2 and abs(run.final_exploitability) < 1e-12
    first = next(h["iteration"] for h in history if h["exploitability"] < 1e-8)
    assert first < 60  # measured: 8 (congestion_toll), 48 (four_rooms)
    # the state's policy is BR(phi, mu_k) at every step: nothing to gain against the state's own mean field
    assert max(abs(h["quality"]) for h in history) < 1e-9

    # the mean field equals exact.solve_equilibrium's ...
    eq = exact.solve_equilibrium(game, phi)
    assert exact.mean_field_error(run.state.mu, eq.mu) < 1e-8
    assert (run.state.pi - eq.pi).abs().max() < 1e-8
    assert history[-1]["mean_field_gap"] < 1e-11 and history[-1]["mean_field_delta"] < 1e-12
    # ... and is a fixed point for independent numpy: pi = BR(mu) by soft value iteration, mu = Gamma(pi)
    mu, phi_np = np64(run.state.mu), np64(phi)
    P, _, r_phi, P_phi = game_arrays(game, phi_np, mu)
    _, _, pi_np = soft_value_iteration(r_phi, P_phi, game.gamma, game.tau)
    np.testing.assert_allclose(np64(run.state.pi), pi_np, atol=1e-8)
    assert np.abs(induced(game, pi_np, phi_np, P) - mu).sum() < 1e-8
    assert abs(np_exploitability(game, np64(run.state.pi), phi_np)) < 1e-8


def test_congestion_toll_matches_its_closed_form():
    game, phi, run = full_run("congestion_toll", 60)
    closed = game.closed_form
    assert float(run.state.mu[1]) == pytest.approx(closed.share(0.5), abs=1e-9)
    last = run.history[-1]
    assert last["leader_objective"] == pytest.approx(closed.phi_value(0.5), abs=1e-8)
    assert last["leader_return"] == pytest.approx(closed.phi_value(0.5), abs=1e-8)
    # Phi(phi) does not move with a fixed leader; J_l at the iterates converges to it
    assert {h["leader_objective"] for h in run.history} == {last["leader_objective"]}
    assert abs(run.history[0]["leader_return"] - last["leader_objective"]) > 1e-2


def test_nash_games_record_no_leader_objective():
    _, _, run = full_run("four_rooms", 3)
    assert set(run.history[0]) == {"iteration", "exploitability", "quality", "mean_field_gap", "mean_field_delta",
                                   "fixed_point_residual", "wall_time"}
    times = [h["wall_time"] for h in run.history]
    assert times == sorted(times) and run.seconds == times[-1]


@pytest.mark.parametrize("name", ["congestion_toll", "four_rooms", "equilibrium_pricing"])
def test_iterates_are_exactly_solve_equilibrium_s(name):
    game = make_game(name)
    phi = game.uniform_leader(f64)
    eq = exact.solve_equilibrium(game, phi)  # returns BR(mu) at its (iterations - 1)-th damped mean field
    run = run_solver(DampedFixedPoint(), game, phi, eq.iterations - 1)
    assert torch.equal(run.state.mu, eq.mu) and torch.equal(run.state.pi, eq.pi)
    assert run.history[-1]["fixed_point_residual"] == eq.residual


def test_early_stop_at_tol():
    game, phi, full = full_run("four_rooms", 200)
    first = next(h["iteration"] for h in full.history if h["exploitability"] < 1e-8)
    run = run_solver(DampedFixedPoint(), game, phi, 200, tol=1e-8)
    assert run.converged and run.iterations == first == len(run.history)
    assert run.history == [dict(h, wall_time=r["wall_time"])
                           for h, r in zip(full.history[:first], run.history, strict=True)]

    # the mean-field test: exploitability alone stops equilibrium_pricing while its mean field still lags
    game = make_game("equilibrium_pricing")
    phi = game.uniform_leader(f64)
    loose = run_solver(DampedFixedPoint(), game, phi, 200, tol=1e-8)
    strict = run_solver(DampedFixedPoint(), game, phi, 200, tol=1e-8, mean_field_tol=1e-8)
    assert loose.iterations <= 2 and loose.history[-1]["mean_field_gap"] > 0.1
    assert strict.converged and strict.history[-1]["mean_field_gap"] < 1e-8 < strict.history[-2]["mean_field_gap"]


def test_record_every_records_the_multiples_and_the_last_step():
    game, phi, full = full_run("four_rooms", 200)
    first = next(h["iteration"] for h in full.history if h["exploitability"] < 1e-8)
    run = run_solver(DampedFixedPoint(), game, phi, 200, tol=1e-8, record_every=5)
    stop = 5 * -(-first // 5)
    assert [h["iteration"] for h in run.history] == list(range(5, stop + 1, 5)) and run.iterations == stop
    run = run_solver(DampedFixedPoint(), game, phi, 7, record_every=5)
    assert [h["iteration"] for h in run.history] == [5, 7] and not run.converged
    # the step's mean-field delta is that of the recorded step, not of the five since the last record
    assert run.history[-1]["mean_field_delta"] == full.history[6]["mean_field_delta"]


def test_damping():
    with pytest.raises(ValueError, match=r"damping must lie in \(0, 1\], got 0"):
        DampedFixedPoint(damping=0)
    game = make_game("congestion_toll")
    phi = game.uniform_leader(f64)
    eq = exact.solve_equilibrium(game, phi, damping=0.3)
    run = run_solver(DampedFixedPoint(damping=0.3), game, phi, eq.iterations - 1)
    assert torch.equal(run.state.mu, eq.mu)
    # undamped, the best responses flip between the two routes: a 2-cycle that never converges
    cycle = run_solver(DampedFixedPoint(damping=1.0), game, phi, 200, tol=1e-8).history[-2:]
    assert min(h["exploitability"] for h in cycle) > 1 and min(h["mean_field_delta"] for h in cycle) > 1.7


@pytest.mark.parametrize("path", sorted((CONFIGS / "solver").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_solver_config_builds_its_solver_and_is_named_after_its_file(path):
    cfg = compose_config("solve", [f"solver={path.stem}"])
    solver, loop = make_solver(cfg.solver)
    assert isinstance(solver, Solver) and solver.name == path.stem
    assert set(loop) == {"tol", "mean_field_tol", "max_iter", "record_every"}
    assert OmegaConf.load(path)._target_ == f"{type(solver).__module__}.{type(solver).__name__}"


def test_solve_cli_takes_the_solver_knobs(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["solve", "game=congestion_toll", "solver=damped_fixed_point", "solver.damping=0.3", "solver.tol=1e-8",
            "solver.mean_field_tol=1e-3", "optimum.n_starts=1", "optimum.n_steps=2", f"run_dir={run_dir}"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert OmegaConf.load(run_dir / "config.yaml").solver.damping == 0.3
    game = make_game("congestion_toll")
    expected = run_solver(DampedFixedPoint(0.3), game, game.uniform_leader(f64), 5000, tol=1e-8, mean_field_tol=1e-3)
    assert summary["solver_iterations"] == expected.iterations
    assert summary["final_exploitability"] == pytest.approx(expected.final_exploitability, rel=1e-6)
    assert summary["final_exploitability"] < 1e-8 and summary["solver_converged"]


def test_a_solve_that_does_not_converge_says_so(tmp_path, capsys):
    """Undamped, congestion_toll's best responses flip between the routes (test_damping): the run must warn."""
    run_dir = tmp_path / "run"
    assert main(["solve", "game=congestion_toll", "solver.damping=1.0", "solver.max_iter=50", "optimum.n_starts=1",
                 "optimum.n_steps=2", f"run_dir={run_dir}"]) == 0
    out = capsys.readouterr()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert not summary["solver_converged"] and summary["solver_iterations"] == 50
    (warning,) = summary["warnings"]
    assert warning.startswith("damped_fixed_point did not converge in 50 iterations") and warning in out.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["solver=nope"], "damped_fixed_point"),  # Hydra lists the available solver configs
        (["solver.damping=2"], "solver.damping=2: must be a number in (0, 1]"),
        (["+solver.foo=1"], "unexpected keyword argument 'foo'"),
        (["solver.record_every=0"], "solver.record_every=0: must be an integer >= 1"),
        (["solver._target_=deep_smfg.exact.Equilibrium"], "is not a deep_smfg.solvers.Solver"),
        (["solver._target_=deep_smfg.solvers.Nope"], "names nothing importable"),
    ],
)
def test_bad_solver_is_rejected_and_writes_nothing(tmp_path, capsys, args, message):
    run_dir = tmp_path / "run"
    assert main(["solve", "game=congestion_toll"] + args + [f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()
