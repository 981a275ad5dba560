"""A TorchRL env over any finite game: ``N`` batched entries of the two chains (see :mod:`.chains`).

Keys: actions ``action``, ``leader_action`` (occupancy chain), ``action_bar``, ``leader_action_bar``
(stationary chain), all indices; observations ``state``, ``state_bar``, ``z_bar`` (indices) and
``mean_field`` (``mu_hat``); rewards ``reward_f``, ``reward_l`` at ``(s, a, b, mu_hat)``.
"""

from __future__ import annotations

import torch
from tensordict import TensorDictBase
from torchrl.data import Bounded, Categorical, Composite

from ..games.base import FiniteGame, sample_categorical
from .chains import TwoChainEnv, split_chains, stack_chains


class SMFGEnv(TwoChainEnv):
    def __init__(
        self,
        game: FiniteGame,
        n_envs: int = 1,
        occupancy_restart: bool = True,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
    ):
        super().__init__(n_envs, occupancy_restart, game.gamma, device, dtype, seed)
        self.game = game
        self._rho = game.rho.to(device=self.device, dtype=dtype)
        self._P: torch.Tensor | None = None  # P[s, a, b, s'] at the current mean field (refreshed when P reads mu)
        self.set_mean_field(game.uniform_mean_field(dtype, self.device))
        S, A, B, Z, N = game.n_states, game.n_actions, game.n_leader_actions, game.n_z, n_envs
        cat = lambda n: Categorical(n, shape=(N,), device=self.device)  # noqa: E731
        self.observation_spec = Composite(
            state=cat(S), state_bar=cat(S), z_bar=cat(Z),
            mean_field=Bounded(0.0, 1.0, shape=(N, Z), dtype=dtype, device=self.device),
            shape=(N,),
        )
        self.action_spec = Composite(action=cat(A), leader_action=cat(B), action_bar=cat(A), leader_action_bar=cat(B),
                                     shape=(N,))
        self._set_reward_and_done_specs()

    def set_mean_field(self, mu: torch.Tensor) -> None:
        super().set_mean_field(mu)
        if self._P is None or self.game.transition_depends_on_mu:
            self._P = self.game.transition_tensor(self._mean_field)

    def _draw_initial(self, n: int) -> torch.Tensor:
        return sample_categorical(self._rho.expand(n, -1), self.rng)

    def _initial_z(self, n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.long, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        g, mu = self.game, self._mean_field
        s, a, b = tensordict["state"], tensordict["action"], tensordict["leader_action"]
        sb, ab, bb = tensordict["state_bar"], tensordict["action_bar"], tensordict["leader_action_bar"]
        P = self._P  # in the env's dtype, like mu (set_mean_field casts)
        s_next, sb_next = split_chains(
            sample_categorical(stack_chains(P[s, a, b], P[sb, ab, bb]), self.rng))  # one draw
        r_f = g.reward_f_tensor(mu)[s, a, b]
        r_l = g.reward_l_tensor(mu)[s, a, b]
        z_bar = g.sample_z(sb, ab, bb, self.rng)
        return self._next_td(s_next, sb_next, z_bar, r_f, r_l)
