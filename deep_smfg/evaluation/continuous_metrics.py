"""Estimated metrics for continuous games (docs/model.md, metrics; docs/ac_smfg.md): Monte Carlo returns and the
discretised twin's exact answer.

* :func:`rollout_returns` (:func:`rollout_return_chains` per chain): ``J_f`` (with the entropy term
  ``-tau log pi(a|s)``, the policy's density on the action box) and ``J_l`` from ``rho`` by Monte Carlo, at a
  fixed mean field mean ``m``, truncated at a horizon where ``gamma^T`` is negligible;
* :func:`induced_mean`: ``E[z]`` under the stationary chain of ``(pi, phi)`` (the induced mean field), from
  :func:`stationary_contributions`, the chain's draws of ``z``;
* :class:`TwinReference` / :func:`twin_metrics`: the learned policies projected on the twin's grids
  (each grid point gets the probability of its cell) and compared with the twin's exact equilibrium
  for that leader and with the twin's reference optimum ``Phi*``;
* the follower's exploitability estimated by a learned best response is :mod:`.exploitability_estimate`.

Entropy and the twin: the continuous follower's entropy is differential (density w.r.t. Lebesgue
measure on the action box); the twin's is discrete (w.r.t. counting measure on the grid). A soft best
response on the grid approximates the continuous one's density times the cell volume ``Delta``, so the
twin's follower values exceed the continuous ones by ``-tau log(Delta) / (1 - gamma)``, a constant that
changes neither policies, mean fields nor exploitability (a difference of values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import exact
from ..games.continuous import ContinuousGame, Twin
from .density_distance import w2_1d


def trajectory(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor, n_chains: int, steps: int,
                seed: int):
    """Yield ``(t, s, u, a, b, log pi(a|s))`` along ``n_chains`` chains from ``rho`` under ``(pi, phi)`` at mean
    ``m`` (the follower's draw and its log-density from one pass: ``sample_log_prob``)."""
    gen = torch.Generator(device=m.device).manual_seed(seed)
    s = game.initial_state(n_chains, gen, m)
    for t in range(steps):
        u, a, log_pi = follower.sample_log_prob(s, gen)
        _, b = leader.sample(s, gen)
        yield t, s, u, a, b, log_pi
        s = game.sample_next_state(s, a, b, m, gen)


@torch.no_grad()
def rollout_return_chains(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor,
                          n_chains: int = 2048, horizon: int | None = None, seed: int = 0,
                          log_density=None) -> tuple[Tensor, Tensor]:
    """Per chain, the returns ``(J_f, J_l)`` from ``rho`` at mean ``m``: two ``[n_chains]`` tensors (the same
    ``seed`` gives two policies common random numbers, so their per-chain differences are paired). Games whose
    reward reads the mean field's density need its ``log_density`` too."""
    horizon = horizon or int(math.ceil(math.log(1e-4) / math.log(game.gamma)))
    m = m.detach()
    j_f = torch.zeros(n_chains, dtype=m.dtype, device=m.device)
    j_l = torch.zeros_like(j_f)
    for t, s, _, a, b, log_pi in trajectory(game, follower, leader, m, n_chains, horizon, seed):
        disc = game.gamma**t
        j_f += disc * (game.follower_reward(s, a, b, m, log_density) - game.tau * log_pi)
        j_l += disc * game.reward_l(s, a, b, m)
    return j_f, j_l


def rollout_returns(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor, n_chains: int = 2048,
                    horizon: int | None = None, seed: int = 0, log_density=None) -> dict[str, float]:
    """``J_f`` and ``J_l`` from ``rho`` at mean ``m`` (``n_chains`` chains, common random numbers by ``seed``)."""
    j_f, j_l = rollout_return_chains(game, follower, leader, m, n_chains, horizon, seed, log_density)
    n = n_chains**0.5
    return {"J_f": float(j_f.mean()), "J_l": float(j_l.mean()),
            "J_f_se": float(j_f.std() / n), "J_l_se": float(j_l.std() / n)}


@torch.no_grad()
def stationary_contributions(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor,
                             n_chains: int = 2048, burn_in: int = 100, steps: int = 100, seed: int = 0) -> list[Tensor]:
    """``z = g(s, a, b)`` on the stationary chain of ``(pi, phi)`` at mean ``m``: one ``[n_chains, dz]`` draw per
    period after ``burn_in`` periods from ``rho``."""
    chain = trajectory(game, follower, leader, m.detach(), n_chains, burn_in + steps, seed)
    return [game.contribution(s, a, b) for t, s, _, a, b, _ in chain if t >= burn_in]


@torch.no_grad()
def induced_mean(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor, n_chains: int = 2048,
                 burn_in: int = 100, steps: int = 100, seed: int = 0) -> Tensor:
    """``E[z]`` on the stationary chain of ``(pi, phi)`` (the mean of ``Gamma(pi, phi, .)``)."""
    total = torch.zeros(game.z_dim, dtype=m.dtype, device=m.device)
    for z in stationary_contributions(game, follower, leader, m, n_chains, burn_in, steps, seed):
        total += z.mean(0)
    return total / steps


@dataclass
class TwinReference:
    """The twin and its exact answers: ``Phi*`` (multi-start ascent), the optimal leader table and its equilibrium."""

    game: ContinuousGame
    twin: Twin
    phi_star: float
    phi_star_table: Tensor  # [S, B]
    price_star: float | None  # the equilibrium price under the optimal leader (None: the game has no market)
    phi_uniform: float  # Phi of the uniform leader on the grid

    @classmethod
    def solve(cls, game: ContinuousGame, twin: Twin, n_starts: int = 3, n_steps: int = 100,
              lr: float = 0.1) -> "TwinReference":
        opt = exact.reference_leader_optimum(twin.game, n_starts=n_starts, n_steps=n_steps, lr=lr)
        market = twin.game.market
        price_star = float(market.price(exact.solve_equilibrium(twin.game, opt.phi).mu)) if market else None
        return cls(game, twin, opt.value, opt.phi, price_star,
                   exact.leader_objective(twin.game, twin.game.uniform_leader()))

    def leader_schedule(self, phi_table: Tensor) -> Tensor:
        """``E_phi[b | x]`` at the twin's grid states."""
        return phi_table @ self.twin.leader_actions[:, 0].to(phi_table)


@torch.no_grad()
def project_policies(twin: Twin, follower: nn.Module, leader: nn.Module) -> tuple[Tensor, Tensor]:
    """``(pi[s, a], phi[s, b])`` on the twin's grids (float64): each grid point gets its cell's probability."""
    p = next(follower.parameters())
    states = twin.states.to(p)
    pi = follower.cell_probs(states, twin.action_grids).double().cpu()
    phi = leader.cell_probs(states, twin.leader_grids).double().cpu()
    return pi, phi


def twin_metrics(ref: TwinReference, follower: nn.Module, leader: nn.Module, mean_field: nn.Module,
                 mu_warm: Tensor | None = None) -> tuple[dict[str, float], Tensor]:
    """The learned policies and mean field against the twin's exact answer (and the warm start for next time).

    * ``twin_leader_objective`` ``Phi_twin(phi_k)``, ``leader_gap`` ``Phi*_twin - Phi_twin(phi_k)``;
    * ``gradient_alignment``: the cosine of the partial and total Stackelberg gradients on the twin at ``phi_k``;
    * games with a market: ``price`` ``p(m_hat)``, ``twin_price`` and ``price_error``
      ``|p(m_hat) - p(mu*_twin(phi_k))|``;
    * ``mean_field_error``: the Wasserstein-2 distance between ``N(m_hat, Sigma_hat)`` (the learned density's
      moments) and the Gaussian with the moments of ``mu*_twin(phi_k)`` (1-D: ``sqrt((m1 - m2)^2 + (s1 - s2)^2)``);
    * ``density_w2``: the Wasserstein-2 distance between the learned density itself (a Gaussian or a mixture) and
      ``mu*_twin(phi_k)``, each grid point's mass spread over its cell (:func:`.density_distance.w2_1d`);
    * ``leader_schedule_error``: RMS over the grid states of ``E[b | x]`` against the optimal twin leader's;
    * ``twin_exploitability``: the exact exploitability, on the twin, of the projected follower policy.
    """
    game = ref.twin.game
    pi, phi = project_policies(ref.twin, follower, leader)
    grad = exact.stackelberg_gradient(game, phi, mu0=mu_warm)
    mu_eq = grad.equilibrium.mu
    z = ref.twin.z_values[:, 0]
    m_eq = float(mu_eq @ z)
    s_eq = float((mu_eq @ (z - m_eq) ** 2).clamp_min(0).sqrt())
    m_hat = float(mean_field().detach()[0])
    s_hat = float(mean_field.covariance().detach()[0, 0].clamp_min(0).sqrt())
    b_err = (ref.leader_schedule(phi) - ref.leader_schedule(ref.phi_star_table)).pow(2).mean().sqrt()
    metrics = {
        "twin_leader_objective": grad.value,
        "leader_gap": ref.phi_star - grad.value,
        "gradient_alignment": exact.cosine(grad.partial.flatten(), grad.total.flatten()),
        "mean_field_mean": m_hat,
        "twin_mean_field_mean": m_eq,
        "mean_field_error": math.hypot(m_hat - m_eq, s_hat - s_eq),
        "density_w2": w2_1d(mean_field.components(), z, mu_eq),
        "leader_schedule_error": float(b_err),
        "twin_exploitability": exact.follower_exploitability(game, pi, phi),
    }
    if game.market is not None:
        price_hat, price_eq = (float(ref.game.market.price(torch.tensor(m_hat, dtype=torch.float64))),
                               float(game.market.price(mu_eq)))
        metrics.update(price=price_hat, twin_price=price_eq, price_error=abs(price_hat - price_eq))
    return metrics, mu_eq
