"""Exact metrics of a learner's current policies on a finite game (docs/model.md, metrics)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import exact
from ..games.base import FiniteGame
from ..modules.policies import policy_table


def _param_grad(module: nn.Module, grad_table: Tensor) -> Tensor:
    """Chain rule from ``dPhi/dphi[s, b]`` to the leader module's parameters (flattened), on detached copies of them
    (a learner whose leader moves without gradients, or never, gets the same metric)."""
    names, params = zip(*module.named_parameters(), strict=True)
    copies = {n: p.detach().requires_grad_(True) for n, p in zip(names, params, strict=True)}
    with torch.enable_grad():
        states = torch.arange(module.n_states, device=params[0].device)
        table = torch.softmax(torch.func.functional_call(module, copies, (states,)), dim=-1)  # policy_table's
        grads = torch.autograd.grad(table, list(copies.values()), grad_outputs=grad_table.to(table), allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, copies.values(), strict=True)])


def exact_metrics(
    game: FiniteGame, follower: nn.Module, leader: nn.Module, mu_hat: Tensor, phi_star: float,
    mu_warm: Tensor | None = None
) -> tuple[dict[str, float], Tensor]:
    """Exact metrics at the current ``(pi_k, phi_k, mu_hat_k)``; also returns ``mu*(phi_k)`` (a warm start).

    * ``leader_objective`` ``Phi(phi_k)``; ``leader_gap`` ``Phi* - Phi(phi_k)``;
    * ``stackelberg_grad_norm`` ``||dPhi/domega||^2`` and ``partial_grad_norm`` ``||dJ_l/domega||^2``
      (``pi*``, ``mu*`` frozen) in the leader's own parameters; ``gradient_alignment``, their cosine;
    * ``follower_exploitability`` of ``pi_k``; ``mean_field_error`` ``||mu_hat_k - mu*(phi_k)||_1``.
    """
    with torch.no_grad():
        pi = policy_table(follower).double().cpu()
        phi = policy_table(leader).double().cpu()
    mu_warm = None if mu_warm is None else mu_warm.double()
    grad = exact.stackelberg_gradient(game, phi, mu0=mu_warm)
    total = _param_grad(leader, grad.total)
    partial = _param_grad(leader, grad.partial)
    metrics = {
        "leader_objective": grad.value,
        "leader_gap": phi_star - grad.value,
        "stackelberg_grad_norm": float(total.double().norm() ** 2),
        "partial_grad_norm": float(partial.double().norm() ** 2),
        "gradient_alignment": exact.cosine(partial, total),
        "follower_exploitability": exact.follower_exploitability(game, pi, phi),
        "mean_field_error": exact.mean_field_error(mu_hat.detach().double().cpu(), grad.equilibrium.mu),
    }
    return metrics, grad.equilibrium.mu
