"""ADAGE (Evans et al. 2025), the AC-SMFG paper's baseline with a follower that sees the leader's action,
reconstructed on AC-SMFG's updates (docs/model.md sections 1 and 4).

Within a period the leader moves first: ``b ~ phi(.|s)``, then the follower, who sees it, ``a ~ pi(.|s, b)``,
then ``s' ~ P(.|s, a, b, mu_hat)``. Two layers, updated by alternating gradient steps (no timescale separation):
``inner_iterations`` iterations of the follower layer (critics, conditioned follower, mean field) and then
``leader_iterations`` iterations of the leader layer, and again (the schedule of
:class:`~deep_smfg.learners.one_by_one.OneByOne`, with short rounds: 1 and 1 by default). The updates are
AC-SMFG's with the conditioned follower:

* ``delta_f = r_f - tau log pi(a|s,b) + gamma V_f(s') - V_f(s, b)``, with the follower critic on ``(s, b)`` and
  ``V_f(s') = sum_b' phi(b'|s') V_f(s', b')`` (the expectation over the next leader action, from the tables);
* follower ``theta += alpha delta_f grad log pi(a|s,b)``; critics, mean field as in AC-SMFG;
* leader ``omega += zeta delta_l grad log phi(b|s)`` (``algo.leader_gradient: partial``): since ``a`` was drawn
  after ``b``, the leader's policy gradient now carries the follower's within-period answer to ``b`` (the
  follower frozen as a function of ``b``); the mean field's answer it still does not see.

What the evaluation reads (the same exact evaluator as every finite learner, through ``agents()``): the follower is the
*marginal* follower ``pi(a|s) = sum_b phi(b|s) pi(a|s,b)`` (:class:`MarginalFollower`, a view on the conditioned
policy and the leader), then the leader and the learned mean field. The
evaluator's game is the one every learner is measured in, where followers do not see ``b``: ``Phi(phi)`` is the
leader's objective there, and exploitability and mean-field error are those of the marginal follower. ADAGE
therefore learns in a richer game than it is scored in; its leader is a policy of the common game and is
scored exactly like the others. (The exact solvers do not implement the conditioned game.)

Samples: ``N`` per chain per iteration, as AC-SMFG; the expectation over ``b'`` in the TD target reads the
leader's table, not the model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..envs import stack_chains
from ..games.base import FiniteGame, sample_from_cdf
from ..modules import build_critic, build_policy
from .kinds import FiniteKind, ModelSpec, Transition, env_step
from .one_by_one import OneByOne
from .supports import Supports


class MarginalFollower(nn.Module):
    """``logits(s) = log sum_b phi(b|s) pi(a|s,b)``: the follower as someone who does not see ``b`` sees it.

    Its parameters are the conditioned policy's (the leader is held by reference, not as a submodule)."""

    def __init__(self, conditioned: nn.Module, leader: nn.Module, n_states: int, n_leader_actions: int):
        super().__init__()
        self.conditioned = conditioned
        self._leader = (leader,)  # a tuple: not registered, so the follower's parameters are only its own
        self.n_states, self.n_leader_actions = n_states, n_leader_actions

    def log_probs(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """``(log phi(.|s) [N, B], log pi(.|s, .) [N, B, A])``."""
        B = self.n_leader_actions
        logp_l = torch.log_softmax(self._leader[0](s), -1)
        sb = s[:, None] * B + torch.arange(B, device=s.device)
        return logp_l, torch.log_softmax(self.conditioned(sb.reshape(-1)), -1).reshape(s.shape[0], B, -1)

    def forward(self, s: Tensor) -> Tensor:
        logp_l, logp_f = self.log_probs(s)
        return torch.logsumexp(logp_l[..., None] + logp_f, dim=1)


class ConditionedKind(FiniteKind):
    """Finite games where the follower draws after seeing ``b``: ``critic_f`` maps ``s * B + b``."""

    def modules(self, model: ModelSpec):
        game = self.game
        S, A, B = game.n_states, game.n_actions, game.n_leader_actions
        coords = None if game.state_coords is None else game.state_coords.repeat_interleave(B, 0)
        _, leader, _, critic_l, mean_field = super().modules(model)
        follower = MarginalFollower(build_policy(model.policy, S * B, A, model.hidden, coords), leader, S, B)
        return follower, leader, build_critic(model.critic, S * B, model.hidden, coords), critic_l, mean_field

    def transition(self, agents, env, td):
        game = self.game
        B = game.n_leader_actions
        env.set_mean_field(agents.mean_field())
        states = torch.arange(game.n_states, device=env.device)
        logp_l, logp_f = agents.follower.log_probs(states)  # [S, B], [S, B, A]
        v_fb = agents.critic_f(torch.arange(game.n_states * B, device=env.device)).reshape(-1, B)  # [S, B]
        v_l = agents.critic_l(states)
        both = stack_chains(td["state"], td["state_bar"])
        with torch.no_grad():
            b = sample_from_cdf(logp_l.exp().cumsum(-1)[both], env.rng)
            a = sample_from_cdf(logp_f.exp().cumsum(-1)[both, b], env.rng)
            v_f_state = (logp_l.exp() * v_fb).sum(-1)  # V_f(s) = E_phi V_f(s, b)
        out, root = env.act(td, a, b)
        step = env_step(td, out, a, b)
        s, a, b, s_next = step["s"], step["a"], step["b"], step["s_next"]
        return Transition(
            **step, logp_f=logp_f[s, b, a], logp_l=logp_l[s, b], v_f=v_fb[s, b], v_l=v_l[s],
            v_f_next=v_f_state[s_next], v_l_next=v_l[s_next].detach(),
        ), root


class ADAGE(OneByOne):
    ALGO = "adage"
    SUPPORTS = Supports(continuous=False, nash=False, reward_centering=False)  # a conditioned tabular follower
    def __init__(self, game: FiniteGame, model: ModelSpec | None = None, *, step_sizes,
                 inner_iterations: int = 1, leader_iterations: int = 1, leader_gradient: str = "partial", **learner):
        if leader_gradient == "total_sampled":
            raise ValueError("algo.leader_gradient=total_sampled reads an unconditioned follower and its critic; "
                             "adage works with partial (the paper's) and total_exact")
        super().__init__(game, model, step_sizes=step_sizes, inner_iterations=inner_iterations,
                         leader_iterations=leader_iterations, leader_gradient=leader_gradient, **learner)
        # the conditioned modules: the base built them with FiniteKind; rebuild the follower side
        self.kind = ConditionedKind(game)
        self.follower, self.leader, self.critic_f, self.critic_l, self.mean_field = self.kind.modules(self.model_spec)
