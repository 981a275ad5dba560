"""The learned policies in a population of ``n`` players (docs/n_player.md): finite games.

``n`` followers all play the follower policy ``pi``; the leader plays ``phi`` on each of them; the mean
field in every reward is the *empirical* law of the ``n`` players' ``z = g(s, a, b)`` in that period. For
each ``n`` the evaluation reports, from ``R`` independent games:

* ``follower_return``: a player's entropy-regularised discounted return from ``rho``,
  ``E sum_t gamma^t [r_f(s_t, a_t, b_t, mu_t^n) - tau log pi(a_t|s_t)]`` (the mean-field limit: ``J_f(pi; mu_bar)``);
* ``leader_objective``: the leader's discounted return on that player, ``E sum_t gamma^t r_l(..., mu_t^n)``
  (the limit: ``J_l(phi; pi, mu_bar)``, which is ``Phi(phi)`` when ``pi`` is the equilibrium follower);
* ``deviation_gain``: what that player gains by playing ``pi_dev`` while the other ``n - 1`` keep ``pi``
  (the limit: the exploitability of ``pi``). ``n = 1``: ``pi_dev`` is the exact best response of the
  single-agent MDP in which the player's own ``z`` is the whole mean field, so the gain is the exact
  epsilon-Nash gap. ``n >= 2``: ``pi_dev`` is the mean-field best response ``BR(phi, mu_bar)``, and the gain is
  a lower bound on the epsilon-Nash gap (the best deviation would also exploit the fluctuations of
  ``mu_t^n`` and its own ``1/n`` share of it).

``mu_bar = Gamma(pi, phi, mu_bar)`` is the mean field that ``pi`` induces.

**How a game is simulated.** The ``n - 1`` other players start from ``rho`` and run ``burn_in`` periods so that
their law is stationary. Then ``ghosts`` copies of the measured player start from ``rho``. Half of them play
``pi`` and half play ``pi_dev``. Each copy's mean field is ``(counts of the others' z + e_{own z}) / n``,
exactly what the measured player sees. The copies do not enter the others' mean field. Their dynamics are
therefore exact in law when the transition does not read ``mu`` (every built-in game; others are refused),
because the others' rewards never move their states. The copies share the others, so that the deviation
gain is a difference under common random numbers. Returns are truncated after ``horizon`` periods, with
``gamma^horizon <= 1e-6``. The games run on the device asked for (the run's, through ``deep-smfg evaluate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import exact
from ..exact.markov import entropy, leader_averaged
from ..games.base import FiniteGame
from ..games.continuous import ContinuousGame

TRUNCATION = 1e-6  # gamma^horizon: the discounted weight left out of the returns


@dataclass
class NPlayerRow:
    """For one ``n``: the simulation's means and standard errors over ``games`` independent games, and the exact
    values of the measured player's MDP (:func:`player_mdp`)."""

    n: int
    games: int
    follower_return: float
    follower_return_se: float
    leader_objective: float
    leader_objective_se: float
    deviation_gain: float
    deviation_gain_se: float
    exact_follower_return: float
    exact_leader_objective: float
    exact_deviation_gain: float

    @classmethod
    def from_games(cls, n: int, follower: Tensor, leader: Tensor, gain: Tensor,
                   exact_values: tuple[float, float, float] = (math.nan, math.nan, math.nan)) -> NPlayerRow:
        """Means and standard errors of :func:`simulate`'s per-game values; ``exact_values``: the measured player's
        exact ``(follower_return, leader_objective, deviation_gain)`` (NaN where there is none)."""
        (fm, fs), (lm, ls), (gm, gs) = (_mean_se(x) for x in (follower, leader, gain))
        return cls(n=n, games=follower.shape[0], follower_return=fm, follower_return_se=fs, leader_objective=lm,
                   leader_objective_se=ls, deviation_gain=gm, deviation_gain_se=gs,
                   exact_follower_return=exact_values[0], exact_leader_objective=exact_values[1],
                   exact_deviation_gain=exact_values[2])


@dataclass
class MeanFieldValues:
    """The ``n -> infinity`` references at ``mu_bar = Gamma(pi, phi, mu_bar)``."""

    follower_return: float
    leader_objective: float
    exploitability: float


def horizon(gamma: float) -> int:
    """The periods after which ``gamma^t <= TRUNCATION``."""
    return math.ceil(math.log(TRUNCATION) / math.log(gamma))


def mean_field_values(game: FiniteGame, pi: Tensor, phi: Tensor, mu_bar: Tensor) -> MeanFieldValues:
    """The values at ``mu_bar``, the mean field ``pi`` induces (``exact.induced_mean_field``)."""
    with torch.no_grad():
        return MeanFieldValues(follower_return=float(exact.follower_return(game, pi, phi, mu_bar)),
                               leader_objective=float(exact.leader_return(game, phi, pi, mu_bar)),
                               exploitability=exact.quality(game, pi, phi, mu_bar))


@dataclass
class PlayerMDP:
    """The measured player's problem in a population of ``n``: an MDP with the expected rewards below."""

    r_f: Tensor  # [S, A]: sum_b phi(b|s) E r_f(s, a, b, mu^n)
    r_l: Tensor  # [S, A]: the same for the leader's reward
    P: Tensor  # [S, A, S']: sum_b phi(b|s) P(s'|s, a, b)


def player_mdp(game: FiniteGame, phi: Tensor, mu_bar: Tensor, n: int, samples: int = 1024,
               seed: int = 0) -> PlayerMDP:
    """The measured player's MDP among ``n - 1`` stationary others playing ``pi``, whose ``z`` law is ``mu_bar``.

    When the transition does not read ``mu``, the other players' chains are independent of each other and of
    the measured player. So at every period of the stationary regime their ``z`` counts are
    ``C ~ Multinomial(n - 1, mu_bar)``, and the measured player's expected reward at ``(s, a, b)`` is
    ``E_C E_{z ~ g(.|s,a,b)} r(s, a, b, (C + e_z) / n)``. The expectation over ``C`` is a Monte Carlo average
    over ``samples`` draws, exact for ``n = 1`` (``C = 0``: the player's own ``z`` is the whole mean field). Its
    soft best response is the best deviation among policies of the player's own state.
    """
    dtype = phi.dtype
    counts = torch.zeros(samples if n > 1 else 1, game.n_z, dtype=dtype)
    if n > 1:  # the others' z counts: C ~ Multinomial(n - 1, mu_bar), one row per sample
        gen = torch.Generator().manual_seed(seed)
        draws = torch.multinomial(mu_bar.clamp_min(0).expand(samples, -1), n - 1, replacement=True, generator=gen)
        counts.scatter_add_(1, draws, torch.ones_like(draws, dtype=dtype))
    g = game.g_tensor(phi)  # [S, A, B, Z]
    reward_f, reward_l = torch.func.vmap(game.reward_f_tensor), torch.func.vmap(game.reward_l_tensor)
    r_f, r_l = torch.zeros(g.shape[:3], dtype=dtype), torch.zeros(g.shape[:3], dtype=dtype)
    for z in range(game.n_z):
        mu = (counts + torch.nn.functional.one_hot(torch.tensor(z), game.n_z).to(dtype)) / n
        r_f += g[..., z] * reward_f(mu).to(dtype).mean(0)
        r_l += g[..., z] * reward_l(mu).to(dtype).mean(0)
    P = game.transition_tensor(mu_bar).to(dtype)
    return PlayerMDP(r_f=leader_averaged(r_f, phi), r_l=leader_averaged(r_l, phi), P=leader_averaged(P, phi))


@dataclass
class PlayerValues:
    """Exact values of the measured player's MDP (up to the Monte Carlo average over the others' counts)."""

    follower_return: float  # rho V^pi (soft)
    leader_objective: float  # rho (I - gamma K^pi)^-1 r_l^pi
    deviation_gain: float  # rho (V* - V^pi)
    best_response: Tensor  # [S, A] the deviation


def player_values(game: FiniteGame, pi: Tensor, phi: Tensor, mdp: PlayerMDP) -> PlayerValues:
    v_pi = exact.soft_policy_evaluation(mdp.r_f, mdp.P, pi, game.gamma, game.tau).V
    br = exact.soft_best_response(mdp.r_f, mdp.P, game.gamma, game.tau, V0=v_pi)
    K = torch.einsum("sa,sat->st", pi, mdp.P)
    r_l = (pi * mdp.r_l).sum(-1) + game.tau_leader * entropy(phi)
    rho = game.rho_tensor(pi)
    return PlayerValues(follower_return=float(rho @ v_pi),
                        leader_objective=float(rho @ exact.discounted_value(K, r_l, game.gamma)),
                        deviation_gain=float(rho @ (br.V - v_pi)), best_response=br.pi)


class _Sampler:
    """Draws from many categorical rows at once: one ``searchsorted`` in the rows' cumulative sums, shifted so
    that row ``k`` occupies ``[k, k + 1)``; nothing is gathered per draw."""

    def __init__(self, probs: Tensor, generator: torch.Generator):
        rows = probs.reshape(-1, probs.shape[-1]).to(torch.float64)
        cdf = rows.cumsum(-1)
        cdf = cdf / cdf[:, -1:]
        self.width = rows.shape[-1]
        self.flat = (cdf + torch.arange(rows.shape[0], dtype=torch.float64, device=rows.device)[:, None]).reshape(-1)
        self.generator = generator

    def __call__(self, row: Tensor, paired: bool = False) -> Tensor:
        """One draw per entry of ``row``; ``paired``: the two halves of the last dimension share their uniforms
        (common random numbers for the two groups of copies)."""
        shape = (*row.shape[:-1], row.shape[-1] // 2) if paired else row.shape
        u = torch.rand(shape, dtype=torch.float64, generator=self.generator, device=self.flat.device)
        u = torch.cat([u, u], -1) if paired else u
        idx = torch.searchsorted(self.flat, row.to(torch.float64) + u, right=True)
        return (idx - row * self.width).clamp(0, self.width - 1)


def simulate(game: FiniteGame, pi: Tensor, phi: Tensor, pi_dev: Tensor, n: int, games: int, ghosts: int,
             burn_in: int, seed: int = 0, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
    """Per game, the mean over its copies of the measured player's follower return and leader return (playing
    ``pi``) and of the deviation gain (``pi_dev`` minus ``pi``): three ``[games]`` tensors on the CPU (module
    docstring). The games run on ``device``."""
    gen = torch.Generator(device=device).manual_seed(seed)
    pi, phi, pi_dev = (x.detach().to(dtype=torch.float64, device=device) for x in (pi, phi, pi_dev))
    S, A, B, Z = game.n_states, game.n_actions, game.n_leader_actions, game.n_z
    uniform = game.uniform_mean_field(torch.float64, device=device)
    kw = dict(dtype=torch.float64, device=device)
    draw_a, draw_phi = _Sampler(torch.stack([pi, pi_dev]), gen), _Sampler(phi, gen)  # rows: pi's, then pi_dev's
    draw_z = _Sampler(game.g_tensor(uniform), gen)
    draw_next = _Sampler(game.transition_tensor(uniform).to(torch.float64), gen)
    draw_rho = _Sampler(game.rho_tensor(uniform)[None], gen)
    reward_f, reward_l = torch.func.vmap(game.reward_f_tensor), torch.func.vmap(game.reward_l_tensor)
    log_a, log_phi = torch.stack([pi, pi_dev]).clamp_min(1e-300).log(), phi.clamp_min(1e-300).log()

    def step(s: Tensor, policy: Tensor | int, paired: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a, b = draw_a(policy * S + s, paired), draw_phi(s, paired)
        sab = (s * A + a) * B + b
        return a, b, draw_z(sab, paired), draw_next(sab, paired)

    others = draw_rho(torch.zeros(games, n - 1, dtype=torch.long, device=device))
    copies = draw_rho(torch.zeros(games, 2 * ghosts, dtype=torch.long, device=device), paired=True)  # [pi | dev]
    policy = (torch.arange(2 * ghosts, device=device) >= ghosts).long().expand(games, -1)  # 0: pi, 1: pi_dev
    ret_f = torch.zeros(games, 2 * ghosts, **kw)
    ret_l = torch.zeros_like(ret_f)
    index = torch.arange(games * 2 * ghosts, device=device)
    for t in range(burn_in + horizon(game.gamma)):
        _, _, z_others, others_next = step(others, 0, paired=False)
        if t >= burn_in:
            counts = torch.zeros(games, Z, **kw)
            counts.scatter_add_(1, z_others, torch.ones_like(z_others, dtype=torch.float64))
            a, b, z, copies_next = step(copies, policy, paired=True)
            mu = counts[:, None, :].expand(games, 2 * ghosts, Z).clone()
            mu.scatter_add_(2, z[..., None], torch.ones(games, 2 * ghosts, 1, **kw))
            mu = (mu / n).reshape(-1, Z)
            at = (index, copies.reshape(-1), a.reshape(-1), b.reshape(-1))
            r_f = reward_f(mu)[at].reshape(games, -1).to(torch.float64)
            r_l = reward_l(mu)[at].reshape(games, -1).to(torch.float64)
            weight = game.gamma ** (t - burn_in)
            ret_f += weight * (r_f - game.tau * log_a[policy, copies, a])
            ret_l += weight * (r_l - game.tau_leader * log_phi[copies, b])
            copies = copies_next
        others = others_next
    follower = ret_f[:, :ghosts].mean(1)
    return follower.cpu(), ret_l[:, :ghosts].mean(1).cpu(), (ret_f[:, ghosts:].mean(1) - follower).cpu()


def _mean_se(x: Tensor) -> tuple[float, float]:
    return float(x.mean()), float(x.std() / math.sqrt(x.shape[0])) if x.shape[0] > 1 else float("nan")


def games_for(n: int, games: int, max_players: int | None) -> int:
    """Independent games for ``n`` players: ``games``, but at most ``max(2, max_players // n)``."""
    return games if max_players is None else max(2, min(games, max_players // n))


def evaluate_n_players(game: FiniteGame, pi: Tensor, phi: Tensor, n_players: list[int], games: int = 32,
                       ghosts: int = 64, periods: int = 1000, samples: int = 1024, seed: int = 0,
                       max_players: int | None = None,
                       device: torch.device | str = "cpu") -> tuple[list[NPlayerRow], MeanFieldValues]:
    """One :class:`NPlayerRow` per ``n`` (``periods`` = burn-in + horizon per game), and the mean-field values.
    The deviation is the best response of the measured player's MDP (:func:`player_mdp`, solved on the CPU: it
    is small); the games are simulated on ``device``."""
    check_settings(game, n_players, games, ghosts, periods)
    pi, phi = pi.detach().double().cpu(), phi.detach().double().cpu()
    with torch.no_grad():
        mu_bar = exact.induced_mean_field(game, pi, phi)
    limit = mean_field_values(game, pi, phi, mu_bar)
    rows = []
    for i, n in enumerate(n_players):
        values = player_values(game, pi, phi, player_mdp(game, phi, mu_bar, n, samples, seed=seed * 1009 + i))
        per_game = simulate(game, pi, phi, values.best_response, n, games_for(n, games, max_players), ghosts,
                            periods - horizon(game.gamma), seed=seed * 1009 + i, device=device)
        rows.append(NPlayerRow.from_games(n, *per_game, exact_values=(
            values.follower_return, values.leader_objective, values.deviation_gain)))
    return rows, limit


def check_settings(game: FiniteGame | ContinuousGame, n_players: list[int], games: int, ghosts: int,
                   periods: int) -> None:
    """``ValueError`` naming the first bad setting (finite and continuous games alike)."""
    if not n_players or any(int(n) != n or n < 1 for n in n_players):
        raise ValueError(f"n_players must be a non-empty list of integers >= 1, got {n_players}")
    if games < 2 or ghosts < 1:
        raise ValueError(f"games must be >= 2 (standard errors) and ghosts >= 1, got {games} and {ghosts}")
    if periods < horizon(game.gamma):
        raise ValueError(f"periods must be >= the return horizon {horizon(game.gamma)} (gamma^horizon <= "
                         f"{TRUNCATION:g}); the rest is burn-in; got {periods}")
    if game.transition_reads_mean_field:
        raise ValueError(f"{game.name}'s transition reads mu: the n-player evaluation handles games whose "
                         "transition does not (every built-in game)")
