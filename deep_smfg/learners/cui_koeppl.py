"""CuiKoeppl (Cui et al., AAAI 2024, "Learning discrete-time major-minor mean field games"), the AC-SMFG paper's
fictitious-play baseline in its ``sfp`` variant, reconstructed with best responses learned from samples.

Fictitious play (FP) keeps *averaged* policies ``pi_bar`` (follower) and ``phi_bar`` (leader); they are what the
chains act with and what the evaluation reads (``agents()``: the follower, the leader). The ``sfp`` schedule: FP
iterations ``j = 0, 1, 2, ...``; in each cycle of ``inner_per_outer + 1`` FP iterations the follower is averaged
towards its best response ``inner_per_outer`` times, then the leader once. FP iteration ``j`` is
``br_iterations`` sampled iterations; at its end, the scheduled player ``x`` with ``n_x`` earlier FP updates does

    pi_bar <- (1 - w) pi_bar + w BR,   w = 1 / (n_x + 2)

(the uniform start counts as the first term of the average), in probability space, written back as logits.

The best responses are learned from the same samples, off-policy, while the averaged policies act:

* follower: soft Q-learning for the entropy-regularised follower against ``(phi_bar, mu_hat)``,
  ``Q_f(s,a) <- r_f(s,a,b,mu_hat) + gamma tau log sum_a' exp(Q_f(s',a') / tau)``; ``BR_f = softmax(Q_f / tau)``;
* leader: Q-learning of the leader's MDP with the population frozen at ``(pi_bar, mu_hat)`` (the major player's
  best response of Cui et al.), ``Q_l(s,b) <- r_l(s,a,b,mu_hat) + gamma max_b' Q_l(s',b')`` (``a ~ pi_bar``);
  ``BR_l = argmax_b Q_l`` (one-hot), or ``softmax(Q_l / leader_temperature)`` when that is > 0;
* mean field: AC-SMFG's ``mu_hat <- Proj(mu_hat + xi (e_zbar - mu_hat))`` on the stationary chain, every
  iteration (it tracks the mean field that the averaged policies induce).

Both Q-functions learn on every iteration (one backward pass over the critic and mean-field losses, the
base's groups ``critic`` and ``mean_field``); the policies change only at FP boundaries (:meth:`after_step`).

Reconstruction choices and limits:

* Cui et al. compute exact best responses by dynamic programming on a finite-horizon model over a discretised
  mean field; here they are learned from samples, like every other sampled learner's, so the sample counts
  compare. ``Q_f`` and ``Q_l`` are warm-started across FP iterations (never reset).
* Their ``sfp`` updates the major player at FP iteration 0 first; here the leader's update ends each cycle,
  after the lower level's updates (as OneByOne's does).
* The leader's best response treats the population as frozen: like the partial gradient, it does not see how
  the followers answer it (docs/model.md section 5).
* Averaging is done on policy tables: ``model.policy`` must be ``tabular`` (critics may be MLPs).
* No state-value critics (``agents().critic_f`` is None): the shared transition then computes no values.
* The policies are parameters the optimisers never see (their FP averages are written in :meth:`after_step`);
  under DDP every rank averages towards the same all-reduced Q-functions, so the ranks stay identical.

Samples: ``N`` per chain per iteration; no model access. ``iteration x n_envs`` is the honest count.
"""

from __future__ import annotations

import torch

from ..games.base import FiniteGame
from ..modules import build_action_critic
from .base import SampledLearner
from .kinds import Agents, ModelSpec
from .supports import Supports


class CuiKoeppl(SampledLearner):
    GROUPS = ("critic", "mean_field")
    ALGO = "cui_koeppl"
    SUPPORTS = Supports(continuous=False, nash=False, reward_centering=False, policies=("tabular",))  # averages tables

    def __init__(self, game: FiniteGame, model: ModelSpec | None = None, *, step_sizes, br_iterations: int = 50,
                 inner_per_outer: int = 9, leader_temperature: float = 0.0, **learner):
        model = ModelSpec() if model is None else model
        if br_iterations < 1 or inner_per_outer < 1 or leader_temperature < 0:
            raise ValueError(f"cui_koeppl needs br_iterations >= 1, inner_per_outer >= 1, leader_temperature >= 0; "
                             f"got {br_iterations}, {inner_per_outer}, {leader_temperature}")
        super().__init__(game, model, step_sizes, **learner)
        # the kind's state-value critics are built (their draws keep the modules' initialisation as it was) and dropped:
        # Cui-Koeppl learns action values q_f, q_l
        self.follower, self.leader, _, _, self.mean_field = self.kind.modules(model)
        S, coords = game.n_states, game.state_coords
        self.q_f = build_action_critic(model.critic, S, game.n_actions, model.hidden, coords)
        self.q_l = build_action_critic(model.critic, S, game.n_leader_actions, model.hidden, coords)
        self.br_iterations, self.inner_per_outer = int(br_iterations), int(inner_per_outer)
        self.leader_temperature = float(leader_temperature)
        for module in (self.follower, self.leader):  # moved by averaging only: no gradient reaches them
            module.requires_grad_(False)

    def agents(self) -> Agents:
        """No state-value critics: Cui-Koeppl learns action values (q_f, q_l), which evaluation does not read."""
        return Agents(self.follower, self.leader, self.mean_field)

    def parameter_groups(self) -> dict[str, list]:
        return {"critic": list(self.q_f.parameters()) + list(self.q_l.parameters()),
                "mean_field": list(self.mean_field.parameters())}

    def losses(self) -> dict[str, torch.Tensor]:
        t = self.transition()
        tau, gamma = self.game.tau, self.game.gamma
        states = torch.arange(self.game.n_states, device=t.s.device)
        q_f, q_l = self.q_f(states), self.q_l(states)  # [S, A], [S, B]
        with torch.no_grad():
            target_f = t.r_f + gamma * tau * torch.logsumexp(q_f[t.s_next] / tau, -1)
            target_l = t.r_l + gamma * self._leader_value(q_l[t.s_next])
        critic = 0.5 * ((q_f[t.s, t.a] - target_f) ** 2).mean() + 0.5 * ((q_l[t.s, t.b] - target_l) ** 2).mean()
        return {"critic": critic, "mean_field": self.mean_field.loss(t.z_bar)}

    def _leader_value(self, q: torch.Tensor) -> torch.Tensor:
        temp = self.leader_temperature
        return q.max(-1).values if temp == 0 else temp * torch.logsumexp(q / temp, -1)

    # ----- fictitious play ---------------------------------------------------------------------------
    def fp_counts(self, j: int) -> tuple[int, int]:
        """``(follower, leader)`` FP updates made before FP iteration ``j``."""
        cycle, r = divmod(j, self.inner_per_outer + 1)
        return cycle * self.inner_per_outer + min(r, self.inner_per_outer), cycle

    def leader_updates(self) -> int:
        return self.fp_counts(int(self.iteration) // self.br_iterations)[1]

    @torch.no_grad()
    def after_step(self) -> None:
        self.mean_field.project_()
        done = int(self.iteration) + 1  # iterations done, this one included (the base increments after this)
        if done % self.br_iterations:
            return
        j = done // self.br_iterations - 1
        n_f, n_l = self.fp_counts(j)
        states = torch.arange(self.game.n_states, device=self.iteration.device)
        if j % (self.inner_per_outer + 1) == self.inner_per_outer:  # the leader's turn
            q = self.q_l(states)
            br = (torch.nn.functional.one_hot(q.argmax(-1), q.shape[-1]).to(q) if self.leader_temperature == 0
                  else torch.softmax(q / self.leader_temperature, -1))
            _average_into(self.leader.theta, br, 1.0 / (n_l + 2))
        else:
            _average_into(self.follower.theta, torch.softmax(self.q_f(states) / self.game.tau, -1), 1.0 / (n_f + 2))


def _average_into(logits: torch.nn.Parameter, br: torch.Tensor, w: float) -> None:
    """``logits <- log((1 - w) softmax(logits) + w br)`` row by row (a mixture of probabilities)."""
    mixed = (1 - w) * torch.softmax(logits, -1) + w * br.to(logits)
    logits.copy_(torch.log(mixed.clamp_min(torch.finfo(logits.dtype).tiny)))
