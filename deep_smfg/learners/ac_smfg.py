"""AC-SMFG (the AC-SMFG paper's Algorithm 1 as reconstructed in docs/ac_smfg.md): four timescales.

One iteration ``k`` on ``N`` batched chains (per process):

1. occupancy chain: ``a ~ pi(.|s)``, ``b ~ phi(.|s)``, ``s' ~ P(.|s,a,b,mu_hat)`` (restart w.p. ``1 - gamma``);
2. stationary chain: the same step from ``sbar``; ``zbar = g(sbar, abar, bbar)``;
3. ``delta_f = r_f - tau log pi(a|s) + gamma V_f(s') - V_f(s)``, ``delta_l = r_l + gamma V_l(s') - V_l(s)``
   (with ``reward_centering``: ``r_f - tau log pi(a|s) - rbar_k`` in ``delta_f``, see :class:`ACSMFG`);
4. critics ``V += beta_k delta`` (semi-gradient TD(0): SGD on ``1/2 (V(s) - target)^2``);
5. follower ``theta += alpha_k delta_f grad log pi(a|s)``;
6. mean field ``mu_hat <- Proj(mu_hat + xi_k (e_zbar - mu_hat))`` (SGD on ``1/2 ||mu_hat - e_zbar||^2``);
   Gaussian (continuous games): ``m += xi_k (zbar - m)``, ``Sigma += xi_k ((zbar - m)(zbar - m)^T - Sigma)``;
7. leader: a step along the estimated leader gradient (``algo.leader_gradient``; the paper's ``partial``:
   ``omega += zeta_k delta_l grad log phi(b|s)``).

Steps 1-2 are the game kind's (:mod:`.kinds`), the single backward pass and the four optimiser steps the
base's (:mod:`.base`); batches average the same updates over the ``N`` chains.
"""

from __future__ import annotations

import torch

from ..games.base import FiniteGame
from ..games.continuous import ContinuousGame
from .base import SampledLearner
from .kinds import Agents, ModelSpec
from .leader_gradients import make_leader_gradient
from .schedules import TIMESCALES, check_timescales
from .supports import Supports


class ACSMFG(SampledLearner):
    """AC-SMFG (module docstring).

    ``reward_centering`` (off by default): the follower's TD error uses the centred entropy-regularised reward
    ``r_f - tau log pi(a|s) - rbar_k``, where ``rbar_k`` is a running average of the batch means of
    ``r_f - tau log pi`` (``rbar_0`` the first batch's mean, then steps ``min(1, xi_k)``, the mean field's
    timescale, slower than the critic's, so that the critic tracks the values of the current offset).
    Subtracting a constant from every reward shifts every soft value by ``rbar / (1 - gamma)`` and changes
    no soft best response, no advantage and no equilibrium; what it removes is the common level
    ``E[r] / (1 - gamma)`` that a critic started at 0 must otherwise learn state by state (reward
    centering, Naik et al. 2024). Without it, the states the chains have visited most get the largest
    values first, and the follower learns to stay among them; on games with ``-log mu`` rewards the
    learned mean field then empties the cells it avoids (docs/ac_smfg.md). ``V_f`` is then the centred
    value ``V - rbar / (1 - gamma)``.
    """

    GROUPS = tuple(reversed(TIMESCALES))  # critic, follower, mean_field, leader: fastest to slowest
    ALGO = "ac_smfg"
    SUPPORTS = Supports()  # any game, finite or continuous

    def __init__(self, game: FiniteGame | ContinuousGame, model: ModelSpec | None = None, *, step_sizes,
                 leader_gradient: str = "partial", allow_any_step_order: bool = False,
                 reward_centering: bool = False, **learner):
        model = ModelSpec() if model is None else model
        super().__init__(game, model, step_sizes, reward_centering=reward_centering, **learner)
        check_timescales(self.schedules, allow_any_step_order, self.optimizer_names)
        self.follower, self.leader, self.critic_f, self.critic_l, self.mean_field = self.kind.modules(model)
        self.leader_gradient = make_leader_gradient(leader_gradient, game, model=model,
                                                    occupancy_restart=self.occupancy_restart,
                                                    reward_centering=reward_centering)
        self.reward_centering = reward_centering
        if reward_centering:  # a buffer: in checkpoints, and the same on every rank (all-reduced batch means)
            self.register_buffer("reward_offset", torch.zeros(()))

    @torch.no_grad()
    def _update_reward_offset(self, reward: torch.Tensor) -> torch.Tensor:
        """``rbar_k``, used at iteration ``k``: the first batch's mean at ``k = 0``, then
        ``rbar += min(1, xi_k) (mean - rbar)``."""
        mean = reward.mean()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(mean)
            mean = mean / torch.distributed.get_world_size()
        k = int(self.iteration)
        step = 1.0 if k == 0 else min(1.0, self.schedules["mean_field"](k))
        self.reward_offset.add_(step * (mean.to(self.reward_offset) - self.reward_offset))
        return self.reward_offset.to(reward)

    def agents(self) -> Agents:
        return Agents(self.follower, self.leader, self.mean_field, self.critic_f, self.critic_l,
                      self.reward_offset if self.reward_centering else None)

    @torch.no_grad()
    def load_agents(self, agents: Agents) -> None:
        """Copy another learner's declared face into this one's modules (a warm start: the learned best response).
        Critics it lacks stay as built; the reward offset is copied where both centre the reward."""
        pairs = [(self.follower, agents.follower), (self.leader, agents.leader), (self.mean_field, agents.mean_field),
                 (self.critic_f, agents.critic_f), (self.critic_l, agents.critic_l)]
        for mine, theirs in pairs:
            if theirs is not None:
                mine.load_state_dict(theirs.state_dict())
        if self.reward_centering and agents.reward_offset is not None:
            self.reward_offset.copy_(agents.reward_offset)

    def parameter_groups(self) -> dict[str, list]:
        groups = {
            "critic": list(self.critic_f.parameters()) + list(self.critic_l.parameters()),
            "follower": list(self.follower.parameters()),
            "mean_field": list(self.mean_field.parameters()),
            "leader": list(self.leader.parameters()),
        }
        for group, params in self.leader_gradient.parameter_groups().items():  # what the estimator learns itself
            groups[group] = groups[group] + params
        return groups

    def losses(self) -> dict[str, torch.Tensor]:
        t = self.transition()  # steps 1-2
        tau, gamma = self.game.tau, self.game.gamma
        with torch.no_grad():  # step 3
            reward_f = t.r_f - tau * t.logp_f
            if self.reward_centering:
                reward_f = reward_f - self._update_reward_offset(reward_f)
            target_f = reward_f + gamma * t.v_f_next
            target_l = t.r_l + gamma * t.v_l_next
            delta_f, delta_l = target_f - t.v_f, target_l - t.v_l
        losses = {
            "critic": 0.5 * ((t.v_f - target_f) ** 2).mean() + 0.5 * ((t.v_l - target_l) ** 2).mean(),  # step 4
            "follower": -(delta_f * t.logp_f).mean(),  # step 5
            "mean_field": self.mean_field.loss(t.z_bar),  # step 6
        }
        for group, loss in self.leader_gradient.losses(self, t, delta_f, delta_l).items():  # step 7
            losses[group] = losses[group] + loss if group in losses else loss
        return losses

    def after_step(self) -> None:
        self.mean_field.project_()

    def rank_state(self) -> dict:
        return {**super().rank_state(), "leader_gradient": self.leader_gradient.chain_state()}

    def load_rank_state(self, state: dict) -> None:
        super().load_rank_state(state)
        self.leader_gradient.load_chain_state(state.get("leader_gradient"))
