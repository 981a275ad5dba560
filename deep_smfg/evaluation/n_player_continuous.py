"""The learned policies in a population of ``n`` players: continuous games (docs/n_player.md).

A continuous game reads the mean field through its mean ``m = E[z]`` (:mod:`deep_smfg.games.continuous`). Among
``n`` players, the mean in period ``t`` is the empirical one, ``m_t^n = (1/n) sum_i z_i,t``. The measured
quantities and the simulation are those of the finite evaluation (:mod:`.n_player`):
- ``n - 1`` others burn in from ``rho``;
- ``ghosts`` copies of the measured player then start from ``rho``, each seeing
  ``(sum of the others' z + own z) / n``. This is exact in law when the transition does not read the mean
  field; other games are refused.
- The ``pi`` copies and the ``pi_dev`` copies draw the same random numbers, through two generators seeded
  alike.

There is no exact MDP here. The deviation ``pi_dev`` for each ``n`` is a best response *learned in the deviator's
problem among n players* (:mod:`.n_player_deviation`: the rewards see ``(S + own z) / n`` with ``S`` the sum of
``n - 1`` stationary others), starting from ``pi``. Its gain, measured in the simulation, is a lower bound on the
epsilon-Nash gap among policies of the player's own state: the deviation is learned for a finite budget and
within the policy class.

The mean-field references are Monte Carlo returns at ``m_bar``, with standard errors; the mean-field limit of the
gain is the gain of a best response learned against ``m_bar`` (the train job's estimate).

Everything runs on the device of the learner's modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..games.continuous import ContinuousGame
from .continuous_metrics import induced_mean, rollout_returns
from .n_player import NPlayerRow, games_for, horizon
from .n_player_deviation import learned_deviation, per_row, stationary_pool


@dataclass
class ContinuousMeanFieldValues:
    """The ``n -> infinity`` references at ``m_bar``: Monte Carlo returns and the learned best response's gain."""

    follower_return: float
    leader_objective: float
    exploitability: float  # J_f(BR) - J_f(pi) at m_bar: a lower bound (learned BR)
    follower_return_se: float
    leader_objective_se: float
    induced_mean: list[float]


@torch.no_grad()
def simulate_continuous(game: ContinuousGame, follower: nn.Module, leader: nn.Module, deviator: nn.Module, n: int,
                        games: int, ghosts: int, burn_in: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Per game, the mean over its copies of the measured player's follower and leader returns (playing ``pi``) and
    of the deviation gain (``deviator`` minus ``pi``): three ``[games]`` tensors (module docstring)."""
    if game.transition_reads_mean_field:
        raise ValueError(f"{game.name}'s transition reads the mean field: the n-player evaluation handles games "
                         "whose transition does not")
    if game.reads_density:
        raise ValueError(f"{game.name}'s reward reads the mean field's density: n players' empirical law has none, "
                         "and the n-player evaluation handles games that read the mean")
    like = next(follower.parameters()).detach()
    gen_others = torch.Generator(device=like.device).manual_seed(seed)
    gen_pi, gen_dev = (torch.Generator(device=like.device).manual_seed(seed + 1) for _ in range(2))  # common numbers
    reward_f, reward_l = per_row(game.reward_f), per_row(game.reward_l)
    m_dummy = torch.zeros(game.z_dim, dtype=like.dtype, device=like.device)  # the transition does not read it

    def act(policy: nn.Module, s: Tensor, gen: torch.Generator):
        _, a, log_pi = policy.sample_log_prob(s, gen)  # the draw and its log-density from one pass
        _, b = leader.sample(s, gen)
        return a, b, log_pi

    def move(s: Tensor, a: Tensor, b: Tensor, gen: torch.Generator) -> Tensor:
        return game.next_state(s, a, b, m_dummy, game.sample_noise(s.shape[0], gen, s))

    others = game.initial_state(games * (n - 1), gen_others, like)
    copies = {"pi": game.initial_state(games * ghosts, gen_pi, like),
              "dev": game.initial_state(games * ghosts, gen_dev, like)}
    policies, gens = {"pi": follower, "dev": deviator}, {"pi": gen_pi, "dev": gen_dev}
    ret_f = {k: torch.zeros(games * ghosts, dtype=like.dtype, device=like.device) for k in copies}
    ret_l = torch.zeros_like(ret_f["pi"])
    for t in range(burn_in + horizon(game.gamma)):
        a_o, b_o, _ = act(follower, others, gen_others)
        if t >= burn_in:
            z_sum = game.contribution(others, a_o, b_o).reshape(games, n - 1, game.z_dim).sum(1)
            weight = game.gamma ** (t - burn_in)
            for key, s in copies.items():
                policy = policies[key]
                a, b, log_pi = act(policy, s, gens[key])
                z = game.contribution(s, a, b)
                m = (z_sum.repeat_interleave(ghosts, 0) + z) / n
                ret_f[key] += weight * (reward_f(s, a, b, m) - game.tau * log_pi)
                if key == "pi":
                    ret_l += weight * reward_l(s, a, b, m)
                copies[key] = move(s, a, b, gens[key])
        others = move(others, a_o, b_o, gen_others)
    per_game = {k: v.reshape(games, ghosts).mean(1) for k, v in ret_f.items()}
    return per_game["pi"], ret_l.reshape(games, ghosts).mean(1), per_game["dev"] - per_game["pi"]


def continuous_mean_field_values(game: ContinuousGame, follower: nn.Module, leader: nn.Module, deviator: nn.Module,
                                 m_bar: Tensor, n_chains: int = 16384, seed: int = 0) -> ContinuousMeanFieldValues:
    mine = rollout_returns(game, follower, leader, m_bar, n_chains, seed=seed)
    best = rollout_returns(game, deviator, leader, m_bar, n_chains, seed=seed)
    return ContinuousMeanFieldValues(follower_return=mine["J_f"], leader_objective=mine["J_l"],
                                     exploitability=best["J_f"] - mine["J_f"], follower_return_se=mine["J_f_se"],
                                     leader_objective_se=mine["J_l_se"], induced_mean=m_bar.tolist())


def evaluate_n_players_continuous(learner, n_players: list[int], games: int = 16, ghosts: int = 128,
                                  periods: int = 1000, best_response_iterations: int = 3000, seed: int = 0,
                                  max_players: int | None = None, mean_field_chains: int = 16384,
                                  ) -> tuple[list[NPlayerRow], ContinuousMeanFieldValues]:
    """One :class:`NPlayerRow` per ``n`` (no exact values: ``exact_*`` are NaN) and the mean-field values.

    Each ``n`` gets its own deviation, learned for ``best_response_iterations`` iterations among ``n`` players
    (:func:`.n_player_deviation.learned_deviation`); the mean-field limit's, against ``m_bar`` (its values on
    ``mean_field_chains`` chains)."""
    from ..learners.best_response import train_best_response

    game = learner.game
    agents = learner.agents()
    follower, leader = agents.follower, agents.leader
    m_bar = induced_mean(game, follower, leader, agents.mean_field().detach(), seed=seed)
    mean_field_deviator = train_best_response(learner, m_bar, best_response_iterations, seed=seed + 12345).follower
    limit = continuous_mean_field_values(game, follower, leader, mean_field_deviator, m_bar, mean_field_chains, seed)
    pool = stationary_pool(game, follower, leader, m_bar, seed=seed + 1)
    rows = []
    for i, n in enumerate(n_players):
        deviator = learned_deviation(learner, pool, m_bar, n, best_response_iterations, seed=seed * 1009 + 2 * i)
        per_game = simulate_continuous(game, follower, leader, deviator, n, games_for(n, games, max_players), ghosts,
                                       periods - horizon(game.gamma), seed=seed * 1009 + 2 * i)
        rows.append(NPlayerRow.from_games(n, *per_game))
    return rows, limit
