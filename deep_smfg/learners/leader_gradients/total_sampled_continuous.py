"""``total_sampled`` on continuous games: the model-free total Stackelberg gradient through the mean field's mean.

The finite estimator (:mod:`.total_sampled`, derivation in docs/stackelberg_gradient.md) carries over because a
continuous game's rewards and transitions read the mean field through its mean ``m = E_mu[z]`` only:
``dr/dmu(z) = dr/dm . z``, so the adjoint over ``Z`` is a linear function ``y(z) = y . z`` and ``y`` has ``dim z``
numbers (docs/stackelberg_gradient.md, "Continuous games")::

    dPhi/domega = E_occ[grad log phi(b|s) (delta_l + e_occ delta_f)]                 (partial + follower answer)
                + E_stat[grad log phi(bbar|sbar) (delta_y + e_stat deltabar_f)]       (the mean field's answer)
    y = E_occ[dr_l/dm + e_occ dr_f/dm] + E_stat[e_stat dr_f/dm]                         (adjoint fixed point)
      (+ E_occ[d/dm E_eps gamma (V_l + e_occ V_f)(s'(m, eps))]
         + E_stat[d/dm E_eps (gamma_y V_y + gamma e_stat V_f)(sbar'(m, eps))]          where the transitions read m)

    e_occ  <- [no restart] e_occ + A_l(s, a) / tau,        A_l = Q_l(s, a) - E_{a'~pi(.|s)} Q_l(s, a')
                                                            (Q_l regressed on delta_l: Q_l - V_l, see below)
    e_stat <- gamma e_stat + A_y(sbar, abar) / tau,         A_y = Q_y(sbar, abar) - V_y(sbar)
    delta_y = y . zbar - y . m_hat + gamma_y V_y(sbar') - V_y(sbar),    V_y(s) = E_{a~pi(.|s)} Q_y(s, a)

(each side times ``1 - gamma``). ``Q_l(s, a)`` and ``Q_y(s, a)`` are MLPs of ``(s, a)``
(:class:`~deep_smfg.modules.critics.MLPActionCritic`). ``Q_l`` learns the leader's advantage directly: it regresses
on AC-SMFG's leader TD error ``delta_l`` (``E[delta_l | s, a] = Q_l(s, a) - V_l(s)``), so that it starts at 0 on the
advantage's own scale (a network fitting ``Q_l`` itself spends its range on ``V_l``, which on the linear-quadratic
game is about -70 while the actions' differences are tenths: it learned no action dependence at all); ``A_l`` is the
same after the centring. The expectations over the follower's actions are the policy's own deterministic rule
(``policy.expected``, deep_smfg/modules/quadrature.py: a Gauss-Hermite product rule for a Gaussian, squashed or not;
for the cells policy, blocks of cells at their probability-weighted centroids, 25 evaluations of ``Q`` per state on
the main job); no draws, so the chains' random streams are AC-SMFG's. ``dr/dm`` is automatic differentiation of
the game's reward functions at the samples (one backward pass per iteration). Where the transitions read ``m``, the
next state's worth is averaged over the game's own noise quadrature (``noise_quadrature(NOISE_QUADRATURE)``) at the
sampled ``(s, a, b)`` and differentiated in ``m`` through ``next_state``: the finite estimator's kernel score
``E[dlog P/dmu W(s')]``, written as ``d/dm E_eps W(s'(m, eps))`` (a pathwise derivative, no draw; exact for values
up to cubic in a Gaussian noise, like the linear-quadratic game's quadratic values). Both scores read the stationary
chain's pre-squash draws (``Transition.u_f_bar``, ``u_l_bar``). With ``reward_centering`` the follower's critic
learns the centred reward: the stationary TD error subtracts the same offset (at the critic's fixed point the centred
TD error is the uncentred one).

What it learns beside AC-SMFG: ``Q_l``, ``Q_y`` and the adjoint ``y``, all in the critic group. ``y`` is an evaluation
of the current policies like the critics (the fixed point of a linear equation they define), so it runs on their
timescale: on the mean field's (the finite half's choice, where that group's SGD is fast) the linear-quadratic
game's adjoint, pushed to +15 by the traces' first unsettled thousands of iterations (its target was negative), was
still at +3.7 after 14,000 iterations and sent the leader the wrong way.
Extra samples: none. Limits: ``algo.occupancy_restart=true``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...envs import split_chains, stack_chains
from ...games.continuous import ContinuousGame
from ...modules.critics import MLPActionCritic
from ...modules.features import BoxFeatures
from ..kinds import ModelSpec, Transition
from .traces import TracedLeaderGradient, pseudo_discount, score_term

NOISE_QUADRATURE = 2  # the game's noise nodes per dimension for E_eps W(s'(m, eps)) (exact up to cubic W)
# Q's evaluations per network call in expected_q: 2^14 rows keep a 64-wide layer's activations at 4 MiB; one call over
# N x 25 rows spent its time allocating at large N (1.4x slower at N = 4096, docs/performance.md). The main job's
# N = 64 makes 3,200 rows: one call, as before.
ROWS_PER_CALL = 2 ** 14


class TotalSampledContinuous(TracedLeaderGradient):
    """The module docstring's estimator; ``y`` is the adjoint (``dim z``), ``q_l``, ``q_y`` the action critics."""

    def __init__(self, game, model: ModelSpec | None = None, occupancy_restart: bool = True) -> None:
        if not isinstance(game, ContinuousGame):
            raise ValueError("TotalSampledContinuous is the continuous-game half of total_sampled")
        super().__init__()
        model = ModelSpec(policy="squashed_gaussian", critic="mlp") if model is None else model
        hidden = list(model.hidden)
        self.game = game
        f32 = dict(dtype=torch.float32)
        def action_critic() -> MLPActionCritic:
            return MLPActionCritic(BoxFeatures(*game.state_space.tensors(**f32)), *game.action_space.tensors(**f32),
                                   hidden)

        self.q_l, self.q_y = action_critic(), action_critic()
        self.y = torch.nn.Parameter(torch.zeros(game.z_dim))
        if game.transition_reads_mean_field:  # the nodes of the kernel term (expected_next)
            noise, noise_weights = game.noise_quadrature(NOISE_QUADRATURE)
            self.register_buffer("noise", noise.to(torch.float32), persistent=False)
            self.register_buffer("noise_weights", noise_weights.to(torch.float32), persistent=False)

    def parameter_groups(self) -> dict[str, list]:
        return {"critic": list(self.q_l.parameters()) + list(self.q_y.parameters()) + [self.y]}

    @staticmethod
    def expected_q(q: MLPActionCritic, policy, s: Tensor) -> Tensor:
        """``E_{a ~ pi(.|s)} Q(s, a)`` ``[N]`` by the policy's own rule (``policy.expected``: Gauss-Hermite for a
        Gaussian, blocks of cells for the cells policy; with gradients in ``s`` where ``s`` has them)."""
        def q_at(actions: Tensor) -> Tensor:  # [N, K, da] -> [N, K]
            k = actions.shape[1]
            states, flat = s.repeat_interleave(k, 0), actions.reshape(-1, actions.shape[-1])
            chunks = zip(states.split(ROWS_PER_CALL), flat.split(ROWS_PER_CALL), strict=True)
            return torch.cat([q(*rows) for rows in chunks]).reshape(-1, k)

        return policy.expected(s, q_at)

    def expected_next(self, worth, s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        """``E_eps worth(s'(m, eps), row)`` ``[N]`` over the game's noise quadrature at the samples ``(s, a, b)``,
        differentiable in ``m``; ``worth(points [N * K, ds], rows [N * K])`` (``rows``: each point's sample)."""
        n, k = s.shape[0], self.noise.shape[0]
        rows = torch.arange(n, device=s.device).repeat_interleave(k)
        s_next = self.game.next_state(s[rows], a[rows], b[rows], m, self.noise.to(s).repeat(n, 1))
        return worth(s_next, rows).reshape(n, k) @ self.noise_weights.to(s)

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        agents = learner.agents()  # the learner's declared face
        game, tau, gamma = self.game, self.game.tau, self.game.gamma
        gamma_y = pseudo_discount(t.s.shape[0])
        offset = agents.reward_offset.detach() if agents.reward_offset is not None else 0.0
        q_l, q_y = self.q_l(t.s, t.a), self.q_y(t.s_bar, t.a_bar)  # with gradients (their TD losses)
        with torch.no_grad():
            v_l = self.expected_q(self.q_l, agents.follower, t.s)
            both = stack_chains(t.s_bar, t.s_bar_next)
            v_y, v_y_next = split_chains(self.expected_q(self.q_y, agents.follower, both))
            self._advance_traces(t, (q_l - v_l) / tau, (q_y - v_y) / tau, gamma)
            y, m = self.y.detach(), agents.mean_field().detach()
            pseudo = t.z_bar @ y - y @ m

        m_ = m.clone().requires_grad_(True)  # the rewards' derivative in m at the samples, in one backward
        r_f_bar = game.reward_f(t.s_bar, t.a_bar, t.b_bar, m_)
        signal = ((game.reward_l(t.s, t.a, t.b, m_) + self.e_occ * game.reward_f(t.s, t.a, t.b, m_)).mean()
                  + (self.e_stat * r_f_bar).mean())
        if game.transition_reads_mean_field:  # m moves the next state too: d/dm of its expected worth
            e_occ, e_stat = self.e_occ, self.e_stat

            def worth(x: Tensor, rows: Tensor) -> Tensor:
                return gamma * (agents.critic_l(x) + e_occ[rows] * agents.critic_f(x))

            def worth_bar(x: Tensor, rows: Tensor) -> Tensor:
                v_y_at = self.expected_q(self.q_y, agents.follower, x)
                return gamma_y * v_y_at + gamma * e_stat[rows] * agents.critic_f(x)

            signal = signal + (self.expected_next(worth, t.s, t.a, t.b, m_).mean()
                               + self.expected_next(worth_bar, t.s_bar, t.a_bar, t.b_bar, m_).mean())
        (y_target,) = torch.autograd.grad(signal, m_)
        with torch.no_grad():
            delta_y = pseudo + gamma_y * v_y_next - v_y
            v_f, v_f_next = split_chains(agents.critic_f(stack_chains(t.s_bar, t.s_bar_next)))
            logp_f_bar = agents.follower.log_prob(t.s_bar, t.u_f_bar)
            delta_f_bar = r_f_bar.detach() - tau * logp_f_bar - offset + gamma * v_f_next - v_f

        logp_l_bar = agents.leader.log_prob(t.s_bar, t.u_l_bar)
        terms = self.leader_terms(score_term(t.logp_l, delta_l), score_term(t.logp_l, self.e_occ * delta_f),
                                  score_term(logp_l_bar, delta_y + self.e_stat * delta_f_bar))
        leader = sum(terms.values())
        critic = (0.5 * ((q_l - delta_l) ** 2).mean()
                  + 0.5 * ((q_y - (pseudo + gamma_y * v_y_next)) ** 2).mean()
                  + 0.25 * ((self.y - y_target) ** 2).sum())  # the adjoint learns in the critic group
        return {"leader": leader, "critic": critic}
