"""The leader objective ``Phi`` and the Stackelberg gradient (total derivative through the equilibrium).

``Phi(phi) = J_l(phi; pi*(phi), mu*(phi))`` with
``J_l(phi; pi, mu) = rho^T (I - gamma K^{pi,phi}_mu)^{-1} (r_l^{pi,phi}(mu) + tau_l H(phi))``.

**Implicit differentiation.** Write the equilibrium as a fixed point ``x = H(x, phi)`` in
``x = (V, mu)``: ``Q = r_phi(mu) + gamma P_phi(mu) V``, ``H_V = tau logsumexp(Q / tau)``,
``H_mu = Gamma(softmax(Q / tau), phi, mu)``. With ``L(x, phi) = J_l(phi; softmax(Q/tau), mu)`` the
implicit function theorem gives

``dPhi/dphi = dL/dphi + w^T dH/dphi``,  where  ``(I - dH/dx)^T w = dL/dx``.

Eliminating ``V`` from that linear system leaves ``(I - J)^T y = c`` for its ``mu`` block ``y``: ``J`` is how the
followers' stationary law moves with ``mu`` (their best response answering it), ``c`` what ``mu`` is worth to ``L``
with the same answer. ``y`` is the **adjoint** that ``total_sampled`` learns (up to ``1 - gamma`` and a constant), and
the total splits into three terms: the partial one, the followers' answer at the frozen population (the ``V`` block
alone), and the population's answer ``y^T dGamma~/dphi`` (:meth:`StackelbergGradient.terms`).

The *partial* gradient (what AC-SMFG's leader follows) is ``dJ_l/dphi`` with ``pi`` and ``mu``
frozen. Gradients are returned with respect to the policy table ``phi[s, b]``; for softmax logits
``omega`` use :func:`logit_gradient`: ``dPhi/domega_{sb} = phi_{sb}(G_{sb} - sum_b' phi_{sb'} G_{sb'})``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..games.base import FiniteGame
from .equilibrium import Equilibrium, follower_mdp, gamma_map, solve_equilibrium
from .markov import discounted_value, entropy, state_kernel, state_reward
from .soft_bellman import soft_q


def leader_return(game: FiniteGame, phi: Tensor, pi: Tensor, mu: Tensor) -> Tensor:
    """``J_l(phi; pi, mu)``: the leader's discounted return from ``rho`` (differentiable in all three)."""
    P = game.transition_tensor(mu)
    r = state_reward(game.reward_l_tensor(mu), pi, phi)
    if game.tau_leader > 0:
        r = r + game.tau_leader * entropy(phi)
    V = discounted_value(state_kernel(P, pi, phi), r, game.gamma)
    return game.rho_tensor(V) @ V


def leader_objective(game: FiniteGame, phi: Tensor, eq: Equilibrium | None = None, **solver_kw) -> float:
    """``Phi(phi)``: solve the lower level for ``phi``, then evaluate ``J_l``."""
    eq = solve_equilibrium(game, phi, **solver_kw) if eq is None else eq
    with torch.no_grad():
        return float(leader_return(game, phi, eq.pi, eq.mu))


def _fixed_point_map(game: FiniteGame, x: Tensor, phi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``H(x, phi)`` for ``x = (V, mu)``; also returns ``pi = softmax(Q/tau)`` and ``mu``."""
    n_s = game.n_states
    V, mu = x[:n_s], x[n_s:]
    mdp = follower_mdp(game, phi, mu)
    Q = soft_q(mdp.r_phi, mdp.P_phi, V, game.gamma)
    pi = torch.softmax(Q / game.tau, dim=-1)
    new_V = game.tau * torch.logsumexp(Q / game.tau, dim=-1)
    new_mu = gamma_map(game, pi, phi, mdp.P, check=False)
    return torch.cat([new_V, new_mu]), pi, mu


@dataclass
class StackelbergGradient:
    value: float  # Phi(phi)
    total: Tensor  # dPhi/dphi, [S, B]
    partial: Tensor  # dJ_l/dphi with pi*, mu* frozen, [S, B]
    equilibrium: Equilibrium
    population_frozen: Tensor  # dPhi/dphi with mu* frozen and the followers' best response free, [S, B]
    adjoint: Tensor  # y = (I - J)^{-T} c over Z: what a change of mu is worth to Phi with the followers answering it

    def terms(self) -> dict[str, Tensor]:
        """``total`` as the sum of its three terms (docs/stackelberg_gradient.md): ``partial``, the followers'
        answer at the frozen population, and the population's answer."""
        return {"partial": self.partial, "followers": self.population_frozen - self.partial,
                "population": self.total - self.population_frozen}


def stackelberg_gradient(game: FiniteGame, phi: Tensor, eq: Equilibrium | None = None,
                         **solver_kw) -> StackelbergGradient:
    """Total and partial gradients of ``Phi`` with respect to the leader's policy table ``phi``."""
    phi = phi.detach()
    eq = solve_equilibrium(game, phi, **solver_kw) if eq is None else eq
    x = torch.cat([eq.values.V, eq.mu]).detach()

    jac = torch.func.jacrev(lambda x_: _fixed_point_map(game, x_, phi)[0])(x)
    x_ = x.clone().requires_grad_(True)
    phi_ = phi.clone().requires_grad_(True)
    _, pi, mu = _fixed_point_map(game, x_, phi_)
    L = leader_return(game, phi_, pi, mu)
    dL_dx, dL_dphi = torch.autograd.grad(L, (x_, phi_))
    eye = torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
    w = torch.linalg.solve((eye - jac).T, dL_dx)
    n_s = game.n_states  # the same with mu frozen: the V block of the fixed point alone
    w_V = torch.linalg.solve((eye[:n_s, :n_s] - jac[:n_s, :n_s]).T, dL_dx[:n_s])
    phi2 = phi.clone().requires_grad_(True)
    Hx, _, _ = _fixed_point_map(game, x, phi2)
    (implicit,) = torch.autograd.grad(Hx, phi2, grad_outputs=w, retain_graph=True)
    (implicit_V,) = torch.autograd.grad(Hx[:n_s], phi2, grad_outputs=w_V)
    total = dL_dphi + implicit

    phi3 = phi.clone().requires_grad_(True)
    (partial,) = torch.autograd.grad(leader_return(game, phi3, eq.pi.detach(), eq.mu.detach()), phi3)
    return StackelbergGradient(value=float(L.detach()), total=total, partial=partial, equilibrium=eq,
                               population_frozen=dL_dphi + implicit_V, adjoint=w[n_s:].detach())


def logit_gradient(phi: Tensor, grad_phi: Tensor) -> Tensor:
    """Chain rule through ``phi = softmax(omega)`` row by row."""
    return phi * (grad_phi - (phi * grad_phi).sum(-1, keepdim=True))


def cosine(u: Tensor, v: Tensor) -> float:
    """Cosine similarity of two flattened gradients (0 when either is zero)."""
    nu, nv = u.norm(), v.norm()
    if nu == 0 or nv == 0:
        return 0.0
    return float((u.flatten() @ v.flatten()) / (nu * nv))


def gradient_alignment(game: FiniteGame, phi: Tensor, grad: StackelbergGradient | None = None) -> float:
    """Cosine between the partial and the total leader gradient, in softmax-logit coordinates."""
    grad = stackelberg_gradient(game, phi) if grad is None else grad
    return cosine(logit_gradient(phi, grad.partial), logit_gradient(phi, grad.total))
