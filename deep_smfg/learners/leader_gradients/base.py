"""What a leader-gradient estimator is: step 7 of docs/ac_smfg.md, and whatever it learns on the side.

An estimator is a module (its own critics, if any, are its submodules, so they move with the learner and are
saved in its checkpoints). Per iteration :meth:`LeaderGradient.losses` returns one loss per learner group it
touches: ``"leader"`` always, a scalar whose gradient in the leader's parameters is minus the estimated ascent
direction of the leader objective (targets detached, so the learner's single backward pass stays exact), and
losses for its own parameters in the groups :meth:`parameter_groups` puts them in (their step sizes are those
groups' schedules). ``t`` is the iteration's :class:`~deep_smfg.learners.kinds.Transition`; ``delta_f`` and
``delta_l`` the follower's and the leader critic's TD errors at it (detached). State that travels with the chains
(traces) is returned by :meth:`chain_state` and restored by :meth:`load_chain_state`.

An estimator that a game or a config cannot support raises ``ValueError`` in its constructor, saying why.
Every estimator is built as ``ESTIMATOR(game, model=ModelSpec, occupancy_restart=bool)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..kinds import Transition


class LeaderGradient(nn.Module):
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{learner group: parameters}`` of what the estimator learns itself (none by default)."""
        return {}

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def chain_state(self) -> dict[str, Tensor] | None:
        """Per-chain state to checkpoint with the chains (none by default)."""
        return None

    def load_chain_state(self, state: dict[str, Tensor] | None) -> None:
        """Restore :meth:`chain_state`."""
