"""The eligibility traces of ``total_sampled`` (finite and continuous): one per chain, checkpointed with the chains;
and the pseudo-reward's discount :func:`pseudo_discount`, which both halves share.

``e_occ <- [no restart] e_occ + A_l / tau`` on the occupancy chain (its restarts w.p. ``1 - gamma`` are the
discount, so the trace ends at a restart) and ``e_stat <- gamma e_stat + A_y / tau`` on the stationary chain
turn the forward sums of the soft best response's sensitivity into backward ones
(docs/stackelberg_gradient.md, "Backward view").
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..kinds import Transition
from .base import LeaderGradient


def pseudo_discount(n_chains: int) -> float:
    """``gamma_y``, the discount of the pseudo-reward's value ``V_y`` (its differential value as ``gamma_y -> 1``),
    for ``n_chains`` chains per process: ``1 - gamma_y = 0.4 / sqrt(N)`` (0.95 at N = 64, 0.9875 at N = 1024).

    The truncation's bias shrinks with ``1 - gamma_y``; the noise of ``V_y``'s targets grows with the horizon
    ``1 / (1 - gamma_y)`` and averages over the chains as ``1 / sqrt(N)``, so the horizon grows with ``sqrt(N)``,
    from 0.95 at N = 64, the constant before the rule (docs/stackelberg_gradient.md, "The pseudo-reward's
    discount")."""
    return 1.0 - 0.4 / math.sqrt(n_chains)


def score_term(logp: Tensor, signal: Tensor) -> Tensor:
    """The surrogate of ``E[signal grad log phi(b|s)]`` (``signal`` detached)."""
    return -(signal * logp).mean()


class TracedLeaderGradient(LeaderGradient):
    """A leader gradient that carries the traces ``e_occ``, ``e_stat`` (``None`` before the first step).

    Both halves of ``total_sampled`` need the occupancy chain's restarts (where ``e_occ`` ends): declared in
    ``total_sampled.SUPPORTS`` and checked where every estimator is (``make_leader_gradient``)."""

    def __init__(self) -> None:
        super().__init__()
        self.e_occ: Tensor | None = None
        self.e_stat: Tensor | None = None
        self.keep: Tensor | None = None  # 0 where the occupancy chain restarted after the last step

    @torch.no_grad()
    def _advance_traces(self, t: Transition, a_l: Tensor, a_y: Tensor, gamma: float) -> None:
        """One step: ``a_l = A_l(s, a) / tau`` on the occupancy chain, ``a_y = A_y(sbar, abar) / tau``."""
        if self.e_occ is None or self.e_occ.shape != a_l.shape:
            self.e_occ, self.e_stat, self.keep = torch.zeros_like(a_l), torch.zeros_like(a_y), torch.zeros_like(a_l)
        self.e_occ = self.keep * self.e_occ + a_l
        self.e_stat = gamma * self.e_stat + a_y
        self.keep = (~t.restart).to(a_l.dtype)

    def leader_terms(self, partial: Tensor, followers: Tensor, population: Tensor) -> dict[str, Tensor]:
        """The leader's loss as its three terms (docs/stackelberg_gradient.md), each a surrogate whose gradient in the
        leader's parameters is minus that term's estimate: ``partial``, the followers' answer and the population's
        answer. The loss is their sum; scripts/diagnose_total_sampled.py reads them one by one here."""
        return {"partial": partial, "followers": followers, "population": population}

    def chain_state(self) -> dict[str, Tensor] | None:
        if self.e_occ is None:
            return None
        return {"e_occ": self.e_occ.clone(), "e_stat": self.e_stat.clone(), "keep": self.keep.clone()}

    def load_chain_state(self, state: dict[str, Tensor] | None) -> None:
        if state is None:
            self.e_occ = self.e_stat = self.keep = None
        else:
            self.e_occ, self.e_stat, self.keep = state["e_occ"], state["e_stat"], state["keep"]
