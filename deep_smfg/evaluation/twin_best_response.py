"""The follower's exploitability on a continuous game by the twin's soft best response, played in the continuous game
(docs/ac_smfg.md, "How far from equilibrium: the three measures"). The measure the summary trusts.

For the learned follower ``pi`` and leader ``phi`` at ``m_bar``, the mean of the law ``pi`` induces
(:func:`.continuous_metrics.induced_mean`):

1. the discretised twin on a grid (:func:`~deep_smfg.games.continuous.discretise`), with ``phi`` projected on its leader
   grid and a mean field of mean ``m_bar``, gives the follower's MDP ``(r, P)``;
2. its soft best response is solved exactly for the rewards ``r(s, a) + tau log |c(a)|``, with ``|c(a)|`` the volume of
   the action cell around grid action ``a``. The density of a policy that is uniform inside each cell is
   ``p_c / |c|``, so this is the continuous game's entropy, ``-tau log(p_c / |c|)``: the plain twin's discrete entropy
   would give the half-width cells at the box's ends twice their continuous weight;
3. that table is played as a continuous policy (:class:`TwinSoftBestResponse`): at a state ``x`` between grid states,
   the hat-weighted mixture of the neighbours' cell laws, then a point uniform inside the drawn cell;
4. its gain ``J_f(BR) - J_f(pi)`` in the continuous game is measured by Monte Carlo from ``rho`` (``n_chains`` chains,
   the same seed for both policies), with the standard error of the per-chain differences.

No learned family is involved, so the gain is an unbiased estimate of a lower bound on the exploitability. Step 1 to 4
run on grids refined in turn; the estimate is the finest grid's gain, its error bar twice its standard error plus
the change from the previous grid (``converged`` when that change is within ``tolerance`` plus twice its own standard
error). Each grid also reports ``twin_value_gap``: the twin's own value of its best response minus the Monte Carlo
value of it in the game, the twin's model error at that grid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from ..exact.equilibrium import FollowerMDP, follower_mdp
from ..exact.soft_bellman import soft_best_response
from ..games.continuous import ContinuousGame, Twin, discretise
from ..modules.cells import CellGrid
from .continuous_metrics import rollout_return_chains


class TwinSoftBestResponse(nn.Module):
    """A continuous policy from a table ``pi[S, A]`` over grid states ``xs [S]`` (1-D) and the cells ``cells`` around
    the grid actions: at ``x`` between grid states ``x_j <= x <= x_{j+1}``, the cell law
    ``(1 - t) pi[j] + t pi[j+1]`` (``t`` the hat weight), then a point uniform inside the drawn cell:
    ``log pi(a|x) = log((1 - t) pi[j, c] + t pi[j+1, c]) - log |c|``."""

    def __init__(self, pi: Tensor, xs: Tensor, cells: CellGrid):
        super().__init__()
        self.pi, self.xs, self.cells = pi.double(), xs.double(), cells
        # the rows' CDFs end to end, row j shifted by j: one sorted sequence for every row's draw
        self.cdf = (self.pi.cumsum(-1) + torch.arange(pi.shape[0], dtype=torch.float64)[:, None]).reshape(-1)
        self.register_buffer("log_volumes", cells.log_volumes())

    def _hat(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """``(j, t)``: the left grid state and the right one's hat weight at each ``x``."""
        x = s[:, 0].double().clamp(float(self.xs[0]), float(self.xs[-1]))
        j = (torch.searchsorted(self.xs, x.contiguous(), right=True) - 1).clamp(0, self.xs.numel() - 2)
        return j, (x - self.xs[j]) / (self.xs[j + 1] - self.xs[j])

    def sample(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        j, t = self._hat(s)
        row = j + (torch.rand(j.shape, generator=generator, dtype=torch.float64) < t).long()
        u = torch.rand(j.shape, generator=generator, dtype=torch.float64)
        flat = torch.searchsorted(self.cdf, (row + u).contiguous(), right=True).clamp(max=self.cdf.numel() - 1)
        cell = (flat - row * self.pi.shape[1]).clamp(0, self.pi.shape[1] - 1)
        a = self.cells.draw(cell, generator, s)
        return a, a

    def sample_log_prob(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(a, a, log pi(a|s))``: :meth:`sample`'s draws and their log-density."""
        a, _ = self.sample(s, generator)
        return a, a, self.log_prob(s, a)

    def log_prob(self, s: Tensor, u: Tensor) -> Tensor:
        j, t = self._hat(s)
        c = self.cells.index(u.double())
        p = (1 - t) * self.pi[j, c] + t * self.pi[j + 1, c]
        return (torch.log(p) - self.log_volumes[c]).to(s.dtype)


def mean_field_with_mean(z: Tensor, m: float) -> Tensor:
    """A law on the sorted grid ``z`` with mean ``m`` (clamped to the grid): the two grid points around ``m``."""
    j = int(torch.searchsorted(z, torch.tensor([m], dtype=z.dtype)).clamp(1, z.numel() - 1))
    t = min(max((m - float(z[j - 1])) / float(z[j] - z[j - 1]), 0.0), 1.0)
    mu = torch.zeros(z.numel(), dtype=torch.float64)
    mu[j - 1], mu[j] = 1 - t, t
    return mu


@torch.no_grad()
def twin_follower_problem(twin: Twin, leader: nn.Module, m: float) -> tuple[FollowerMDP, CellGrid]:
    """Step 1 of the module docstring: the follower's MDP on the twin (``leader`` projected on its leader grid, a mean
    field of mean ``m``) and the cells around its grid actions."""
    p = next(leader.parameters())
    phi = leader.cell_probs(twin.states.to(p), twin.leader_grids).double().cpu()
    mdp = follower_mdp(twin.game, phi, mean_field_with_mean(twin.z_values[:, 0].double(), m))
    return mdp, CellGrid.around(twin.action_grids)


@torch.no_grad()
def twin_soft_best_response(twin: Twin, leader: nn.Module, m: float) -> tuple[TwinSoftBestResponse, float]:
    """Steps 1-3 of the module docstring: the policy, and its value from ``rho`` on the twin (continuous entropy)."""
    game = twin.game
    mdp, cells = twin_follower_problem(twin, leader, m)
    best = soft_best_response(mdp.r_phi + game.tau * cells.log_volumes()[None, :], mdp.P_phi, game.gamma, game.tau)
    return TwinSoftBestResponse(best.pi, twin.states[:, 0], cells), float(game.rho_tensor(best.V) @ best.V)


@dataclass
class GridGain:
    n_states: int
    n_actions: int
    gain: float  # J_f(BR) - J_f(pi), Monte Carlo
    standard_error: float
    twin_value_gap: float  # the twin's value of BR minus its Monte Carlo value in the game


@dataclass
class TwinBestResponseGain:
    exploitability: float  # the finest grid's gain
    standard_error: float
    error_bar: float  # 2 standard errors plus |the change from the previous grid|
    grid_change: float  # the finest grid's gain minus the previous grid's (0 with one grid)
    converged: bool
    J_f: float  # J_f(pi) at m_bar
    induced_mean: list[float]
    n_chains: int
    grids: list[GridGain] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def twin_best_response_gain(game: ContinuousGame, follower: nn.Module, leader: nn.Module, m_bar: Tensor,
                            grids: list[tuple[int, int]], n_leader: int = 17, n_quadrature: int = 64,
                            n_chains: int = 32768, seed: int = 0, tolerance: float = 0.002,
                            twins: dict | None = None) -> TwinBestResponseGain:
    """The module docstring's estimate for ``follower`` against ``leader`` at ``m_bar``, on ``grids``
    (``(n_states, n_actions per dimension)``, coarse to fine). ``twins``: a cache of the discretised twins by grid
    (filled on the way)."""
    if game.reads_density:
        raise ValueError(f"{game.name}'s reward reads the mean field's density: the twin's best response plays "
                         "against the induced mean only")
    if not grids:
        raise ValueError("twin_best_response_gain needs at least one grid")
    twins = {} if twins is None else twins
    m_bar = m_bar.detach()
    mine, _ = rollout_return_chains(game, follower, leader, m_bar, n_chains, seed=seed)
    out, previous = [], None
    root = math.sqrt(n_chains)
    change, change_se = 0.0, 0.0
    for n_states, n_actions in grids:
        key = (int(n_states), int(n_actions), n_leader, n_quadrature)
        if key not in twins:
            twins[key] = discretise(game, *key)
        policy, twin_value = twin_soft_best_response(twins[key], leader, float(m_bar[0]))
        best, _ = rollout_return_chains(game, policy, leader, m_bar, n_chains, seed=seed)
        diff = best.double() - mine.double()
        out.append(GridGain(int(n_states), int(n_actions), float(diff.mean()), float(diff.std()) / root,
                            twin_value - float(best.double().mean())))
        if previous is not None:
            step = best.double() - previous
            change, change_se = float(step.mean()), float(step.std()) / root
        previous = best.double()
    last = out[-1]
    return TwinBestResponseGain(
        exploitability=last.gain, standard_error=last.standard_error,
        error_bar=2 * last.standard_error + abs(change), grid_change=change,
        converged=abs(change) <= tolerance + 2 * change_se, J_f=float(mine.mean()), induced_mean=m_bar.tolist(),
        n_chains=n_chains, grids=out)
