"""A model-free estimate of the total Stackelberg gradient from the samples AC-SMFG draws (finite games here;
continuous ones in :mod:`.total_sampled_continuous`).

The derivation and the measured bias, variance and cost are in docs/stackelberg_gradient.md. With
``A_l(s, a) = Q_l(s, a) - V_l(s)`` (the leader's advantage of the follower's action), the soft best response's
``grad log pi*(a|s) = (D(s, a) - E_pi D(s, .)) / tau`` (``D = dQ*_f``, a policy evaluation of the derivative of
the follower's soft reward), and the stationary law's sensitivity written with an adjoint ``y`` over ``Z``::

    dPhi/domega = E_occ[grad log phi(b|s) (delta_l + e_occ delta_f)]                 (partial + follower answer)
                + E_stat[grad log phi(bbar|sbar) (delta_y + e_stat deltabar_f)]       (the mean field's answer)
    y = E_occ[dr_l/dmu + e_occ dr_f/dmu] + E_stat[e_stat dr_f/dmu]                      (adjoint fixed point)
      (+ E_occ[dlog P(s'|s,a,b,mu)/dmu gamma (V_l(s') + e_occ V_f(s'))]
         + E_stat[dlog P(sbar'|...)/dmu (gamma_y V_y(sbar') + gamma e_stat V_f(sbar'))]   where P reads mu)

(each side times ``1 - gamma``, like the partial estimator), where on the occupancy chain
``e_occ <- [no restart] e_occ + A_l(s, a) / tau`` and on the stationary chain
``e_stat <- gamma e_stat + A_y(sbar, abar) / tau`` are eligibility traces that turn the forward sums ``D``
into backward ones, ``delta_y = y(zbar) - y.mu_hat + gamma_y V_y(sbar') - V_y(sbar)`` is the TD error of the
pseudo-reward ``y(z)`` and ``A_y = Q_y - V_y`` its advantage.

Each immediate reward in those signals (``r_l``, ``r_f`` and ``y(z)`` at the sample) is known for every leader
action, so it is summed over ``b`` exactly and only the rest keeps the score (:func:`all_action`; the critics learn
from the same ``b``-averaged targets): the same expectation, without the noise of the leader's own draw.

What it learns beside AC-SMFG's modules (critic group; tables, or MLPs with ``model=mlp``): ``q_l(s, a)``, the leader's
advantage of the follower's action, regressed on AC-SMFG's leader TD error (``E[delta_l | s, a] = Q_l(s, a) - V_l(s)``,
as the continuous half does); ``v_y(s)``, the pseudo-reward's value, by TD(0); ``q_y(s, a)``, its advantage, regressed
on the pseudo-reward's TD error. ``A_l``, ``A_y`` are these tables centred under ``pi``. Learning the advantages, not
``Q`` itself, starts every entry at 0, the advantages' own scale: a ``Q`` table starts its rarely taken actions at 0,
a value level away from their states' other entries, and their slow updates (a step times the action's frequency)
left them there, so that ``A_l`` on game 18 of the random family was 10 times the exact one in error and the
followers' term 4 times its size (docs/stackelberg_gradient.md, "The critics learn advantages"). The adjoint ``y``:
mean-field group, half its step size so that ``xi_k / 2 <= 1``.
What it reads beyond the samples: the derivative of the rewards in ``mu`` (the env's reward functions are
differentiable) and, where the transitions read ``mu``, the derivative in ``mu`` of the log-probability of each
sampled next state (the kernel's score at the samples, not its expectation). Extra samples: none (both chains are
AC-SMFG's own).
Limits: the occupancy chain's restarts (``occupancy_restart``).
Continuous games get the same estimator through the mean field's mean (:mod:`.total_sampled_continuous`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...games.base import FiniteGame
from ...modules.critics import build_action_critic, build_critic
from ..kinds import ModelSpec, Transition
from ..supports import Supports
from .base import LeaderGradient
from .total_sampled_continuous import TotalSampledContinuous
from .traces import TracedLeaderGradient, pseudo_discount


def all_action(phi: Tensor, logp: Tensor, weight: Tensor | float, r_all: Tensor, r_taken: Tensor,
               delta: Tensor) -> Tensor:
    """The surrogate of ``E[weight grad log phi(b|s) delta]`` with the part of ``delta`` known for every leader action,
    ``r_all[:, b]`` (``r_taken`` at the action taken), summed over ``b`` exactly: its gradient is
    ``weight (sum_b grad phi(b|s) r_all[b] + grad log phi(b|s) (delta - r_taken + sum_b phi(b|s) r_all[b]))``,
    the same expectation with the leader's own draw of ``b`` integrated out of the immediate signal
    (docs/stackelberg_gradient.md, "All-action immediate signals")."""
    with torch.no_grad():
        rest = delta - r_taken + (phi * r_all).sum(-1)
    return -(weight * ((phi * r_all).sum(-1) + rest * logp)).mean()


class TotalSampled(TracedLeaderGradient):
    def __init__(self, game, model: ModelSpec | None = None, occupancy_restart: bool = True) -> None:
        if not isinstance(game, FiniteGame):
            raise ValueError("TotalSampled is the finite-game half of total_sampled")
        super().__init__()
        model = ModelSpec() if model is None else model
        S, A = game.n_states, game.n_actions
        self.game = game
        # q_l, q_y: advantages of the follower's action (centred under pi where read); v_y: the pseudo-reward's value
        self.q_l = build_action_critic(model.critic, S, A, model.hidden, game.state_coords)
        self.q_y = build_action_critic(model.critic, S, A, model.hidden, game.state_coords)
        self.v_y = build_critic(model.critic, S, model.hidden, game.state_coords)
        self.y = torch.nn.Parameter(torch.zeros(game.n_z))

    def parameter_groups(self) -> dict[str, list]:
        critics = [*self.q_l.parameters(), *self.q_y.parameters(), *self.v_y.parameters()]
        return {"critic": critics, "mean_field": [self.y]}

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        agents = learner.agents()  # the learner's declared face
        game, tau, gamma = self.game, self.game.tau, self.game.gamma
        gamma_y = pseudo_discount(t.s.shape[0])
        states = torch.arange(game.n_states, device=t.s.device)
        q_l, q_y, w_y = self.q_l(states), self.q_y(states), self.v_y(states)  # [S, A], [S]: with gradients
        with torch.no_grad():
            pi = torch.softmax(agents.follower(states), -1)
            v_f = agents.critic_f(states)
            adv_l = q_l - (pi * q_l).sum(-1, keepdim=True)
            adv_y = q_y - (pi * q_y).sum(-1, keepdim=True)
            v_y = w_y.detach()
            y, mu = self.y.detach(), agents.mean_field().detach()
            self._advance_traces(t, adv_l[t.s, t.a] / tau, adv_y[t.s_bar, t.a_bar] / tau, gamma)
            eta = y @ mu
            pseudo = y[t.z_bar] - eta
            delta_y = pseudo + gamma_y * v_y[t.s_bar_next] - v_y[t.s_bar]

        mu_ = mu.clone().requires_grad_(True)  # the rewards' derivative in mu at the samples, in one backward
        r_f, r_l = game.reward_f_tensor(mu_), game.reward_l_tensor(mu_)
        signal = ((r_l[t.s, t.a, t.b] + self.e_occ * r_f[t.s, t.a, t.b]).mean()
                  + (self.e_stat * r_f[t.s_bar, t.a_bar, t.b_bar]).mean())
        if game.transition_reads_mean_field:  # mu moves the next state too: its score in mu times what it is worth
            P = game.transition_tensor(mu_)
            score, score_bar = (torch.log(P[t.s, t.a, t.b, t.s_next]),
                                torch.log(P[t.s_bar, t.a_bar, t.b_bar, t.s_bar_next]))
            worth = gamma * (t.v_l_next + self.e_occ * v_f[t.s_next])
            worth_bar = gamma_y * v_y[t.s_bar_next] + gamma * self.e_stat * v_f[t.s_bar_next]
            signal = signal + (score * worth).mean() + (score_bar * worth_bar).mean()
        (y_target,) = torch.autograd.grad(signal, mu_)
        with torch.no_grad():
            r_f_bar = r_f.detach()[t.s_bar, t.a_bar, t.b_bar]
            offset = agents.reward_offset if agents.reward_offset is not None else 0.0  # the critic's centring
            delta_f_bar = (r_f_bar - tau * torch.log(pi[t.s_bar, t.a_bar]) - offset + gamma * v_f[t.s_bar_next]
                           - v_f[t.s_bar])

        phi, phi_bar = torch.softmax(agents.leader(t.s), -1), torch.softmax(agents.leader(t.s_bar), -1)  # [N, B]
        logp_l_bar = torch.log(phi_bar.gather(-1, t.b_bar[:, None]).squeeze(-1))
        with torch.no_grad():  # every leader action's immediate signal at the samples (all-action parts, below)
            r_f_all, r_l_all = r_f.detach()[t.s, t.a], r_l.detach()[t.s, t.a]
            r_f_bar_all = r_f.detach()[t.s_bar, t.a_bar]
            y_bar_all = game.g_tensor(y)[t.s_bar, t.a_bar] @ y  # E[y(z) | sbar, abar, b]
        terms = self.leader_terms(
            all_action(phi, t.logp_l, 1.0, r_l_all, r_l_all.gather(-1, t.b[:, None]).squeeze(-1), delta_l),
            all_action(phi, t.logp_l, self.e_occ, r_f_all, r_f_all.gather(-1, t.b[:, None]).squeeze(-1), delta_f),
            all_action(phi_bar, logp_l_bar, 1.0, y_bar_all, y[t.z_bar], delta_y)
            + all_action(phi_bar, logp_l_bar, self.e_stat, r_f_bar_all, r_f_bar, delta_f_bar))
        leader = sum(terms.values())
        with torch.no_grad():  # the critics' targets with the leader's action integrated out of the immediate part
            r_l_mean = (phi.detach() * r_l_all).sum(-1)
            pseudo_mean = (phi_bar.detach() * y_bar_all).sum(-1) - eta
            target_y = pseudo_mean + gamma_y * v_y[t.s_bar_next]
        critic = (0.5 * ((q_l[t.s, t.a] - (r_l_mean + gamma * t.v_l_next - t.v_l.detach())) ** 2).mean()
                  + 0.5 * ((w_y[t.s_bar] - target_y) ** 2).mean()
                  + 0.5 * ((q_y[t.s_bar, t.a_bar] - (target_y - v_y[t.s_bar])) ** 2).mean())
        return {"leader": leader, "critic": critic, "mean_field": 0.25 * ((self.y - y_target) ** 2).sum()}


def total_sampled(game, **options) -> LeaderGradient:
    """``algo.leader_gradient=total_sampled``: this estimator on finite games, :mod:`.total_sampled_continuous`
    on continuous ones."""
    if game.KIND == "continuous":
        return TotalSampledContinuous(game, **options)
    return TotalSampled(game, **options)


ESTIMATOR = total_sampled
# the adjoint covers the mean field's effect on the rewards and the transitions (continuous games: through its mean,
# not the density); the follower's trace ends at the occupancy chain's restarts; a centred follower critic is read
# with its offset (the stationary TD error subtracts it)
SUPPORTS = Supports(reads_density=False, without_restart=False)
