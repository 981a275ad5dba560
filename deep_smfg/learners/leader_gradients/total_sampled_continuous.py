"""``total_sampled`` on continuous games: the model-free total Stackelberg gradient through the mean field's mean.

The finite estimator (:mod:`.total_sampled`, derivation in docs/stackelberg_gradient.md) carries over because a
continuous game's rewards read the mean field through its mean ``m = E_mu[z]`` only: ``dr/dmu(z) = dr/dm . z``,
so the adjoint over ``Z`` is a linear function ``y(z) = y . z`` and ``y`` has ``dim z`` numbers
(docs/stackelberg_gradient.md, "Continuous games")::

    dPhi/domega = E_occ[grad log phi(b|s) (delta_l + e_occ delta_f)]                 (partial + follower answer)
                + E_stat[grad log phi(bbar|sbar) (delta_y + e_stat deltabar_f)]       (the mean field's answer)
    y = E_occ[dr_l/dm + e_occ dr_f/dm] + E_stat[e_stat dr_f/dm]                         (adjoint fixed point)

    e_occ  <- [no restart] e_occ + A_l(s, a) / tau,        A_l = Q_l(s, a) - E_{a'~pi(.|s)} Q_l(s, a')
    e_stat <- gamma e_stat + A_y(sbar, abar) / tau,         A_y = Q_y(sbar, abar) - V_y(sbar)
    delta_y = y . zbar - y . m_hat + gamma_y V_y(sbar') - V_y(sbar),    V_y(s) = E_{a~pi(.|s)} Q_y(s, a)

(each side times ``1 - gamma``). ``Q_l(s, a)`` and ``Q_y(s, a)`` are MLPs of ``(s, a)``
(:class:`~deep_smfg.modules.critics.MLPActionCritic`); the expectations over the follower's squashed Gaussian
are a Gauss-Hermite product rule in its pre-squash variable (``QUADRATURE`` nodes per action dimension,
deterministic: no draws, so the chains' random streams are AC-SMFG's). ``dr/dm`` is automatic differentiation of
the game's reward functions at the samples (one backward pass per iteration). Both scores read the stationary
chain's pre-squash draws (``Transition.u_f_bar``, ``u_l_bar``).

What it learns beside AC-SMFG: ``Q_l``, ``Q_y`` (critic group), ``y`` (mean-field group, half its step size).
Extra samples: none. Limits: transitions that do not read the mean field; ``algo.occupancy_restart=true``;
``model=squashed_gaussian`` (the baselines' quadrature is over its diagonal pre-squash Gaussian).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ...envs import split_chains, stack_chains
from ...games.continuous import ContinuousGame
from ...modules.critics import MLPActionCritic
from ...modules.features import BoxFeatures
from ...modules.policies import SquashedGaussianPolicy
from ..kinds import ModelSpec, Transition
from .traces import GAMMA_Y, TracedLeaderGradient, score_term

QUADRATURE = 5  # Gauss-Hermite nodes per follower action dimension for E_pi Q(s, .)


def gauss_hermite(n: int, dim: int) -> tuple[Tensor, Tensor]:
    """Nodes ``[n^dim, dim]`` and weights ``[n^dim]`` (summing to 1) of the product rule for ``E f(x)``,
    ``x ~ N(0, I_dim)``."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    x, w = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(w / w.sum(), dtype=torch.float32)
    nodes = torch.cartesian_prod(*[x] * dim).reshape(-1, dim)
    weights = torch.cartesian_prod(*[w] * dim).reshape(-1, dim).prod(-1)
    return nodes, weights


class TotalSampledContinuous(TracedLeaderGradient):
    """The module docstring's estimator; ``y`` is the adjoint (``dim z``), ``q_l``, ``q_y`` the action critics."""

    def __init__(self, game, model: ModelSpec | None = None, occupancy_restart: bool = True) -> None:
        if not isinstance(game, ContinuousGame):
            raise ValueError("TotalSampledContinuous is the continuous-game half of total_sampled")
        super().__init__()
        model = ModelSpec(policy="squashed_gaussian", critic="mlp") if model is None else model
        if game.transition_reads_mean_field:
            raise ValueError("on a continuous game total_sampled needs transitions that do not read the mean field "
                             "(its adjoint covers the rewards' mean only; finite games have the transitions' term)")
        if model.policy != "squashed_gaussian":
            raise ValueError("total_sampled on a continuous game needs model=squashed_gaussian (its baselines "
                             "integrate the follower's pre-squash Gaussian, diagonal covariance)")
        hidden = list(model.hidden)
        self.game = game
        f32 = dict(dtype=torch.float32)
        def action_critic() -> MLPActionCritic:
            return MLPActionCritic(BoxFeatures(*game.state_space.tensors(**f32)), *game.action_space.tensors(**f32),
                                   hidden)

        self.q_l, self.q_y = action_critic(), action_critic()
        self.y = torch.nn.Parameter(torch.zeros(game.z_dim))
        nodes, weights = gauss_hermite(QUADRATURE, game.action_space.dim)
        self.register_buffer("nodes", nodes, persistent=False)
        self.register_buffer("weights", weights, persistent=False)

    def parameter_groups(self) -> dict[str, list]:
        return {"critic": list(self.q_l.parameters()) + list(self.q_y.parameters()), "mean_field": [self.y]}

    @torch.no_grad()
    def expected_q(self, q: MLPActionCritic, policy: SquashedGaussianPolicy, s: Tensor) -> Tensor:
        """``E_{a ~ pi(.|s)} Q(s, a)`` ``[N]`` by the Gauss-Hermite rule on the pre-squash Gaussian."""
        mean, log_std = policy(s)  # [N, da]
        u = mean[:, None, :] + log_std.exp()[:, None, :] * self.nodes  # [N, K, da]
        k = self.nodes.shape[0]
        values = q(s.repeat_interleave(k, 0), policy.squash(u).reshape(-1, u.shape[-1])).reshape(-1, k)
        return values @ self.weights

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        agents = learner.agents()  # the learner's declared face
        game, tau, gamma = self.game, self.game.tau, self.game.gamma
        q_l, q_y = self.q_l(t.s, t.a), self.q_y(t.s_bar, t.a_bar)  # with gradients (their TD losses)
        with torch.no_grad():
            v_l = self.expected_q(self.q_l, agents.follower, t.s)
            both = stack_chains(t.s_bar, t.s_bar_next)
            v_y, v_y_next = split_chains(self.expected_q(self.q_y, agents.follower, both))
            self._advance_traces(t, (q_l - v_l) / tau, (q_y - v_y) / tau, gamma)
            y, m = self.y.detach(), agents.mean_field().detach()
            pseudo = t.z_bar @ y - y @ m
            delta_y = pseudo + GAMMA_Y * v_y_next - v_y

        m_ = m.clone().requires_grad_(True)  # the rewards' derivative in m at the samples, in one backward
        r_f_bar = game.reward_f(t.s_bar, t.a_bar, t.b_bar, m_)
        signal = ((game.reward_l(t.s, t.a, t.b, m_) + self.e_occ * game.reward_f(t.s, t.a, t.b, m_)).mean()
                  + (self.e_stat * r_f_bar).mean())
        (y_target,) = torch.autograd.grad(signal, m_)
        with torch.no_grad():
            v_f, v_f_next = split_chains(agents.critic_f(stack_chains(t.s_bar, t.s_bar_next)))
            logp_f_bar = agents.follower.log_prob(t.s_bar, t.u_f_bar)
            delta_f_bar = r_f_bar.detach() - tau * logp_f_bar + gamma * v_f_next - v_f

        logp_l_bar = agents.leader.log_prob(t.s_bar, t.u_l_bar)
        terms = self.leader_terms(score_term(t.logp_l, delta_l), score_term(t.logp_l, self.e_occ * delta_f),
                                  score_term(logp_l_bar, delta_y + self.e_stat * delta_f_bar))
        leader = sum(terms.values())
        critic = (0.5 * ((q_l - (t.r_l + gamma * t.v_l_next)) ** 2).mean()
                  + 0.5 * ((q_y - (pseudo + GAMMA_Y * v_y_next)) ** 2).mean())
        return {"leader": leader, "critic": critic, "mean_field": 0.25 * ((self.y - y_target) ** 2).sum()}
