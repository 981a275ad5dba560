"""How agents act and how modules are evaluated: the one place where finite and continuous games differ.

A learner holds five modules (:class:`Agents`: follower and leader policies, their critics, a mean field)
and asks its game's kind (:func:`kind_of`) for

* the modules a model config describes (:meth:`GameKind.modules`);
* the TorchRL env over the game (:meth:`GameKind.env`);
* one step of both chains with everything the losses read (:meth:`GameKind.transition`, steps 1-2 of
  docs/ac_smfg.md): the actions drawn from the policies, the env's rewards and next states, and the
  log-probabilities and values at them.

Finite games evaluate every module once on the ``|S|`` state indices and index the tables (the same
arithmetic as per-sample evaluation, far cheaper for ``N >> |S|``); continuous games (Gaussian policies, squashed
onto the action box or, for unbounded actions, not; MLP critics; a Gaussian or Gaussian-mixture mean field,
``model.density``) evaluate the networks per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from tensordict import TensorDictBase
from torch import Tensor, nn

from ..envs import ContinuousSMFGEnv, SMFGEnv, TwoChainEnv, split_chains, stack_chains
from ..games.base import FiniteGame, sample_from_cdf
from ..games.continuous import ContinuousGame
from ..modules import CategoricalMeanField, build_critic, build_policy, continuous_modules


@dataclass(frozen=True)
class ModelSpec:
    """What ``configs/model/*.yaml`` describes: the kinds of policy and critic and their sizes."""

    policy: str = "tabular"
    critic: str = "tabular"
    hidden: tuple[int, ...] = (64, 64)
    init_log_std: float = 0.0  # continuous policies: log sd of the pre-squash Gaussian at the start
    covariance: str = "diag"  # Gaussian mean field: diag | full
    density: str = "gaussian"  # continuous games' mean field: gaussian | mixture (docs/crowd.md)
    components: int = 3  # mixture components
    cells: int = 16  # the cells policy: cells per action dimension


@dataclass(frozen=True)
class Agents:
    """A learner's declared face (:meth:`~.base.SampledLearner.agents`): what transitions, evaluators, estimators, the
    n-player evaluation and the learned best response read, and nothing else of the learner.

    ``follower``, ``leader``: the policies; ``mean_field``: the learned mean field; ``critic_f``, ``critic_l``: the
    state-value critics where the learner has them (AC-SMFG and its relatives; ``None`` for a learner without, which
    then never reads ``Transition.v_*``); ``reward_offset``: the offset the follower's critic is centred by (AC-SMFG's
    ``reward_centering``; ``None`` without)."""

    follower: nn.Module
    leader: nn.Module
    mean_field: nn.Module
    critic_f: nn.Module | None = None
    critic_l: nn.Module | None = None
    reward_offset: Tensor | None = None


@dataclass(frozen=True)
class Progress:
    """Where a learner stands: its iteration and the transitions drawn so far by all processes."""

    iteration: int
    samples: int


@dataclass
class Transition:
    """One step of the occupancy chain (``[N]`` rows), and the stationary chain's step and contributions ``z_bar``.

    ``logp_*``, ``v_f``, ``v_l`` carry gradients; ``v_*_next`` are detached (TD targets). ``restart`` flags the
    occupancy entries that restart from ``rho`` after this step (their next ``s`` is a fresh draw). ``u_f_bar``,
    ``u_l_bar`` (continuous games) are the stationary chain's pre-squash draws, so that its actions can be scored
    without inverting the squash."""

    s: Tensor
    a: Tensor
    b: Tensor
    s_next: Tensor
    z_bar: Tensor
    r_f: Tensor
    r_l: Tensor
    logp_f: Tensor  # log pi(a | s)
    logp_l: Tensor  # log phi(b | s)
    v_f: Tensor | None  # the critics' values (None when the learner has no state-value critics)
    v_l: Tensor | None
    v_f_next: Tensor | None
    v_l_next: Tensor | None
    s_bar: Tensor  # the stationary chain: (s_bar, a_bar, b_bar) -> s_bar_next, contributing z_bar
    a_bar: Tensor
    b_bar: Tensor
    s_bar_next: Tensor
    restart: Tensor
    u_f_bar: Tensor | None = None  # the stationary chain's pre-squash draws (continuous games; None on finite ones)
    u_l_bar: Tensor | None = None


class GameKind(Protocol):
    def modules(self, model: ModelSpec) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module, nn.Module]:
        """``(follower, leader, critic_f, critic_l, mean_field)``."""

    def env(self, n_envs: int, occupancy_restart: bool, device, dtype: torch.dtype, seed: int) -> TwoChainEnv: ...

    def transition(self, agents: Agents, env: TwoChainEnv, td: TensorDictBase) -> tuple[Transition, TensorDictBase]:
        """Steps 1-2 from the root ``td``; returns the transition and the next root."""

    def act(self, policy: nn.Module, states: Tensor, mean: bool = False,
            generator: torch.Generator | None = None) -> Tensor:
        """Actions of ``policy`` at ``states`` (drawn, or its typical action): what a user's simulation calls."""


class FiniteKind:
    """Indices for states and actions; tabular or MLP categorical policies over state indices."""

    def __init__(self, game: FiniteGame):
        self.game = game

    def modules(self, model: ModelSpec):
        if model.density != "gaussian":
            raise ValueError(f"model.density={model.density!r} is for continuous games; a finite game's mean field is "
                             f"a probability vector over z (leave model.density at its default)")
        game, S, coords = self.game, self.game.n_states, self.game.state_coords
        return (build_policy(model.policy, S, game.n_actions, model.hidden, coords),
                build_policy(model.policy, S, game.n_leader_actions, model.hidden, coords),
                build_critic(model.critic, S, model.hidden, coords),
                build_critic(model.critic, S, model.hidden, coords),
                CategoricalMeanField(game.n_z))

    def env(self, n_envs, occupancy_restart, device, dtype, seed) -> SMFGEnv:
        return SMFGEnv(self.game, n_envs, occupancy_restart, device=device, dtype=dtype, seed=seed)

    def transition(self, agents: Agents, env: TwoChainEnv, td: TensorDictBase) -> tuple[Transition, TensorDictBase]:
        env.set_mean_field(agents.mean_field())
        states = torch.arange(self.game.n_states, device=env.device)
        logp_f = torch.log_softmax(agents.follower(states), -1)  # tables [S, A], [S, B], [S]
        logp_l = torch.log_softmax(agents.leader(states), -1)
        v_f, v_l = _values(agents.critic_f, states), _values(agents.critic_l, states)
        both = stack_chains(td["state"], td["state_bar"])
        with torch.no_grad():
            a = sample_from_cdf(logp_f.exp().cumsum(-1)[both], env.rng)
            b = sample_from_cdf(logp_l.exp().cumsum(-1)[both], env.rng)
        out, root = env.act(td, a, b)
        step = env_step(td, out, a, b)
        s, a, b, s_next = step["s"], step["a"], step["b"], step["s_next"]
        return Transition(
            **step, logp_f=logp_f[s, a], logp_l=logp_l[s, b], v_f=_at(v_f, s), v_l=_at(v_l, s),
            v_f_next=_at(v_f, s_next, detach=True), v_l_next=_at(v_l, s_next, detach=True),
        ), root

    def act(self, policy: nn.Module, states: Tensor, mean: bool = False,
            generator: torch.Generator | None = None) -> Tensor:
        """Action indices ``[N]`` at state indices ``[N]``: the most likely (``mean``) or drawn."""
        probs = torch.softmax(policy(states), -1)
        return probs.argmax(-1) if mean else sample_from_cdf(probs.cumsum(-1), generator)


class ContinuousKind:
    """Points in boxes; Gaussian policies (squashed onto the boxes, or not) scored at their pre-squash draws ``u``."""

    def __init__(self, game: ContinuousGame):
        self.game = game

    def modules(self, model: ModelSpec):
        return continuous_modules(self.game, model.policy, model.critic, model.hidden, model.init_log_std,
                                  model.covariance, model.density, model.components, model.cells)

    def env(self, n_envs, occupancy_restart, device, dtype, seed) -> ContinuousSMFGEnv:
        return ContinuousSMFGEnv(self.game, n_envs, occupancy_restart, device=device, dtype=dtype, seed=seed)

    def transition(self, agents: Agents, env: TwoChainEnv, td: TensorDictBase) -> tuple[Transition, TensorDictBase]:
        env.set_mean_field(agents.mean_field())
        env.set_log_density(agents.mean_field.log_density)  # read by games whose rewards read the density
        both = stack_chains(td["state"], td["state_bar"])
        u_f, a = agents.follower.sample(both, env.rng)
        u_l, b = agents.leader.sample(both, env.rng)
        out, root = env.act(td, a, b)
        step = env_step(td, out, a, b)
        (u_f, u_f_bar), (u_l, u_l_bar) = split_chains(u_f), split_chains(u_l)
        s, s_next = step["s"], step["s_next"]
        both_s = stack_chains(s, s_next)  # one forward pass for s and s'
        v_f, v_f_next = split_chains(agents.critic_f(both_s)) if agents.critic_f is not None else (None, None)
        v_l, v_l_next = split_chains(agents.critic_l(both_s)) if agents.critic_l is not None else (None, None)
        return Transition(
            **step, logp_f=agents.follower.log_prob(s, u_f), logp_l=agents.leader.log_prob(s, u_l),
            v_f=v_f, v_l=v_l, v_f_next=_at(v_f_next, None, detach=True), v_l_next=_at(v_l_next, None, detach=True),
            u_f_bar=u_f_bar, u_l_bar=u_l_bar,
        ), root

    def act(self, policy: nn.Module, states: Tensor, mean: bool = False,
            generator: torch.Generator | None = None) -> Tensor:
        """Actions ``[N, da]`` at points ``[N, ds]``: the median, ``squash(mean)`` (``mean``), or drawn."""
        return policy.median_action(states) if mean else policy.sample(states, generator)[1]


def _values(critic: nn.Module | None, states: Tensor) -> Tensor | None:
    return critic(states) if critic is not None else None


def _at(values: Tensor | None, index: Tensor | None, detach: bool = False) -> Tensor | None:
    """``values[index]`` (all of them when ``index`` is None), detached if asked; None stays None (no critic)."""
    if values is None:
        return None
    out = values if index is None else values[index]
    return out.detach() if detach else out


def env_step(td: TensorDictBase, out: TensorDictBase, actions: Tensor, leader_actions: Tensor) -> dict[str, Tensor]:
    """What every kind reads off the env for a :class:`Transition`: both chains' states, actions (rows
    ``[occupancy; stationary]`` split), the occupancy chain's rewards and restart flags, the stationary ``z_bar``."""
    (a, a_bar), (b, b_bar) = split_chains(actions), split_chains(leader_actions)
    return dict(s=td["state"], a=a, b=b, s_next=out["next", "state"], z_bar=out["next", "z_bar"],
                r_f=out["next", "reward_f"].squeeze(-1), r_l=out["next", "reward_l"].squeeze(-1),
                s_bar=td["state_bar"], a_bar=a_bar, b_bar=b_bar, s_bar_next=out["next", "state_bar"],
                restart=out["next", "truncated"].squeeze(-1))


def kind_of(game: FiniteGame | ContinuousGame) -> GameKind:
    """The kind that knows how ``game``'s agents act."""
    return {"finite": FiniteKind, "continuous": ContinuousKind}[game.KIND](game)
