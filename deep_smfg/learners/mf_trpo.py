"""Sample-based MF-TRPO: the exact solver (:mod:`deep_smfg.solvers.mf_trpo`) with its two model reads replaced
by samples, for a finite game's lower level at a fixed (the initial, uniform) leader ``phi``.

Outer iteration ``p`` holds the population ``mu_hat_p`` frozen and lasts ``L = M K`` iterations
(``M = evaluation_steps``, ``K = inner_steps``). Iteration ``k`` (one call of the base's loop):

1. **q from batched rollouts.** From every pair ``(s, a)``, ``R = q_samples`` one-step rollouts:
   ``b ~ phi(.|s)``, ``s' ~ P(.|s, a, b, mu_hat_p)``, and the expected-SARSA target of the soft value of ``pi``
   (rewards at ``mu_hat_p``)::

       y(s, a) = mean over the R rollouts of  r_f(s, a, b, mu_hat_p) + gamma V(s'),
       V(s') = sum_a' pi(a'|s') (q(s', a') - tau log pi(a'|s')),
       q(s, a) <- q(s, a) + beta_k (y(s, a) - q(s, a))     for every (s, a)

   (SGD with step ``beta_k = c / (k + 1 + k0)^p`` on ``1/2 sum_{s,a} (q - y)^2``, ``y`` detached).
   Every entry moves every iteration, so rarely visited cells never hold stale values.
2. **Simulated agents.** The stationary chain's ``N`` agents take one step under ``pi`` at ``mu_hat_p``;
   their contributions ``zbar = g(sbar, abar, bbar)`` are counted in ``n_p(z)``.
3. **TRPO step**, after every ``M``-th iteration (``j = 0 .. K-1`` its index in the outer iteration)::

       pi(a|s) <- pi(a|s)^(1 - tau / (eta (j+2))) exp(q(s, a) / (eta (j+2)))   (normalised; exact.mirror_step)

4. **Population**, after the ``K``-th TRPO step, with ``nu_p = n_p / sum n_p`` the agents' empirical law of ``z``
   over the outer iteration::

       mu_hat_{p+1} = mu_hat_p + xi_p (nu_p - mu_hat_p),     xi_p = c / (p + 1 + k0)^d  (population_step)

   ``xi_p < 1`` for every ``p`` (checked): the uniform start keeps a share of every cell, so an empirical law
   with empty cells (``-log mu`` rewards: ``-log 1e-12 = 27.6``) never replaces the mean field outright, and the
   decay averages the agents' noise away.

The exact solver moves the population law by ``d <- d + beta (d K^M - d)``; here the agents are a sample of the
population moving along the same kernel ``K`` (of ``pi`` at ``mu_hat_p``) while ``q`` is learned, and ``nu_p``
their law over the outer iteration. At a fixed point ``q`` is the soft value of ``pi`` at ``mu_hat``, ``pi``
``softmax(q / tau)`` (the mirror step's fixed point), and ``mu_hat`` the law ``pi`` induces: the regularised
equilibrium. Tabular modules only (the TRPO step is closed form on a table); the leader never steps.
"""

from __future__ import annotations

from typing import Mapping

import torch

from ..exact import mirror_step
from ..games.base import FiniteGame, sample_categorical
from ..modules import build_policy
from ..modules.critics import build_action_critic
from ..modules.mean_field import CategoricalMeanField
from .base import SampledLearner
from .kinds import Agents, ModelSpec
from .schedules import PowerSchedule, as_schedule
from .supports import Supports

FICTITIOUS_AVERAGE = PowerSchedule(1.0, 1.0, 1.0)  # xi_p = 1 / (p + 2): mu_hat = the mean of mu_0 and nu_0 .. nu_p


class SampledMFTRPO(SampledLearner):
    """Sample-based MF-TRPO (module docstring). ``eta`` (>= tau / 2), ``evaluation_steps`` = M, ``inner_steps`` = K,
    ``q_samples`` = R, ``population_step`` = ``{c, p, k0}`` of ``xi_p``; ``step_sizes.critic`` = ``beta_k``."""

    GROUPS = ("critic",)
    ALGO = "mf_trpo"
    SUPPORTS = Supports(continuous=False, reward_centering=False, policies=("tabular",))  # TRPO closed form on a table

    def __init__(self, game: FiniteGame, model: ModelSpec | None = None, *, step_sizes, eta: float = 1.0,
                 evaluation_steps: int = 50, inner_steps: int = 1, q_samples: int = 1,
                 population_step: Mapping | PowerSchedule = FICTITIOUS_AVERAGE, **learner):
        model = ModelSpec() if model is None else model
        if learner.get("optimizer", "sgd") != "sgd":
            raise ValueError(f"algo=mf_trpo: q's TD step is SGD (each entry moves by beta_k times its TD error); "
                             f"optimizer must be sgd, got {learner['optimizer']!r}")
        if not eta >= game.tau / 2:
            raise ValueError(f"algo=mf_trpo: eta must be >= tau / 2 = {game.tau / 2:g} (the first TRPO step "
                             f"1 / (2 eta) times tau must not exceed 1), got {eta}")
        if evaluation_steps < 1 or inner_steps < 1 or q_samples < 1:
            raise ValueError(f"algo=mf_trpo: evaluation_steps, inner_steps and q_samples must be >= 1, got "
                             f"{evaluation_steps}, {inner_steps}, {q_samples}")
        xi = as_schedule(population_step)
        if not (0 < xi(0) < 1 and xi.p >= 0):
            raise ValueError(f"algo=mf_trpo: the population step xi_p = c / (p + 1 + k0)^d must lie in (0, 1) "
                             f"(an empirical law must not replace the mean field outright) and not grow (d >= 0); "
                             f"got c={xi.c}, d={xi.p}, k0={xi.k0}: xi_0 = {xi(0):g}")
        super().__init__(game, model, step_sizes, **learner)
        if model.critic != "tabular":
            raise ValueError(f"algo=mf_trpo learns q on a table: it needs model.critic=tabular, got {model.critic!r} "
                             f"(algo=ac_smfg_neural trains MLPs)")
        S, A = game.n_states, game.n_actions
        self.eta, self.evaluation_steps, self.inner_steps = float(eta), int(evaluation_steps), int(inner_steps)
        self.q_samples, self.population_step = int(q_samples), xi
        self.follower = build_policy("tabular", S, A).requires_grad_(False)  # moved by the TRPO step only
        self.leader = build_policy("tabular", S, game.n_leader_actions).requires_grad_(False)  # never moves
        self.mean_field = CategoricalMeanField(game.n_z).requires_grad_(False)
        self.q = build_action_critic("tabular", S, A)
        self.register_buffer("counts", torch.zeros(game.n_z))  # n_p: the agents' z over this outer iteration
        self._model: tuple[torch.Tensor, torch.Tensor] | None = None  # (P, r_f) at the frozen mu_hat_p

    def agents(self) -> Agents:
        """No state-value critics: MF-TRPO learns ``q(s, a)``, which evaluation does not read."""
        return Agents(self.follower, self.leader, self.mean_field)

    def parameter_groups(self) -> dict[str, list]:
        return {"critic": list(self.q.parameters())}

    @property
    def samples_per_iteration(self) -> int:
        """The agents' ``N`` steps and the ``R`` rollouts from every ``(s, a)`` (a generative model's draws)."""
        return self.n_envs + self.game.n_states * self.game.n_actions * self.q_samples

    def _frozen_model(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``P(s'|s,a,b)`` and ``r_f(s,a,b)`` at the frozen ``mu_hat_p``: what the rollouts sample from."""
        if self._model is None:
            mu = self.mean_field().detach()
            self._model = (self.game.transition_tensor(mu).to(mu), self.game.reward_f_tensor(mu).to(mu))
        return self._model

    def losses(self) -> dict[str, torch.Tensor]:
        t = self.transition()  # step 2: both chains; the stationary chain's agents are the population
        game, rng = self.game, self.env.rng
        S, A, R = game.n_states, game.n_actions, self.q_samples
        states = torch.arange(S, device=self.q.theta.device)
        q = self.q(states)  # [S, A]
        with torch.no_grad():
            self.counts += torch.bincount(t.z_bar, minlength=self.counts.shape[0]).to(self.counts)
            P, r = self._frozen_model()
            s = states.repeat_interleave(A * R)  # step 1: R rollouts from every (s, a)
            a = torch.arange(A, device=s.device).repeat_interleave(R).repeat(S)
            b = sample_categorical(torch.softmax(self.leader(s), -1), rng)
            s_next = sample_categorical(P[s, a, b], rng)
            logp = torch.log_softmax(self.follower(states), -1)
            v = (logp.exp() * (q - game.tau * logp)).sum(-1)
            y = (r[s, a, b] + game.gamma * v[s_next]).view(S, A, R).mean(-1)
        return {"critic": 0.5 * ((q - y) ** 2).sum()}

    @torch.no_grad()
    def after_step(self) -> None:
        done = int(self.iteration) + 1  # iterations done, this one included
        if done % self.evaluation_steps:
            return
        j = (done // self.evaluation_steps - 1) % self.inner_steps  # step 3: the j-th TRPO step of this outer iteration
        states = torch.arange(self.game.n_states, device=self.q.theta.device)
        log_pi = torch.log_softmax(self.follower(states), -1)
        self.follower.theta.copy_(mirror_step(log_pi, self.q(states), 1.0 / (self.eta * (j + 2)), self.game.tau))
        if j == self.inner_steps - 1:  # step 4
            p = done // (self.evaluation_steps * self.inner_steps) - 1
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.all_reduce(self.counts)  # every rank's agents: one population, one mu_hat
            mu = self.mean_field.mu
            mu.copy_(mu + self.population_step(p) * (self.counts / self.counts.sum() - mu))
            self.counts.zero_()
            self._model = None

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self._model = None  # rebuilt from the restored mu_hat
