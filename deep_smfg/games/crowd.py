"""A two-room crowd: a continuous game whose follower reward reads the mean field's *density* (docs/crowd.md).

* State ``x in [-box, box]^d`` (``dim`` 1 or 2; the rooms' outer walls), follower action ``a in R^d``,
  **unbounded** (``model=gaussian_mixture``): ``x' = clip(x + a + sigma eps, -box, box)``, ``eps ~ N(0, I)``; the
  transition does not read the mean field. The clip is the twin's too (its interpolation clamps at the grid's
  ends); without it, a policy that pushes outward beyond the box sends the population off (two of the first runs
  diverged).
* Follower reward ``-V(x) - c |a|^2 / 2 + b x_1 - K log p_mu(x)``:

  - the confining cost ``V(x) = wall (x_1^2 - 1)^2 + spring x_2^4``: two rooms, around ``x_1 = -1`` and
    ``x_1 = +1``, and in 2-D a single room in ``x_2``. Every confining cost grows like ``x^4``: the crowd term of a
    Gaussian (or mixture) density grows like ``x^2`` and beats any quadratic cost once the learned variance is
    small enough (a quadratic single room let the crowd run off);
  - the leader's per-unit incentive ``b`` on ``x_1``;
  - crowd aversion: ``K`` times the log density of the population at the follower's own position, read from the
    mean field's density (:attr:`~.continuous.ContinuousGame.density_aversion`; the mean field is the law of
    ``z = x``).
* Leader action ``b in R``, state-independent ``b ~ N(theta, s^2)`` (as in the linear-quadratic game); leader
  reward ``-(x_1 - x_T)^2 - kappa b^2``: a planner who wants the crowd in the room at ``x_T = 1`` and pays for it.
* ``x_0 ~ N(0, I)``, clipped to the box.

The state box is a constraint; the action and leader boxes (``[-2, 2]^d``, ``[-1, 1]``) are not: they set the specs,
the feature scaling and the discretised twin's grids. Because ``b`` enters the follower's reward linearly
and no transition, the lower level depends on the leader only through ``theta``; in 2-D the reward and the
dynamics separate across coordinates, so (docs/crowd.md) the equilibrium law is the product of the two
coordinates' 1-D equilibria (:func:`axis_game`), which is how its reference answer is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .base import GameDefinitionError, check_positive
from .continuous import Box, ContinuousGame


@dataclass
class CrowdGame(ContinuousGame):
    """A :class:`ContinuousGame` of this module (its evaluator, :mod:`deep_smfg.evaluation.crowd_evaluator`, is
    chosen by this type)."""


def _hermite(k: int, dim: int) -> tuple[Tensor, Tensor]:
    """Gauss-Hermite (probabilists') nodes per coordinate and their product grid (``k^dim`` nodes)."""
    x, w = (torch.from_numpy(v) for v in np.polynomial.hermite_e.hermegauss(k))
    w = w / w.sum()
    nodes = torch.cartesian_prod(*[x] * dim).reshape(-1, dim)
    return nodes, torch.cartesian_prod(*[w] * dim).reshape(-1, dim).prod(-1)


def _build(dim: int, walls: tuple[float, ...], springs: tuple[float, ...], tilted: tuple[bool, ...],
           crowd_aversion: float, action_cost: float, noise: float, x_target: float, kappa: float, box: float,
           gamma: float, tau: float, name: str) -> ContinuousGame:
    """The game with per-coordinate confining costs ``wall_i (x_i^2 - 1)^2 + spring_i x_i^4`` and the incentive
    ``b`` on the ``tilted`` coordinates (the factory and :func:`axis_game` share this one definition)."""
    wall_t, spring_t = torch.tensor(walls, dtype=torch.float64), torch.tensor(springs, dtype=torch.float64)
    tilt_t = torch.tensor([float(t) for t in tilted], dtype=torch.float64)

    def like(t: Tensor, ref: Tensor) -> Tensor:
        return t.to(dtype=ref.dtype, device=ref.device)

    def next_state(s: Tensor, a: Tensor, b: Tensor, m: Tensor, eps: Tensor) -> Tensor:
        return (s + a + noise * eps).clamp(-box, box)

    def sample_noise(n: int, generator=None, like_: Tensor | None = None) -> Tensor:
        kw = {} if like_ is None else dict(dtype=like_.dtype, device=like_.device)
        return torch.randn(n, dim, generator=generator, **kw)

    def confining(s: Tensor) -> Tensor:
        return (like(wall_t, s) * (s**2 - 1) ** 2 + like(spring_t, s) * s**4).sum(-1)

    def reward_f(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        """Every term but the crowd's: the env and the twin add ``-K log p_mu(x)`` (``density_aversion``)."""
        return -confining(s) - action_cost * (a**2).sum(-1) / 2 + b[:, 0] * (s * like(tilt_t, s)).sum(-1)

    def reward_l(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        return -(s[:, 0] - x_target) ** 2 - kappa * b[:, 0] ** 2

    def contribution(s: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return s

    def initial_state(n: int, generator=None, like_: Tensor | None = None) -> Tensor:
        kw = {} if like_ is None else dict(dtype=like_.dtype, device=like_.device)
        return torch.randn(n, dim, generator=generator, **kw).clamp(-box, box)

    names = ("x",) if dim == 1 else tuple(f"x{i + 1}" for i in range(dim))
    state_box = Box((-box,) * dim, (box,) * dim)
    return CrowdGame(
        name=name, state_space=state_box, action_space=Box((-2.0,) * dim, (2.0,) * dim),
        leader_action_space=Box((-1.0,), (1.0,)), z_space=state_box, next_state=next_state, sample_noise=sample_noise,
        noise_quadrature=lambda k: _hermite(k, dim), reward_f=reward_f, reward_l=reward_l, contribution=contribution,
        initial_state=initial_state, gamma=gamma, tau=tau, actions_unbounded=True, density_aversion=crowd_aversion,
        state_names=names, z_names=names, action_names=tuple(f"a{n[1:]}" for n in names),
        leader_action_names=(f"incentive b on {names[0]}",),
        info=dict(dim=dim, walls=list(walls), springs=list(springs), crowd_aversion=crowd_aversion,
                  action_cost=action_cost, noise=noise, x_target=x_target, kappa=kappa, box=box,
                  boxes="states clipped to the state box; the action boxes are not constraints"),
    )


def make_crowd(dim: int = 1, wall: float = 1.0, spring: float = 1.0, crowd_aversion: float = 0.3,
               action_cost: float = 1.0, noise: float = 0.3, x_target: float = 1.0, kappa: float = 1.0,
               box: float = 2.5, gamma: float = 0.9, tau: float = 0.1) -> ContinuousGame:
    """The two-room crowd (module docstring): ``dim`` 1 (the two rooms) or 2 (a second, single-room coordinate with
    the cost ``spring x_2^4``)."""
    if dim not in (1, 2):
        raise GameDefinitionError(f"dim must be 1 or 2, got {dim}")
    for value, label in ((wall, "wall"), (spring, "spring"), (crowd_aversion, "crowd_aversion"),
                         (action_cost, "action_cost"), (noise, "noise"), (box, "box")):
        check_positive(float(value), label)
    if kappa < 0:
        raise GameDefinitionError(f"kappa must be >= 0, got {kappa}")
    walls, springs, tilted = (wall, 0.0)[:dim], (0.0, spring)[:dim], (True, False)[:dim]
    return _build(dim, walls, springs, tilted, crowd_aversion, action_cost, noise, x_target, kappa, box, gamma,
                  tau, "crowd")


def axis_game(game: ContinuousGame, axis: int) -> ContinuousGame:
    """The 1-D crowd of coordinate ``axis`` of ``game`` (a :func:`make_crowd` game): its confining cost, the
    incentive if ``axis == 0``, the same noise, costs and discount. The 2-D equilibrium law is the product of the
    axes' (docs/crowd.md, "Two dimensions")."""
    i = game.info
    if not 0 <= axis < i["dim"]:
        raise GameDefinitionError(f"axis must be in [0, {i['dim']}), got {axis}")
    return _build(1, (i["walls"][axis],), (i["springs"][axis],), (axis == 0,), i["crowd_aversion"],
                  i["action_cost"], i["noise"], i["x_target"], i["kappa"], i["box"], game.gamma, game.tau,
                  f"crowd_axis{axis + 1}")


GAME = make_crowd  # the registry (deep_smfg/games/__init__.py) finds games by this name
