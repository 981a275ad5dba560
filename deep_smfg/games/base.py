"""What a finite Stackelberg mean field game is (docs/model.md).

A game is the tuple ``G = (S, A, B, Z, P, g, r_f, r_l, rho, gamma)`` plus the follower's entropy
weight ``tau``. A finite game is defined once, by dense tensors that are functions of the mean field
``mu`` (a probability vector over ``Z``):

=================  ==========================  ==========================================
name               shape                       meaning
=================  ==========================  ==========================================
``transition(mu)`` ``[S, A, B, S]``            ``P(s' | s, a, b, mu)``
``reward_f(mu)``   ``[S, A, B]``               follower reward ``r_f(s, a, b, mu)``
``reward_l(mu)``   ``[S, A, B]``               leader reward ``r_l(s, a, b, mu)``
``g``              ``[S, A, B, Z]``            law of the contribution ``z = g(s, a, b)``
``rho``            ``[S]``                     initial distribution
=================  ==========================  ==========================================

The exact solvers read the dense tensors; rollouts read the batched functions
``sample_next_state(s, a, b, mu)``, ``r_f(s, a, b, mu)``, ``r_l(s, a, b, mu)``,
``sample_z(s, a, b)``, which index the same tensors: one definition, two readers.

A Nash MFG is the case ``B = 1`` (the leader has a single action).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence, Union

import torch
from torch import Tensor

from .market import Market

TensorOrFn = Union[Tensor, Callable[[Tensor], Tensor]]


class GameDefinitionError(ValueError):
    """A game's parameters or tensors are not a valid game."""


def _as_fn(x: TensorOrFn, name: str) -> Callable[[Tensor], Tensor]:
    """Turn a constant tensor into a function of ``mu`` (cast to ``mu``'s dtype and device)."""
    if callable(x):
        return x
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float64)
        except Exception as exc:  # noqa: BLE001 - re-raised with the field name
            raise GameDefinitionError(f"{name} must be a tensor or a function of mu, got {type(x).__name__}") from exc
    const = x.detach().to(torch.float64)
    return lambda mu: const.to(dtype=mu.dtype, device=mu.device)


def check_distribution(x: Tensor, name: str, dim: int = -1, atol: float = 1e-6) -> None:
    """Raise :class:`GameDefinitionError` unless ``x`` is non-negative and sums to 1 along ``dim``. Reductions only
    (no mask as large as ``x``: a fine twin's transition tensor has tens of millions of entries): a NaN or an
    infinity makes its slice's sum non-finite."""
    sums = x.sum(dim)
    if not torch.isfinite(sums).all():
        raise GameDefinitionError(f"{name} has non-finite entries")
    if x.numel() and x.min() < -atol:
        raise GameDefinitionError(f"{name} must be non-negative; its smallest entry is {x.min().item():.3g}")
    worst = (sums - 1).abs().max().item() if sums.numel() else 0.0
    if worst > atol:
        bad = sums.flatten()[(sums.flatten() - 1).abs().argmax()].item()
        raise GameDefinitionError(f"{name} must sum to 1 along dim {dim}; one slice sums to {bad:.6g}")


def check_unit_interval_open(value: float, name: str) -> None:
    if not (0.0 < value < 1.0):
        raise GameDefinitionError(f"{name} must lie in (0, 1), got {value}")


def check_positive(value: float, name: str) -> None:
    if not (value > 0.0) or math.isinf(value):
        raise GameDefinitionError(f"{name} must be > 0, got {value}")


def check_size(value: int, name: str) -> None:
    if int(value) != value or value < 1:
        raise GameDefinitionError(f"{name} must be a positive integer (an empty space is not a game), got {value}")


@dataclass
class FiniteGame:
    """A finite SMFG given by dense tensors, each either a constant or a function of ``mu``.

    Args:
        name: a label for logs and plots.
        transition: ``P[s, a, b, s']`` or ``mu -> P``.
        reward_f, reward_l: ``r[s, a, b]`` or ``mu -> r``.
        rho: initial distribution ``[S]``.
        gamma: discount in (0, 1).
        tau: the follower's entropy weight, > 0.
        g: law of ``z`` given ``(s, a, b)``, ``[S, A, B, Z]``; default ``z = s`` (one-hot on ``s``).
        tau_leader: optional leader entropy weight (0: the paper's unregularised leader).
        transition_depends_on_mu: whether ``transition`` reads ``mu`` (skips fixed points if not);
            ``None`` (default) detects it by evaluating the transition at two mean fields.
        default_damping: damping of the mean-field fixed point that suits this game.
        labels: names of states, actions, leader actions and ``z`` values, for plots.
        state_coords: optional ``[S, 2]`` grid coordinates (x, y), for heat maps.
        info: the game's constants, for the run folder and docs.
        market: the game's market price and target price, when it has one (:class:`Market`).
        mean_field_summary: optional ``mu -> {name: value}``: what a report should say about a mean
            field beyond its masses (for example Four Rooms' room masses).
    """

    name: str
    transition: TensorOrFn
    reward_f: TensorOrFn
    reward_l: TensorOrFn
    rho: Tensor
    gamma: float
    tau: float
    g: Tensor | None = None
    tau_leader: float = 0.0
    transition_depends_on_mu: bool | None = None
    default_damping: float = 0.5
    state_labels: Sequence[str] | None = None
    action_labels: Sequence[str] | None = None
    leader_action_labels: Sequence[str] | None = None
    z_labels: Sequence[str] | None = None
    state_coords: Tensor | None = None
    info: dict = field(default_factory=dict)
    market: Market | None = None
    mean_field_summary: Callable[[Tensor], dict] | None = None

    KIND: ClassVar[str] = "finite"  # the game's kind, declared (learners, evaluators and the commands read it)
    # what `deep-smfg train` measures a finite game with unless its config declares an evaluator
    GENERIC_EVALUATOR: ClassVar[str] = "deep_smfg.evaluation.exact_evaluator.ExactEvaluator"

    def __post_init__(self) -> None:
        check_unit_interval_open(float(self.gamma), "gamma")
        check_positive(float(self.tau), "tau")
        if self.tau_leader < 0:
            raise GameDefinitionError(f"tau_leader must be >= 0, got {self.tau_leader}")
        if not 0.0 < self.default_damping <= 1.0:
            raise GameDefinitionError(f"default_damping must lie in (0, 1], got {self.default_damping}")
        self.rho = torch.as_tensor(self.rho, dtype=torch.float64).detach()
        if self.rho.ndim != 1:
            raise GameDefinitionError(f"rho must be a vector over states, got shape {tuple(self.rho.shape)}")
        check_size(self.rho.shape[0], "the number of states |S|")
        check_distribution(self.rho, "rho")
        self._transition_fn = _as_fn(self.transition, "transition")
        self._reward_f_fn = _as_fn(self.reward_f, "reward_f")
        self._reward_l_fn = _as_fn(self.reward_l, "reward_l")
        # Probe the shapes with the transition at a uniform mean field once the sizes are known.
        n_s = self.rho.shape[0]
        if self.g is None:
            probe_p = self._transition_fn(torch.full((n_s,), 1.0 / n_s, dtype=torch.float64))
            if probe_p.ndim != 4:
                raise GameDefinitionError(f"transition must have shape [S, A, B, S], got {tuple(probe_p.shape)}")
            _, n_a, n_b, _ = probe_p.shape
            self.g = torch.eye(n_s, dtype=torch.float64)[:, None, None, :].expand(n_s, n_a, n_b, n_s).clone()
        self.g = torch.as_tensor(self.g, dtype=torch.float64).detach()
        if self.g.ndim != 4:
            raise GameDefinitionError(f"g must have shape [S, A, B, Z], got {tuple(self.g.shape)}")
        n_s2, n_a, n_b, n_z = self.g.shape
        for size, label in ((n_a, "|A|"), (n_b, "|B|"), (n_z, "|Z|")):
            check_size(size, f"the number of {label}")
        if n_s2 != n_s:
            raise GameDefinitionError(f"g has {n_s2} states but rho has {n_s}")
        check_distribution(self.g, "g (the law of z given s, a, b)")
        self.n_states, self.n_actions, self.n_leader_actions, self.n_z = n_s, n_a, n_b, n_z
        self._validate_tensors(self.uniform_mean_field(torch.float64))
        if self.transition_depends_on_mu is None:
            other = torch.arange(1, n_z + 1, dtype=torch.float64)
            other = other / other.sum()
            self._validate_tensors(other)
            self.transition_depends_on_mu = not torch.equal(
                self.transition_tensor(other), self.transition_tensor(self.uniform_mean_field(torch.float64))
            )
        # Index of the deterministic z (when g is one-hot): a fast path for rollouts.
        self._z_index = self.g.argmax(-1) if bool((self.g.max(-1).values == 1).all()) else None

    # ----- dense tensors (read by the exact solvers) -------------------------------------------
    def transition_tensor(self, mu: Tensor) -> Tensor:
        """``P[s, a, b, s']`` at mean field ``mu``."""
        return self._transition_fn(mu)

    def reward_f_tensor(self, mu: Tensor) -> Tensor:
        """``r_f[s, a, b]`` at mean field ``mu``."""
        return self._reward_f_fn(mu)

    def reward_l_tensor(self, mu: Tensor) -> Tensor:
        """``r_l[s, a, b]`` at mean field ``mu``."""
        return self._reward_l_fn(mu)

    def g_tensor(self, like: Tensor) -> Tensor:
        return self.g.to(dtype=like.dtype, device=like.device)

    def rho_tensor(self, like: Tensor) -> Tensor:
        return self.rho.to(dtype=like.dtype, device=like.device)

    def uniform_mean_field(self, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        return torch.full((self.n_z,), 1.0 / self.n_z, dtype=dtype, device=device)

    def uniform_follower(self, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        """The uniform follower policy ``pi(a | s) = 1 / |A|``, shape ``[S, A]`` (the solvers' start)."""
        return torch.full((self.n_states, self.n_actions), 1.0 / self.n_actions, dtype=dtype, device=device)

    def uniform_leader(self, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        """The uniform leader policy ``phi(b | s) = 1 / |B|``, shape ``[S, B]``."""
        return torch.full((self.n_states, self.n_leader_actions), 1.0 / self.n_leader_actions,
                          dtype=dtype, device=device)

    @property
    def is_nash(self) -> bool:
        """A Nash MFG: the leader has one action, so there is nothing for it to choose."""
        return self.n_leader_actions == 1

    @property
    def transition_reads_mean_field(self) -> bool:
        """Whether ``P`` reads ``mu`` (the name both kinds of game answer to)."""
        return bool(self.transition_depends_on_mu)

    @property
    def reads_density(self) -> bool:
        """A finite game's rewards read ``mu`` itself; no density term (a continuous game's flag)."""
        return False

    # ----- batched functions of (s, a, b, mu) (read by rollouts) -------------------------------
    def r_f(self, s: Tensor, a: Tensor, b: Tensor, mu: Tensor) -> Tensor:
        """Follower rewards ``r_f(s_i, a_i, b_i, mu)`` for a batch of indices."""
        return self.reward_f_tensor(mu)[s, a, b]

    def r_l(self, s: Tensor, a: Tensor, b: Tensor, mu: Tensor) -> Tensor:
        """Leader rewards ``r_l(s_i, a_i, b_i, mu)`` for a batch of indices."""
        return self.reward_l_tensor(mu)[s, a, b]

    def next_state_probs(self, s: Tensor, a: Tensor, b: Tensor, mu: Tensor) -> Tensor:
        """``P(. | s_i, a_i, b_i, mu)`` for a batch, shape ``[N, S]``."""
        return self.transition_tensor(mu)[s, a, b]

    def sample_next_state(self, s: Tensor, a: Tensor, b: Tensor, mu: Tensor,
                          generator: torch.Generator | None = None) -> Tensor:
        """Draw ``s' ~ P(. | s, a, b, mu)`` for each element of the batch."""
        return sample_categorical(self.next_state_probs(s, a, b, mu), generator)

    def sample_z(self, s: Tensor, a: Tensor, b: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw the contribution ``z ~ g(. | s, a, b)`` (deterministic when ``g`` is one-hot)."""
        if self._z_index is not None:
            return self._z_index.to(s.device)[s, a, b]
        return sample_categorical(self.g.to(s.device)[s, a, b], generator)

    def sample_initial_state(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        probs = self.rho.to(device=device).expand(n, -1)
        return sample_categorical(probs, generator)

    # ----- validation ---------------------------------------------------------------------------
    def _validate_tensors(self, mu: Tensor) -> None:
        shape = (self.n_states, self.n_actions, self.n_leader_actions)
        p = self.transition_tensor(mu)
        if tuple(p.shape) != shape + (self.n_states,):
            raise GameDefinitionError(f"transition has shape {tuple(p.shape)}, expected {shape + (self.n_states,)}")
        check_distribution(p, "transition P(. | s, a, b, mu)")
        for fn, label in ((self.reward_f_tensor, "reward_f"), (self.reward_l_tensor, "reward_l")):
            r = fn(mu)
            if tuple(r.shape) != shape:
                raise GameDefinitionError(f"{label} has shape {tuple(r.shape)}, expected {shape}")
            if not torch.isfinite(r).all():
                uniform = torch.allclose(mu, mu.mean().expand_as(mu))
                where = "the uniform mean field" if uniform else f"mu = {mu.tolist()}"
                raise GameDefinitionError(f"{label} has non-finite entries at {where}")

    def check(self, n_mean_fields: int = 3) -> None:
        """The tensors at a few random mean fields besides the two construction checked: shapes, distributions,
        finite rewards (:func:`deep_smfg.games.build_game` runs it on every game a config names)."""
        gen = torch.Generator().manual_seed(0)
        for _ in range(n_mean_fields):
            mu = torch.rand(self.n_z, generator=gen, dtype=torch.float64) + 0.05
            self._validate_tensors(mu / mu.sum())

    def describe(self) -> dict:
        """Sizes and constants, for summaries."""
        return {
            "name": self.name,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "n_leader_actions": self.n_leader_actions,
            "n_z": self.n_z,
            "gamma": self.gamma,
            "tau": self.tau,
            **self.info,
        }


def sample_categorical(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One draw per row of ``probs`` ``[N, K]`` by inverting the CDF (faster than multinomial)."""
    return sample_from_cdf(probs.cumsum(-1), generator)


def draws_from_cdf(cdf: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` draws from one cumulative distribution ``cdf`` ``[K]``: the same draws, from the same random numbers, as
    :func:`sample_from_cdf` on ``n`` copies of the row, without searching ``n`` rows."""
    u = torch.rand(n, dtype=cdf.dtype, device=cdf.device, generator=generator) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_max(cdf.shape[-1] - 1)


def sample_from_cdf(cdf: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One draw per row of a cumulative distribution ``cdf`` ``[N, K]`` (rows may be unnormalised)."""
    u = torch.rand(cdf.shape[:-1] + (1,), dtype=cdf.dtype, device=cdf.device, generator=generator)
    u = u * cdf[..., -1:]
    # right=True: u = 0 must not pick a leading outcome of probability 0
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_max(cdf.shape[-1] - 1)
