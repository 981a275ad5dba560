"""What every SMFG environment shares: ``N`` batched entries, each carrying two chains (docs/ac_smfg.md).

* the **occupancy chain** ``s``: ``a ~ pi(.|s)``, ``b ~ phi(.|s)``, ``s' ~ P(.|s,a,b,mu_hat)``. With
  ``occupancy_restart`` (default on, a reconstruction) each step is *truncated* with probability
  ``1 - gamma`` and the chain restarts from ``rho``, so its states sample the discounted occupancy
  measure. Truncation (not termination) means the TD targets still bootstrap on the real ``s'``
  (``("next", "state")``); TorchRL's partial reset then redraws ``s`` from ``rho``.
* the **stationary chain** ``sbar``: the same step, never restarted; it emits
  ``zbar = g(sbar, abar, bbar)``, the sample that drives the mean-field estimate.

The mean-field estimate is set by the learner (:meth:`set_mean_field`) and appears in the tensordict
as ``"mean_field"`` (an expanded ``[N, .]`` view of one vector: ``mu_hat`` for a finite game, the
Gaussian's mean for a continuous one). Subclasses draw initial states and make the step.

Both chains move in one batched call: tensors that hold both carry the rows ``[occupancy; stationary]``
(:func:`stack_chains`, :func:`split_chains`), the one place that convention is written.
"""

from __future__ import annotations

import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

CHAIN_KEYS = ("state", "state_bar", "z_bar")


def stack_chains(occupancy: torch.Tensor, stationary: torch.Tensor) -> torch.Tensor:
    """Rows ``[occupancy; stationary]``: both chains in one batch."""
    return torch.cat([occupancy, stationary])


def split_chains(both: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`stack_chains`: ``(occupancy rows, stationary rows)``."""
    n = both.shape[0] // 2
    return both[:n], both[n:]


class TwoChainEnv(EnvBase):
    def __init__(self, n_envs: int, occupancy_restart: bool, gamma: float, device, dtype: torch.dtype, seed: int):
        super().__init__(device=device, batch_size=torch.Size([n_envs]))
        self.n_envs, self.occupancy_restart, self.gamma, self.dtype_ = n_envs, occupancy_restart, gamma, dtype
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(seed)
        self._chains: dict[str, torch.Tensor] | None = None
        self._mean_field: torch.Tensor | None = None

    def _set_reward_and_done_specs(self) -> None:
        """``reward_f``, ``reward_l`` ``[N, 1]`` and the ``done``/``terminated``/``truncated`` flags (shared)."""
        N, kw = self.n_envs, dict(dtype=self.dtype_, device=self.device)
        self.reward_spec = Composite(reward_f=Unbounded(shape=(N, 1), **kw), reward_l=Unbounded(shape=(N, 1), **kw),
                                     shape=(N,))
        flag = lambda: Categorical(2, shape=(N, 1), dtype=torch.bool, device=self.device)  # noqa: E731
        self.done_spec = Composite(done=flag(), terminated=flag(), truncated=flag(), shape=(N,))

    # ----- what a subclass provides ----------------------------------------------------------------
    def _draw_initial(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    def _initial_z(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    # ----- the mean-field estimate, set by the learner -------------------------------------------
    def set_mean_field(self, mu: torch.Tensor) -> None:
        self._mean_field = mu.detach().to(device=self.device, dtype=self.dtype_)

    @property
    def mean_field(self) -> torch.Tensor:
        return self._mean_field

    # ----- EnvBase ---------------------------------------------------------------------------------
    def _reset(self, tensordict: TensorDictBase | None, **kwargs) -> TensorDictBase:
        """Full reset, or (with ``"_reset"``) restart the occupancy chain of the flagged entries.

        TorchRL hands ``_reset`` only the flags, so the env keeps its chains' last states itself; a
        partial reset leaves the stationary chain untouched.
        """
        N = self.n_envs
        fresh = self._draw_initial(N)
        if tensordict is not None and "_reset" in tensordict.keys() and self._chains is not None:
            mask = tensordict["_reset"].reshape((N,) + (1,) * (fresh.ndim - 1))
            self._chains["state"] = torch.where(mask, fresh, self._chains["state"])
        else:
            self._chains = {"state": fresh, "state_bar": self._draw_initial(N), "z_bar": self._initial_z(N)}
        false = torch.zeros(N, 1, dtype=torch.bool, device=self.device)
        return TensorDict(
            **self._chains, mean_field=self._mean_field.expand(N, -1),
            done=false, terminated=false.clone(), truncated=false.clone(),
            batch_size=self.batch_size, device=self.device,
        )

    def _truncations(self) -> torch.Tensor:
        """``[N, 1]`` flags: restart the occupancy chain w.p. ``1 - gamma`` (if ``occupancy_restart``)."""
        N = self.n_envs
        if self.occupancy_restart:
            return torch.rand(N, 1, generator=self.rng, device=self.device) > self.gamma
        return torch.zeros(N, 1, dtype=torch.bool, device=self.device)

    def _next_td(self, s_next, sb_next, z_bar, r_f, r_l) -> TensorDict:
        truncated = self._truncations()
        self._chains = {"state": s_next, "state_bar": sb_next, "z_bar": z_bar}
        return TensorDict(
            state=s_next, state_bar=sb_next, z_bar=z_bar, mean_field=self._mean_field.expand(self.n_envs, -1),
            reward_f=r_f.unsqueeze(-1), reward_l=r_l.unsqueeze(-1),
            done=truncated.clone(), terminated=torch.zeros_like(truncated), truncated=truncated,
            batch_size=self.batch_size, device=self.device,
        )

    def act(self, td: TensorDictBase, actions: torch.Tensor,
            leader_actions: torch.Tensor) -> tuple[TensorDictBase, TensorDictBase]:
        """Step both chains with actions in rows ``[occupancy; stationary]``; returns ``(transition, next root)``."""
        a, a_bar = split_chains(actions)
        b, b_bar = split_chains(leader_actions)
        td = td.clone(False)
        td.set("action", a).set("leader_action", b).set("action_bar", a_bar).set("leader_action_bar", b_bar)
        return self.step_and_maybe_reset(td)

    def chain_state(self) -> dict[str, torch.Tensor] | None:
        """The chains' current states and the sampler's RNG state (for checkpoints)."""
        if self._chains is None:
            return None
        return {**{k: v.clone() for k, v in self._chains.items()}, "rng": self.rng.get_state()}

    def load_chain_state(self, state: dict[str, torch.Tensor]) -> TensorDict:
        """Restore :meth:`chain_state`; returns the root tensordict to step from."""
        self.rng.set_state(state["rng"])
        self._chains = {k: state[k].to(self.device) for k in CHAIN_KEYS}
        return TensorDict(**self._chains, batch_size=self.batch_size, device=self.device)

    def _set_seed(self, seed: int | None) -> None:
        if seed is not None:
            self.rng.manual_seed(seed)
