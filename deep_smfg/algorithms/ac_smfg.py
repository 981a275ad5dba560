"""AC-SMFG (the AC-SMFG paper's Algorithm 1, reconstructed in MODEL.md section 3) as a LightningModule.

One iteration ``k`` on ``N`` batched chains (per process):

1. occupancy chain: ``a ~ pi(.|s)``, ``b ~ phi(.|s)``, ``s' ~ P(.|s,a,b,mu_hat)`` (restart w.p. ``1 - gamma``);
2. stationary chain: the same step from ``sbar``; ``zbar = g(sbar, abar, bbar)``;
3. ``delta_f = r_f - tau log pi(a|s) + gamma V_f(s') - V_f(s)``, ``delta_l = r_l + gamma V_l(s') - V_l(s)``;
4. critics ``V += beta_k delta`` (semi-gradient TD(0): SGD on ``1/2 (V(s) - target)^2``);
5. follower ``theta += alpha_k delta_f grad log pi(a|s)``;
6. mean field ``mu_hat <- Proj(mu_hat + xi_k (e_zbar - mu_hat))`` (SGD on ``1/2 ||mu_hat - e_zbar||^2``);
   Gaussian (continuous games): ``m += xi_k (zbar - m)``, ``Sigma += xi_k ((zbar - m)(zbar - m)^T - Sigma)``;
7. leader ``omega += zeta_k delta_l grad log phi(b|s)``.

Every loss has detached targets and the four touch disjoint parameters, so one backward pass over
their sum followed by four optimiser steps is exact (and gives DDP one all-reduce per iteration).
Batches average the same updates over the ``N`` chains.

Finite games evaluate the modules once per iteration on the ``|S|`` state indices and index the tables
(:meth:`_finite_transition`); continuous games (squashed-Gaussian policies, MLP critics, a Gaussian
mean field) evaluate them per sample (:meth:`_continuous_transition`). Everything else is shared.
"""

from __future__ import annotations

import time

import lightning as L
import torch
from tensordict import TensorDict

from ..envs import ContinuousSMFGEnv, SMFGEnv
from ..games.base import FiniteGame, sample_from_cdf
from ..games.continuous import ContinuousGame
from ..modules import CategoricalMeanField, build_critic, build_policy, continuous_modules
from .schedules import DEFAULT_SCHEDULES, PowerSchedule, check_timescales


class NonFiniteError(RuntimeError):
    """A loss or parameter became NaN or infinite."""


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
GROUPS = ("critic", "follower", "mean_field", "leader")  # the four parameter groups, fastest to slowest


class ACSMFG(L.LightningModule):
    def __init__(
        self,
        game: FiniteGame | ContinuousGame,
        n_envs: int = 64,
        policy: str = "tabular",
        critic: str = "tabular",
        hidden: tuple[int, ...] = (64, 64),
        schedules: dict[str, PowerSchedule] | None = None,
        optimizer: str | dict[str, str] = "sgd",
        allow_any_step_order: bool = False,
        occupancy_restart: bool = True,
        iterations_per_step: int = 1,
        seed: int = 0,
        eval_every: int = 0,
        log_every: int = 100,
        phi_star: float = float("nan"),
        init_log_std: float = 0.0,
        covariance: str = "diag",
        reference=None,
    ):
        super().__init__()
        self.automatic_optimization = False
        optimizers = optimizer if isinstance(optimizer, dict) else {name: optimizer for name in GROUPS}
        if set(optimizers) != set(GROUPS) or not set(optimizers.values()) <= set(OPTIMIZERS):
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, or one per group {list(GROUPS)}; got {optimizer!r}")
        if n_envs < 1 or iterations_per_step < 1:
            raise ValueError(f"n_envs and iterations_per_step must be >= 1, got {n_envs}, {iterations_per_step}")
        self.schedules = dict(schedules or DEFAULT_SCHEDULES)
        missing = set(GROUPS) - set(self.schedules)
        if missing:
            raise ValueError(f"schedules missing for {sorted(missing)}")
        check_timescales(self.schedules, allow_any_step_order, optimizers)
        self.game, self.n_envs, self.optimizer_names = game, n_envs, dict(optimizers)
        self.occupancy_restart, self.iterations_per_step, self.seed = occupancy_restart, iterations_per_step, seed
        self.eval_every, self.log_every, self.phi_star = eval_every, max(1, log_every), phi_star
        self.continuous = isinstance(game, ContinuousGame)
        self.module_kwargs = dict(policy=policy, critic=critic, hidden=tuple(hidden), init_log_std=init_log_std,
                                  covariance=covariance)  # what rebuilds the same modules
        if self.continuous:
            self.follower, self.leader, self.critic_f, self.critic_l, self.mean_field = continuous_modules(
                game, policy, critic, hidden, init_log_std, covariance)
        else:
            coords = game.state_coords
            S = game.n_states
            self.follower = build_policy(policy, S, game.n_actions, hidden, coords)
            self.leader = build_policy(policy, S, game.n_leader_actions, hidden, coords)
            self.critic_f = build_critic(critic, S, hidden, coords)
            self.critic_l = build_critic(critic, S, hidden, coords)
            self.mean_field = CategoricalMeanField(game.n_z)
        self.reference = reference  # continuous games: the discretised twin's exact answer (estimated metrics)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.env: SMFGEnv | ContinuousSMFGEnv | None = None
        self._td: TensorDict | None = None
        self._pending_chain_state = None
        self.history: list[dict[str, float]] = []  # exact metrics along the run (for plots, summary)
        self._wall_offset = 0.0
        self._t0 = None
        self._mu_warm = None

    # ----- set-up ------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        rank = self.trainer.global_rank if self._trainer is not None else 0
        dtype = next(self.parameters()).dtype
        env_class = ContinuousSMFGEnv if self.continuous else SMFGEnv
        self.env = env_class(self.game, self.n_envs, self.occupancy_restart, device=self.device, dtype=dtype,
                             seed=self.seed * 1000 + rank)  # each rank its own chains

    def configure_optimizers(self):
        groups = {
            "critic": list(self.critic_f.parameters()) + list(self.critic_l.parameters()),
            "follower": list(self.follower.parameters()),
            "mean_field": list(self.mean_field.parameters()),
            "leader": list(self.leader.parameters()),
        }
        return [OPTIMIZERS[self.optimizer_names[name]](groups[name], lr=self.schedules[name](0)) for name in GROUPS]

    def _root_td(self) -> TensorDict:
        if self._td is None:
            if self._pending_chain_state is not None:
                self._td = self.env.load_chain_state(self._pending_chain_state)
                self._pending_chain_state = None
            else:
                self._td = self.env.reset()
        return self._td

    # ----- one iteration -----------------------------------------------------------------------------
    def iteration_losses(self) -> dict[str, torch.Tensor]:
        """Steps 1-3 and the four losses of steps 4-7 (targets detached)."""
        t = self._continuous_transition() if self.continuous else self._finite_transition()
        with torch.no_grad():
            target_f = t["r_f"] - self.game.tau * t["logp_f"] + self.game.gamma * t["v_f_next"]
            target_l = t["r_l"] + self.game.gamma * t["v_l_next"]
            delta_f, delta_l = target_f - t["v_f"], target_l - t["v_l"]
        return {
            "critic": 0.5 * ((t["v_f"] - target_f) ** 2).mean() + 0.5 * ((t["v_l"] - target_l) ** 2).mean(),
            "follower": -(delta_f * t["logp_f"]).mean(),
            "mean_field": self.mean_field.loss(t["z_bar"]),
            "leader": -(delta_l * t["logp_l"]).mean(),
        }

    def _act_and_step(self, td: TensorDict, a: torch.Tensor, b: torch.Tensor) -> TensorDict:
        """Step 1-2: hand both chains' actions (rows ``[occupancy; stationary]``) to the env."""
        N = self.n_envs
        td = td.clone(False)
        td.set("action", a[:N]).set("leader_action", b[:N]).set("action_bar", a[N:]).set("leader_action_bar", b[N:])
        out, self._td = self.env.step_and_maybe_reset(td)
        return out

    def _finite_transition(self) -> dict[str, torch.Tensor]:
        game, env, N = self.game, self.env, self.n_envs
        td = self._root_td()
        env.set_mean_field(self.mean_field())
        # Every module is a function of the state index: evaluate it once on the |S| states and
        # index the tables (the same arithmetic as per-sample evaluation, far cheaper for N >> |S|).
        states = torch.arange(game.n_states, device=self.device)
        logp_f_table = torch.log_softmax(self.follower(states), -1)
        logp_l_table = torch.log_softmax(self.leader(states), -1)
        v_f_table, v_l_table = self.critic_f(states), self.critic_l(states)
        both = torch.cat([td["state"], td["state_bar"]])
        with torch.no_grad():
            a = sample_from_cdf(logp_f_table.exp().cumsum(-1)[both], env.rng)
            b = sample_from_cdf(logp_l_table.exp().cumsum(-1)[both], env.rng)
        out = self._act_and_step(td, a, b)
        s, s_next = td["state"], out["next", "state"]
        self.last_transition = {"s": s, "a": a[:N], "b": b[:N], "s_next": s_next, "z_bar": out["next", "z_bar"]}
        return {
            "r_f": out["next", "reward_f"].squeeze(-1), "r_l": out["next", "reward_l"].squeeze(-1),
            "logp_f": logp_f_table[s, a[:N]], "logp_l": logp_l_table[s, b[:N]],
            "v_f": v_f_table[s], "v_l": v_l_table[s],
            "v_f_next": v_f_table[s_next].detach(), "v_l_next": v_l_table[s_next].detach(),
            "z_bar": out["next", "z_bar"],
        }

    def _continuous_transition(self) -> dict[str, torch.Tensor]:
        """The same step with squashed-Gaussian policies (log-densities at the pre-squash draws)."""
        env, N = self.env, self.n_envs
        td = self._root_td()
        env.set_mean_field(self.mean_field())
        both = torch.cat([td["state"], td["state_bar"]])
        u_f, a = self.follower.sample(both, env.rng)
        u_l, b = self.leader.sample(both, env.rng)
        out = self._act_and_step(td, a, b)
        s, s_next = td["state"], out["next", "state"]
        v_f, v_l = self.critic_f(torch.cat([s, s_next])), self.critic_l(torch.cat([s, s_next]))
        return {
            "r_f": out["next", "reward_f"].squeeze(-1), "r_l": out["next", "reward_l"].squeeze(-1),
            "logp_f": self.follower.log_prob(s, u_f[:N]), "logp_l": self.leader.log_prob(s, u_l[:N]),
            "v_f": v_f[:N], "v_l": v_l[:N], "v_f_next": v_f[N:].detach(), "v_l_next": v_l[N:].detach(),
            "z_bar": out["next", "z_bar"],
        }

    def one_iteration(self) -> dict[str, torch.Tensor]:
        k = int(self.iteration)
        losses = self.iteration_losses()
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise NonFiniteError(self._nonfinite_message(k, {n: float(v.detach()) for n, v in losses.items()}))
        optimizers = self.optimizers()
        for opt in optimizers:
            opt.zero_grad()
        self.manual_backward(total)
        for opt, name in zip(optimizers, GROUPS):
            for group in opt.param_groups:
                group["lr"] = self.schedules[name](k)
            opt.step()
        self.mean_field.project_()
        self.iteration += 1
        return losses

    def run_standalone(self, iterations: int) -> None:
        """Run ``iterations`` iterations without a Lightning ``Trainer`` (benchmarks, best responses)."""
        if self.env is None:
            self.setup("fit")
        if not hasattr(self, "_standalone_optimizers"):
            self._standalone_optimizers = self.configure_optimizers()
            self.optimizers = lambda: self._standalone_optimizers
            self.manual_backward = lambda loss: loss.backward()
        for _ in range(iterations):
            self.one_iteration()

    def _nonfinite_message(self, k: int, values: dict[str, float]) -> str:
        ckpt = getattr(getattr(self.trainer, "checkpoint_callback", None), "last_model_path", "") or "none saved yet"
        return f"non-finite loss at iteration {k}: {values}; stopping. The last good checkpoint: {ckpt}"

    def training_step(self, batch, batch_idx):
        if self._t0 is None:
            self._t0 = time.perf_counter()
            if int(self.iteration) == 0 and self.eval_every:
                self._evaluate()
        for _ in range(self.iterations_per_step):
            losses = self.one_iteration()
            if self.eval_every and int(self.iteration) % self.eval_every == 0:
                self._evaluate()
        for p in self.parameters():
            if not torch.isfinite(p).all():
                raise NonFiniteError(self._nonfinite_message(int(self.iteration), {"parameter": float("nan")}))
        if int(self.iteration) % self.log_every < self.iterations_per_step:
            self.log_dict({f"loss/{n}": float(v.detach()) for n, v in losses.items()}, on_step=True, prog_bar=False)
            self.log("iteration", float(self.iteration), on_step=True, prog_bar=True)

    # ----- evaluation: exact (finite games) or estimated (continuous games) -------------------------
    def evaluation_metrics(self) -> dict[str, float]:
        """The metrics of MODEL.md section 2 at the current ``(pi_k, phi_k, mu_hat_k)``."""
        if self.continuous:
            from ..evaluation.continuous_metrics import rollout_returns, twin_metrics

            mean = self.mean_field().detach()
            metrics = {"leader_objective": rollout_returns(self.game, self.follower, self.leader, mean, seed=self.seed)["J_l"]}
            if self.reference is not None:
                twin, self._mu_warm = twin_metrics(self.reference, self.follower, self.leader, self.mean_field, self._mu_warm)
                metrics.update(twin)
            return metrics
        from ..evaluation.finite_metrics import exact_metrics

        metrics, self._mu_warm = exact_metrics(self.game, self.follower, self.leader, self.mean_field(), self.phi_star,
                                               self._mu_warm)
        return metrics

    def _evaluate(self) -> None:
        metrics = self.evaluation_metrics()
        k = int(self.iteration)
        world = self.trainer.world_size if self._trainer is not None else 1
        metrics.update(iteration=k, samples=k * self.n_envs * world, wall_time=self.wall_time())
        self.history.append(metrics)
        if self._trainer is not None:
            prefix = "estimated" if self.continuous else "exact"
            self.log_dict({f"{prefix}/{n}": float(v) for n, v in metrics.items()}, on_step=True, prog_bar=False)
            keys = (("price", "price"), ("mf_err", "mean_field_error"), ("Phi_twin", "twin_leader_objective")) if self.continuous \
                else (("expl", "follower_exploitability"), ("mf_err", "mean_field_error"), ("Phi", "leader_objective"))
            self.log_dict({short: metrics[name] for short, name in keys if name in metrics}, on_step=True, prog_bar=True)

    def wall_time(self) -> float:
        return self._wall_offset + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    # ----- checkpoints hold the chains, the RNG and the history ------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["ac_smfg"] = {
            "chains": self.env.chain_state() if self.env is not None else None,
            "history": list(self.history),
            "wall_time": self.wall_time(),
            "schedules": self.schedules,
            "mu_warm": self._mu_warm,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["ac_smfg"]
        self._pending_chain_state = state["chains"]
        self.history = list(state["history"])
        self._wall_offset = state["wall_time"]
        self.schedules = state["schedules"]
        self._mu_warm = state["mu_warm"]
        self._td = None

    def final_parameters(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}
