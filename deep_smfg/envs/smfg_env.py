"""A TorchRL env over any finite game: ``N`` batched entries of the two chains (see :mod:`.chains`).

Keys: actions ``action``, ``leader_action`` (occupancy chain), ``action_bar``, ``leader_action_bar``
(stationary chain), all indices; observations ``state``, ``state_bar``, ``z_bar`` (indices) and
``mean_field`` (``mu_hat``); rewards ``reward_f``, ``reward_l`` at ``(s, a, b, mu_hat)``.
"""

from __future__ import annotations

import torch
from tensordict import TensorDictBase
from torchrl.data import Bounded, Categorical, Composite

from ..games.base import FiniteGame, draws_from_cdf, sample_from_cdf
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
        self._rho_cdf = game.rho.to(device=self.device, dtype=dtype).cumsum(-1)
        # the CDFs of P(. | s, a, b) at the current mean field, rows s * |A| |B| + a |B| + b (refreshed when P reads
        # mu): a draw gathers one row per sample instead of summing a gathered [2N, |S|] block each step
        self._P_cdf: torch.Tensor | None = None
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
        if self._P_cdf is None or self.game.transition_depends_on_mu:
            self._P_cdf = self.game.transition_tensor(self._mean_field).cumsum(-1).reshape(-1, self.game.n_states)

    def _rows(self, s: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The flat index ``s |A| |B| + a |B| + b`` of ``(s, a, b)`` (rows of ``_P_cdf``, entries of a flat reward)."""
        return (s * self.game.n_actions + a) * self.game.n_leader_actions + b

    def _draw_initial(self, n: int) -> torch.Tensor:
        return draws_from_cdf(self._rho_cdf, n, self.rng)

    def _initial_z(self, n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.long, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        g, mu = self.game, self._mean_field
        s, a, b = tensordict["state"], tensordict["action"], tensordict["leader_action"]
        sb, ab, bb = tensordict["state_bar"], tensordict["action_bar"], tensordict["leader_action_bar"]
        rows = self._rows(s, a, b)
        s_next, sb_next = split_chains(  # one draw for both chains; the CDFs are in the env's dtype, like mu
            sample_from_cdf(self._P_cdf.index_select(0, stack_chains(rows, self._rows(sb, ab, bb))), self.rng))
        r_f = g.reward_f_tensor(mu).reshape(-1).index_select(0, rows)
        r_l = g.reward_l_tensor(mu).reshape(-1).index_select(0, rows)
        z_bar = g.sample_z(sb, ab, bb, self.rng)
        return self._next_td(s_next, sb_next, z_bar, r_f, r_l)
