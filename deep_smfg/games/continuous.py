"""What a continuous Stackelberg mean field game is, and its discretised twin.

A continuous game has box state, action and leader-action spaces and reads the mean field through
its mean ``m = E_mu[z]`` (what the learned Gaussian mean field carries to the rewards). It is
defined once, by batched torch functions of ``(s, a, b, m)`` with shapes ``s [N, ds]``,
``a [N, da]``, ``b [N, db]``, ``m [dz]``:

* ``next_state(s, a, b, m, eps)``: the transition as a deterministic map of a noise draw ``eps [N, de]``;
  ``sample_noise(n, generator)`` draws ``eps``; ``noise_quadrature(k)`` gives nodes and weights;
* ``reward_f(s, a, b, m)``, ``reward_l(s, a, b, m)``: rewards ``[N]``;
* ``contribution(s, a, b)``: ``z = g(s, a, b)`` ``[N, dz]``;
* ``initial_state(n, generator)``: ``s_0 ~ rho``.

A game may also read the mean field's **density** (``density_aversion = K > 0``, the crowd game): the follower's
reward is then ``reward_f(s, a, b, m) - K log p_mu(z)`` at its own contribution ``z = g(s, a, b)``
(:meth:`ContinuousGame.follower_reward`). Rollouts read ``log p_mu`` from the learned density module
(``log_density``); the twin from its grid law, ``log(mu_j / cell_j)`` (the mass of ``z``'s grid point over the
width of its cell).

Rollouts call these functions; :func:`discretise` evaluates the same functions on grids to build a
:class:`~deep_smfg.games.base.FiniteGame` (the *twin*) that the exact solvers handle: one
definition, two readers.

The twin (1-D states, the case of every built-in continuous game): states, actions and leader actions
on grids; ``z`` on a grid of values with ``m = sum_j mu_j z_j``; the next-state law at a grid point
is the quadrature over ``eps`` of the *linear interpolation* of ``next_state`` onto the state grid
(each continuous next state splits its mass between its two neighbouring grid points), which keeps
the expected next state exact up to the quadrature error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch
from torch import Tensor

from .base import FiniteGame, GameDefinitionError, check_positive, check_unit_interval_open
from .market import Market


@dataclass
class Box:
    """An axis-aligned box ``[low, high]`` in R^d."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        self.low, self.high = tuple(float(v) for v in self.low), tuple(float(v) for v in self.high)
        if len(self.low) != len(self.high) or not self.low:
            raise GameDefinitionError(f"a box needs low and high of one non-zero length, got {self.low}, {self.high}")
        if any(lo >= hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise GameDefinitionError(f"a box needs low < high in every dimension, got {self.low}, {self.high}")

    @property
    def dim(self) -> int:
        return len(self.low)

    def tensors(self, like: Tensor | None = None, dtype=torch.float64, device=None) -> tuple[Tensor, Tensor]:
        if like is not None:
            dtype, device = like.dtype, like.device
        return (torch.tensor(self.low, dtype=dtype, device=device), torch.tensor(self.high, dtype=dtype, device=device))


@dataclass
class ContinuousGame:
    """A continuous SMFG given by batched functions (see the module docstring)."""

    name: str
    state_space: Box
    action_space: Box
    leader_action_space: Box
    z_space: Box  # where z = g(s, a, b) lives (the Gaussian mean field starts at its centre)
    next_state: Callable[..., Tensor]
    sample_noise: Callable[..., Tensor]
    noise_quadrature: Callable[[int], tuple[Tensor, Tensor]]
    reward_f: Callable[..., Tensor]
    reward_l: Callable[..., Tensor]
    contribution: Callable[..., Tensor]
    initial_state: Callable[..., Tensor]
    gamma: float
    tau: float
    transition_reads_mean_field: bool = False
    actions_unbounded: bool = False  # the action boxes are not constraints: unsquashed Gaussian policies
    density_aversion: float = 0.0  # K: the follower's reward also has -K log p_mu(z) (module docstring)
    action_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()
    leader_action_names: tuple[str, ...] = ()
    z_names: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)
    market: Market | None = None  # price(m) of the mean field's mean m, and the target price

    KIND: ClassVar[str] = "continuous"  # the game's kind, declared (learners, evaluators and the commands read it)
    # what `deep-smfg train` measures a continuous game with unless its config declares an evaluator
    GENERIC_EVALUATOR: ClassVar[str] = "deep_smfg.evaluation.estimated_evaluator.EstimatedEvaluator"

    def __post_init__(self) -> None:
        check_unit_interval_open(float(self.gamma), "gamma")
        check_positive(float(self.tau), "tau")

    @property
    def z_dim(self) -> int:
        return self.z_space.dim

    @property
    def is_nash(self) -> bool:
        """Continuous leader actions: always a choice (a finite game's flag)."""
        return False

    @property
    def reads_density(self) -> bool:
        return self.density_aversion != 0

    def follower_reward(self, s: Tensor, a: Tensor, b: Tensor, m: Tensor,
                        log_density: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """``reward_f(s, a, b, m) - K log p_mu(g(s, a, b))`` (``[N]``); ``log_density`` (the mean field's, without
        gradients) is needed when the game reads the density."""
        r = self.reward_f(s, a, b, m)
        if not self.reads_density:
            return r
        if log_density is None:
            raise GameDefinitionError(f"{self.name}'s follower reward reads the mean field's density: pass "
                                      f"log_density")
        with torch.no_grad():
            return r - self.density_aversion * log_density(self.contribution(s, a, b)).to(r)

    def check(self, n: int = 8) -> None:
        """Call every function once on ``n`` points (initial states, actions drawn in the boxes, ``m`` at the centre
        of ``z_space``) and raise :class:`GameDefinitionError` naming the first output of a wrong shape, dtype or
        value (what a user's game gets wrong first; :func:`deep_smfg.games.build_game` runs it)."""
        gen = torch.Generator().manual_seed(0)
        s = _output(self.initial_state, (n, self.state_space.dim), "initial_state(n, generator)", n, gen)

        def inside(box: Box) -> Tensor:
            lo, hi = box.tensors(s)
            return lo + (hi - lo) * torch.rand(n, box.dim, generator=gen, dtype=s.dtype)

        a, b = inside(self.action_space), inside(self.leader_action_space)
        lo, hi = self.z_space.tensors(s)
        m = (lo + hi) / 2
        eps = self.sample_noise(n, gen, s)
        if not isinstance(eps, Tensor) or eps.shape[0] != n:
            raise GameDefinitionError(f"{self.name}: sample_noise(n, generator, like) must return a tensor [n, ...], "
                                      f"got {getattr(eps, 'shape', type(eps).__name__)}")
        _output(self.next_state, (n, self.state_space.dim), "next_state(s, a, b, m, eps)", s, a, b, m, eps)
        _output(self.reward_f, (n,), "reward_f(s, a, b, m)", s, a, b, m)
        _output(self.reward_l, (n,), "reward_l(s, a, b, m)", s, a, b, m)
        _output(self.contribution, (n, self.z_dim), "contribution(s, a, b)", s, a, b)
        nodes, weights = self.noise_quadrature(4)
        if weights.ndim != 1 or nodes.shape[0] != weights.shape[0] or abs(float(weights.sum()) - 1) > 1e-6:
            raise GameDefinitionError(f"{self.name}: noise_quadrature(k) must return nodes [k, ...] and weights [k] "
                                      f"summing to 1, got {tuple(nodes.shape)}, {tuple(weights.shape)} summing to "
                                      f"{float(weights.sum()):.6g}")

    def sample_next_state(self, s: Tensor, a: Tensor, b: Tensor, m: Tensor, generator=None) -> Tensor:
        return self.next_state(s, a, b, m, self.sample_noise(s.shape[0], generator, s))

    def describe(self) -> dict:
        return {"name": self.name, "state_space": vars(self.state_space), "action_space": vars(self.action_space),
                "leader_action_space": vars(self.leader_action_space), "gamma": self.gamma, "tau": self.tau,
                **self.info}


def _output(fn: Callable[..., Tensor], shape: tuple[int, ...], call: str, *args) -> Tensor:
    """``fn(*args)``, or a :class:`GameDefinitionError` unless it is a finite float tensor of ``shape``."""
    out = fn(*args)
    if not isinstance(out, Tensor) or tuple(out.shape) != shape:
        raise GameDefinitionError(f"{call} must return a tensor of shape {list(shape)}, got "
                                  f"{list(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    if not out.is_floating_point() or not torch.isfinite(out).all():
        raise GameDefinitionError(f"{call} returned non-finite or non-float values (dtype {out.dtype})")
    return out


def grid(lo: float, hi: float, n: int) -> Tensor:
    if n < 2:
        raise GameDefinitionError(f"a grid needs at least 2 points, got {n}")
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def hat_neighbours(x: Tensor, nodes: Tensor) -> tuple[Tensor, Tensor]:
    """``(left, frac)``: the node left of each ``x`` (clamped into the nodes' range; ``left + 1`` is the right one) and
    the right node's hat weight: :func:`interpolation_weights` without the zeros."""
    x = x.to(nodes.dtype).clamp(nodes[0], nodes[-1])
    right = torch.searchsorted(nodes, x.contiguous(), right=True).clamp(1, nodes.numel() - 1)
    left = right - 1
    return left, (x - nodes[left]) / (nodes[right] - nodes[left])


def interpolation_weights(x: Tensor, nodes: Tensor) -> Tensor:
    """Linear-interpolation ("hat function") weights of points ``x [...]`` on sorted ``nodes [K]``.

    Returns ``[..., K]`` rows summing to 1 with ``sum_j w_j nodes_j = x`` for ``x`` inside the nodes'
    range (points outside are clamped to the end nodes).
    """
    left, frac = hat_neighbours(x, nodes)
    w = torch.zeros(x.shape + (nodes.numel(),), dtype=nodes.dtype)
    w.scatter_add_(-1, left.unsqueeze(-1), (1 - frac).unsqueeze(-1))
    w.scatter_add_(-1, (left + 1).unsqueeze(-1), frac.unsqueeze(-1))
    return w


@dataclass
class Twin:
    """The discretised twin and its grids (``actions`` ``[A, da]`` is the product grid, ``q``-major)."""

    game: FiniteGame
    states: Tensor  # [S, 1]
    actions: Tensor  # [A, da]
    leader_actions: Tensor  # [B, db]
    z_values: Tensor  # [Z, dz]
    action_grids: list[Tensor]  # per-dimension grids of the follower's action
    leader_grids: list[Tensor]


TRANSITION_CHUNK = 1 << 21  # (row, noise node) pairs per call of next_state in _transition_tensor


def _transition_tensor(game: ContinuousGame, s_all: Tensor, a_all: Tensor, b_all: Tensor, m0: Tensor, xs: Tensor,
                       n_quadrature: int) -> Tensor:
    """``P [rows, S]``: each row's next state under the game's noise quadrature, spread on the state grid ``xs`` by
    its hat weights. Rows go in chunks, every node of a chunk in one call: the chunk's block of ``P`` stays small
    (the additions into each entry come in the nodes' order, as one node at a time over all rows would)."""
    nodes, weights = game.noise_quadrature(n_quadrature)
    K, S, n_rows = nodes.shape[0], xs.numel(), s_all.shape[0]
    P = torch.empty(n_rows, S, dtype=torch.float64)
    chunk = max(1, TRANSITION_CHUNK // K)
    for start in range(0, n_rows, chunk):
        rows = slice(start, min(start + chunk, n_rows))
        R = rows.stop - rows.start
        eps = nodes.repeat_interleave(R, 0)  # node-major: [K * R, de]
        nxt = game.next_state(s_all[rows].repeat(K, 1), a_all[rows].repeat(K, 1), b_all[rows].repeat(K, 1), m0, eps)
        left, frac = hat_neighbours(nxt[:, 0], xs)  # the interpolation weights' two non-zero entries per row
        left, frac = left.reshape(K, R), frac.reshape(K, R)
        w = weights.to(frac)[:, None]
        # [R, 2K], per node its left entry, then its right
        index = torch.stack([left, left + 1], -1).permute(1, 0, 2).reshape(R, 2 * K)
        values = torch.stack([w * (1 - frac), w * frac], -1).permute(1, 0, 2).reshape(R, 2 * K)
        P[rows] = torch.zeros(R, S, dtype=torch.float64).scatter_add_(1, index, values)
    return P


def discretise(game: ContinuousGame, n_states: int, n_actions: tuple[int, ...] | int, n_leader: int,
               n_quadrature: int = 64) -> Twin:
    """The finite twin of a continuous game with 1-D states and 1-D leader actions on uniform grids.

    ``n_actions`` is the number of grid points per follower action dimension. ``z`` must be one of the
    follower's action coordinates or the state on the grid (it is read off ``contribution`` at the grid
    points and must land on grid values, which holds for ``z = q`` on the ``q`` grid).
    """
    if game.state_space.dim != 1 or game.leader_action_space.dim != 1 or game.z_dim != 1:
        raise GameDefinitionError("discretise handles 1-D states, 1-D leader actions and 1-D z")
    if game.transition_reads_mean_field:
        raise GameDefinitionError("discretise needs a transition that does not read the mean field")
    da = game.action_space.dim
    n_actions = (n_actions,) * da if isinstance(n_actions, int) else tuple(n_actions)
    xs = grid(game.state_space.low[0], game.state_space.high[0], n_states)
    a_grids = [grid(lo, hi, n)
               for lo, hi, n in zip(game.action_space.low, game.action_space.high, n_actions, strict=True)]
    b_grid = grid(game.leader_action_space.low[0], game.leader_action_space.high[0], n_leader)
    actions = torch.cartesian_prod(*a_grids).reshape(-1, da)
    S, A, B = n_states, actions.shape[0], n_leader
    # every (s, a, b) triple, s-major: flat index ((s * A) + a) * B + b
    s_all = xs.repeat_interleave(A * B)[:, None]
    a_all = actions.repeat_interleave(B, 0).repeat(S, 1)
    b_all = b_grid.repeat(S * A)[:, None]
    z_all = game.contribution(s_all, a_all, b_all)
    z_all = z_all.round(decimals=9)
    z_values = torch.unique(z_all, sorted=True)
    left, frac = hat_neighbours(z_all[:, 0], z_values)
    if not bool(((frac == 0) | (frac == 1)).all()):
        raise GameDefinitionError("z = g(s, a, b) must land on grid values at the grid points")
    z_index = (left + (frac == 1).long()).reshape(S, A, B)
    g = torch.zeros(S, A, B, z_values.numel(), dtype=torch.float64).scatter_(-1, z_index[..., None], 1.0)
    P = _transition_tensor(game, s_all, a_all, b_all, z_values.mean().reshape(1), xs, n_quadrature)
    P = P.reshape(S, A, B, S)
    z_col = z_values[:, None]

    def mean_of(mu: Tensor) -> Tensor:
        return (mu @ z_col.to(mu)).reshape(1)

    # the twin's density at z's grid points: each point's mass over its cell (half cells at the ends)
    widths = z_values.diff()
    cells = torch.cat([widths[:1] / 2, (widths[1:] + widths[:-1]) / 2, widths[-1:] / 2])

    def reward(fn, density: float = 0.0):
        def tensor(mu: Tensor) -> Tensor:
            m = mean_of(mu)
            r = fn(s_all.to(mu), a_all.to(mu), b_all.to(mu), m).reshape(S, A, B)
            if density:
                r = r - density * torch.log(mu / cells.to(mu) + 1e-30)[z_index]
            return r
        return tensor

    # rho: the interpolated law of s_0 (exact for a deterministic start, else a 4096-draw estimate)
    rho = interpolation_weights(game.initial_state(4096, torch.Generator().manual_seed(0), xs)[:, 0], xs).mean(0)
    market = None
    if game.market is not None:  # the same price, read through the twin's mu
        price = game.market.price
        market = Market(lambda mu: price(mean_of(mu).reshape(())), game.market.target)
    twin = FiniteGame(
        name=f"{game.name}_twin", transition=P, reward_f=reward(game.reward_f, game.density_aversion),
        reward_l=reward(game.reward_l),
        rho=rho, gamma=game.gamma, tau=game.tau, g=g, transition_depends_on_mu=False,
        state_labels=[f"{v:.2f}" for v in xs.tolist()],
        leader_action_labels=[f"{v:+.2f}" for v in b_grid.tolist()],
        z_labels=[f"{v:.2f}" for v in z_values.tolist()],
        info=dict(game.info, twin_of=game.name, n_states=S, n_actions=list(n_actions), n_leader=B,
                  action_cell=float(torch.prod(torch.tensor([float(gr[1] - gr[0]) for gr in a_grids])))),
        market=market,
    )
    return Twin(twin, xs[:, None], actions, b_grid[:, None], z_col, a_grids, [b_grid])
