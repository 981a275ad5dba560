"""A TorchRL env over a continuous game: ``N`` batched entries of the two chains (see :mod:`.chains`).

Keys as in :class:`~deep_smfg.envs.SMFGEnv`, with points instead of indices: ``state``, ``state_bar``
``[N, ds]``; ``action``, ``action_bar`` ``[N, da]``; ``leader_action``, ``leader_action_bar`` ``[N, db]``;
``z_bar`` ``[N, dz]``; ``mean_field`` ``[N, dz]`` (the mean-field estimate's mean ``m``, which the rewards read).
A game that reads the mean field's density (the crowd) also needs its log density (:meth:`set_log_density`).
"""

from __future__ import annotations

from typing import Callable

import torch
from tensordict import TensorDictBase
from torchrl.data import Bounded, Composite, Unbounded

from ..games.continuous import ContinuousGame
from .chains import TwoChainEnv, split_chains, stack_chains


class ContinuousSMFGEnv(TwoChainEnv):
    def __init__(
        self,
        game: ContinuousGame,
        n_envs: int = 1,
        occupancy_restart: bool = True,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
    ):
        super().__init__(n_envs, occupancy_restart, game.gamma, device, dtype, seed)
        self.game = game
        N, kw = n_envs, dict(dtype=dtype, device=self.device)
        low, high = game.z_space.tensors(**kw)
        self.set_mean_field((low + high) / 2)
        self._log_density: Callable[[torch.Tensor], torch.Tensor] | None = None

        def box(space):
            return Bounded(torch.tensor(space.low, **kw).expand(N, -1), torch.tensor(space.high, **kw).expand(N, -1),
                           shape=(N, space.dim), **kw)

        self.observation_spec = Composite(
            state=box(game.state_space), state_bar=box(game.state_space),
            z_bar=Unbounded(shape=(N, game.z_dim), **kw), mean_field=Unbounded(shape=(N, game.z_dim), **kw), shape=(N,),
        )
        self.action_spec = Composite(
            action=box(game.action_space), leader_action=box(game.leader_action_space),
            action_bar=box(game.action_space), leader_action_bar=box(game.leader_action_space), shape=(N,),
        )
        self._set_reward_and_done_specs()

    def set_log_density(self, log_density: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """The mean-field estimate's ``log p_mu(z)``, which the follower's reward reads when the game reads the
        density (set by the learner with the mean field; evaluated without gradients)."""
        self._log_density = log_density

    def _draw_initial(self, n: int) -> torch.Tensor:
        return self.game.initial_state(n, self.rng, torch.empty(0, dtype=self.dtype_, device=self.device))

    def _initial_z(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.game.z_dim, dtype=self.dtype_, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        g, m = self.game, self._mean_field
        s, a, b = tensordict["state"], tensordict["action"], tensordict["leader_action"]
        sb, ab, bb = tensordict["state_bar"], tensordict["action_bar"], tensordict["leader_action_bar"]
        both = stack_chains(s, sb), stack_chains(a, ab), stack_chains(b, bb)
        s_next, sb_next = split_chains(g.sample_next_state(*both, m, self.rng))  # one noise draw for both chains
        r_f = g.follower_reward(s, a, b, m, self._log_density)
        return self._next_td(s_next, sb_next, g.contribution(sb, ab, bb), r_f, g.reward_l(s, a, b, m))
