"""A TorchRL ``EnvBase`` over any finite game: ``N`` batched follower chains on one device.

Each of the ``N`` entries carries two chains (MODEL.md section 3):

* the **occupancy chain** ``s``: ``a ~ pi(.|s)``, ``b ~ phi(.|s)``, ``s' ~ P(.|s,a,b,mu_hat)``. With
  ``occupancy_restart`` (default on, a reconstruction) each step is *truncated* with probability
  ``1 - gamma`` and the chain restarts from ``rho``, so its states sample the discounted occupancy
  measure. Truncation (not termination) means the TD targets still bootstrap on the real ``s'``
  (``("next", "state")``); TorchRL's partial reset then redraws ``s`` from ``rho``.
* the **stationary chain** ``sbar``: the same step, never restarted; it emits
  ``zbar = g(sbar, abar, bbar)``, the sample that drives the mean-field estimate.

The mean-field estimate ``mu_hat`` is set by the learner (:meth:`set_mean_field`) and appears in
the tensordict as ``"mean_field"`` (an expanded ``[N, Z]`` view of one vector).

Keys: actions ``action``, ``leader_action`` (occupancy chain), ``action_bar``, ``leader_action_bar``
(stationary chain); observations ``state``, ``state_bar``, ``mean_field``, ``z_bar``; rewards
``reward_f``, ``reward_l`` (at ``(s, a, b, mu_hat)``).
"""

from __future__ import annotations

import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

from ..games.base import FiniteGame, sample_categorical


class SMFGEnv(EnvBase):
    def __init__(
        self,
        game: FiniteGame,
        n_envs: int = 1,
        occupancy_restart: bool = True,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
    ):
        super().__init__(device=device, batch_size=torch.Size([n_envs]))
        self.game, self.n_envs, self.occupancy_restart, self.dtype_ = game, n_envs, occupancy_restart, dtype
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(seed)
        self._mean_field = game.uniform_mean_field(dtype, self.device)
        self._rho = game.rho.to(device=self.device, dtype=dtype)
        self._P = game.transition_tensor(self._mean_field)  # refreshed when P reads mu
        self._chains: dict[str, torch.Tensor] | None = None
        S, A, B, Z, N = game.n_states, game.n_actions, game.n_leader_actions, game.n_z, n_envs
        cat = lambda n: Categorical(n, shape=(N,), device=self.device)  # noqa: E731
        self.observation_spec = Composite(
            state=cat(S), state_bar=cat(S), z_bar=cat(Z),
            mean_field=Bounded(0.0, 1.0, shape=(N, Z), dtype=dtype, device=self.device),
            shape=(N,),
        )
        self.action_spec = Composite(action=cat(A), leader_action=cat(B), action_bar=cat(A), leader_action_bar=cat(B), shape=(N,))
        self.reward_spec = Composite(
            reward_f=Unbounded(shape=(N, 1), dtype=dtype, device=self.device),
            reward_l=Unbounded(shape=(N, 1), dtype=dtype, device=self.device),
            shape=(N,),
        )
        flag = lambda: Categorical(2, shape=(N, 1), dtype=torch.bool, device=self.device)  # noqa: E731
        self.done_spec = Composite(done=flag(), terminated=flag(), truncated=flag(), shape=(N,))

    # ----- the mean-field estimate, set by the learner -------------------------------------------
    def set_mean_field(self, mu: torch.Tensor) -> None:
        self._mean_field = mu.detach().to(device=self.device, dtype=self.dtype_)
        if self.game.transition_depends_on_mu:
            self._P = self.game.transition_tensor(self._mean_field)

    @property
    def mean_field(self) -> torch.Tensor:
        return self._mean_field

    # ----- EnvBase ---------------------------------------------------------------------------------
    def _draw_initial(self, n: int) -> torch.Tensor:
        return sample_categorical(self._rho.expand(n, -1), self.rng)

    def _reset(self, tensordict: TensorDictBase | None, **kwargs) -> TensorDictBase:
        """Full reset, or (with ``"_reset"``) restart the occupancy chain of the flagged entries.

        TorchRL hands ``_reset`` only the flags, so the env keeps its chains' last states itself; a
        partial reset leaves the stationary chain untouched.
        """
        N = self.n_envs
        fresh = self._draw_initial(N)
        if tensordict is not None and "_reset" in tensordict.keys() and self._chains is not None:
            mask = tensordict["_reset"].reshape(N)
            self._chains["state"] = torch.where(mask, fresh, self._chains["state"])
        else:
            self._chains = {
                "state": fresh,
                "state_bar": self._draw_initial(N),
                "z_bar": torch.zeros(N, dtype=torch.long, device=self.device),
            }
        false = torch.zeros(N, 1, dtype=torch.bool, device=self.device)
        return TensorDict(
            **self._chains, mean_field=self._mean_field.expand(N, -1),
            done=false, terminated=false.clone(), truncated=false.clone(), batch_size=self.batch_size, device=self.device,
        )

    def chain_state(self) -> dict[str, torch.Tensor]:
        """The chains' current states and the sampler's RNG state (for checkpoints)."""
        return {**{k: v.clone() for k, v in self._chains.items()}, "rng": self.rng.get_state()}

    def load_chain_state(self, state: dict[str, torch.Tensor]) -> TensorDict:
        """Restore :meth:`chain_state`; returns the root tensordict to step from."""
        self.rng.set_state(state["rng"])
        self._chains = {k: state[k].to(self.device) for k in ("state", "state_bar", "z_bar")}
        return TensorDict(**self._chains, batch_size=self.batch_size, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        g, mu, N = self.game, self._mean_field, self.n_envs
        s, a, b = tensordict["state"], tensordict["action"], tensordict["leader_action"]
        sb, ab, bb = tensordict["state_bar"], tensordict["action_bar"], tensordict["leader_action_bar"]
        P = self._P  # in the env's dtype, like mu (set_mean_field casts)
        # one draw for both chains: rows [s; sbar]
        nxt = sample_categorical(torch.cat([P[s, a, b], P[sb, ab, bb]]), self.rng)
        s_next, sb_next = nxt[:N], nxt[N:]
        r_f = g.reward_f_tensor(mu)[s, a, b]
        r_l = g.reward_l_tensor(mu)[s, a, b]
        z_bar = g.sample_z(sb, ab, bb, self.rng)
        if self.occupancy_restart:
            truncated = torch.rand(N, 1, generator=self.rng, device=self.device) > g.gamma
        else:
            truncated = torch.zeros(N, 1, dtype=torch.bool, device=self.device)
        self._chains = {"state": s_next, "state_bar": sb_next, "z_bar": z_bar}
        return TensorDict(
            state=s_next, state_bar=sb_next, z_bar=z_bar, mean_field=mu.expand(N, -1),
            reward_f=r_f.unsqueeze(-1), reward_l=r_l.unsqueeze(-1),
            done=truncated.clone(), terminated=torch.zeros_like(truncated), truncated=truncated,
            batch_size=self.batch_size, device=self.device,
        )

    def _set_seed(self, seed: int | None) -> None:
        if seed is not None:
            self.rng.manual_seed(seed)

