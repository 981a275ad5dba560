"""The deviator's problem among ``n`` players of a continuous game, and its learned best response (docs/n_player.md).

One player deviates while the other ``n - 1`` play ``pi`` against the leader's ``phi``. When the transition does
not read the mean field, the others' chains are independent of each other and of the deviator. In the
stationary regime the sum of their contributions ``S_t = sum_{j != i} z_j,t`` is therefore, at every period, a
sum of ``n - 1`` independent draws from the stationary law of ``z``, independent of the deviator's own trajectory.
For a deviation that reads its own state only, the expected return is then that of the MDP with the reward

    r^n(s, a, b) = E_S r(s, a, b, (S + g(s, a, b)) / n)

(``S_t`` is correlated over time, but the return is an expectation of a sum of per-period rewards, so only
its law at each period enters). :func:`deviator_game` is that MDP as a :class:`ContinuousGame` whose rewards
draw ``S`` afresh per row from a bank of sums (:func:`others_sums`); :func:`learned_deviation` trains the
follower's actor-critic on it, starting from ``pi``, exactly as the train job's best-response estimate does on
the mean-field game.

At ``n = 1`` the player's own ``z`` is the whole mean field (``S = 0``): the deviator learns its own price impact.
As ``n`` grows, ``(S + z) / n`` concentrates at ``m_bar`` and the problem becomes the mean-field one.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from ..games.continuous import ContinuousGame
from .continuous_metrics import stationary_contributions

BANK = 4096  # sums S of the others' contributions, drawn once per n
POOL_CHAINS, POOL_BURN_IN, POOL_PERIODS = 2048, 100, 16  # the stationary z pool: 32,768 draws


def per_row(fn):
    """``fn(s, a, b, m)`` with a mean ``m`` per row (the game's functions take one ``m [dz]`` per batch)."""
    return torch.func.vmap(lambda s, a, b, m: fn(s[None], a[None], b[None], m)[0])


def stationary_pool(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m: Tensor,
                    seed: int = 0) -> Tensor:
    """Draws of ``z`` from the stationary chain of ``(pi, phi)``: ``[POOL_CHAINS * POOL_PERIODS, dz]``."""
    return torch.cat(stationary_contributions(game, follower, leader, m, POOL_CHAINS, POOL_BURN_IN, POOL_PERIODS,
                                              seed))


@torch.no_grad()
def others_sums(pool: Tensor, n: int, bank: int = BANK, seed: int = 0, chunk: int = 1 << 22) -> Tensor:
    """``bank`` draws of ``S``, each the sum of ``n - 1`` independent draws from ``pool``: ``[bank, dz]``."""
    gen = torch.Generator(device=pool.device).manual_seed(seed)
    sums = torch.zeros(bank, pool.shape[1], dtype=pool.dtype, device=pool.device)
    if n == 1:
        return sums
    rows = max(1, chunk // (n - 1))  # rows of n - 1 indices per chunk, to bound the memory at large n
    for start in range(0, bank, rows):
        k = min(rows, bank - start)
        idx = torch.randint(pool.shape[0], (k, n - 1), generator=gen, device=pool.device)
        sums[start:start + k] = pool[idx].sum(1)
    return sums


def deviator_game(game: ContinuousGame, sums: Tensor, n: int, seed: int = 0) -> ContinuousGame:
    """``game`` with the rewards ``r(s, a, b, (S + g(s, a, b)) / n)``, ``S`` drawn per row from ``sums``.

    The rewards ignore the ``m`` they are given (the learner's frozen mean field); everything else is
    ``game``'s. Each call draws fresh ``S``: the rewards are unbiased draws of ``r^n`` (module docstring)."""
    if game.transition_reads_mean_field:
        raise ValueError(f"{game.name}'s transition reads the mean field: the deviator's problem is an MDP only "
                         "when it does not")
    gen = torch.Generator(device=sums.device).manual_seed(seed)

    def among_n(fn):
        rows = per_row(fn)

        def reward(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
            idx = torch.randint(sums.shape[0], (s.shape[0],), generator=gen, device=sums.device)
            return rows(s, a, b, (sums[idx].to(s) + game.contribution(s, a, b)) / n)
        return reward

    return dataclasses.replace(game, name=f"{game.name}_among_{n}", reward_f=among_n(game.reward_f),
                               reward_l=among_n(game.reward_l), info=dict(game.info, players=n))


def learned_deviation(learner, pool: Tensor, m_bar: Tensor, n: int, iterations: int, seed: int = 0) -> nn.Module:
    """The follower trained ``iterations`` iterations on :func:`deviator_game` among ``n`` players, from ``pi``."""
    from ..learners.best_response import train_best_response

    game = deviator_game(learner.game, others_sums(pool, n, seed=seed), n, seed=seed + 1)
    return train_best_response(learner, m_bar, iterations, seed=seed + 2, game=game).follower
