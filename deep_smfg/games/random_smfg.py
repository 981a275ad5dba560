"""A seeded family of random finite SMFGs with named knobs: games nobody tuned a learner on.

``game.seed`` draws every random table; the knobs set how the game is wired (docs/environments.md,
"Random SMFG"). The mean field is the law of the state, ``z = s``.

* Followers: ``r_f(s, a, b, mu) = R[s, a] + U[s, a, b] - reward_coupling c(mu)[s]`` with the crowding
  ``c(mu) = K mu + 0.5 log(mu + 0.01)`` (``K = I + R_K R_K^T / S``, positive definite, so the coupling is
  crowd-averse and monotone), ``R ~ N(0, 1)``. ``U ~ N(0, 1)`` is the leader's subsidy when its channel includes
  the rewards, else 0.
* Transitions: ``P(mu) = (1 - transition_coupling) softmax(L + M) + transition_coupling softmax(L + M - 4 mu)``
  over ``s'``, ``L[s, a, s'] ~ N(0, 4)``; ``M[s, a, b, s'] ~ N(0, 4)`` when the leader's channel includes the
  transitions, else 0. The second part moves the followers away from crowded states.
* Leader: ``r_l(s, a, b, mu) = law_weight w . mu - cost_weight C[b] + welfare_weight (R[s, a] - reward_coupling
  c(mu)[s])``: where the population is (``w ~ N(0, 1)``), what its own action costs (``C ~ U(0, 1)``, leader
  action 0 free), and the followers' welfare (their reward without the subsidy, which is a transfer).

``leader_channel``: ``rewards`` (the leader acts through the subsidy only), ``transitions`` (through the moves
only), or ``both``. With ``transition_coupling = 0`` the transitions ignore ``mu``.
"""

from __future__ import annotations

import torch

from .base import FiniteGame, GameDefinitionError, check_size

CHANNELS = {"rewards": (True, False), "transitions": (False, True), "both": (True, True)}  # (subsidy, moves)


def make_random_smfg(
    seed: int = 0,
    n_states: int = 4,
    n_actions: int = 3,
    n_leader_actions: int = 3,
    reward_coupling: float = 1.0,
    transition_coupling: float = 0.0,
    leader_channel: str = "rewards",
    law_weight: float = 1.0,
    cost_weight: float = 0.2,
    welfare_weight: float = 0.0,
    gamma: float = 0.9,
    tau: float = 0.5,
) -> FiniteGame:
    for size, label in ((n_states, "n_states"), (n_actions, "n_actions"), (n_leader_actions, "n_leader_actions")):
        check_size(size, label)
    if leader_channel not in CHANNELS:
        raise GameDefinitionError(f"leader_channel must be one of {', '.join(CHANNELS)}, got {leader_channel!r}")
    if not 0.0 <= transition_coupling <= 1.0:
        raise GameDefinitionError(f"transition_coupling must lie in [0, 1], got {transition_coupling}")
    if reward_coupling < 0:
        raise GameDefinitionError(f"reward_coupling must be >= 0, got {reward_coupling}")
    subsidy, moves = CHANNELS[leader_channel]
    S, A, B, f64 = n_states, n_actions, n_leader_actions, torch.float64
    gen = torch.Generator().manual_seed(int(seed))

    def draw(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=gen, dtype=f64)

    R, U, L, M = draw(S, A), draw(S, A, B), draw(S, A, 1, S, scale=2.0), draw(S, A, B, S, scale=2.0)
    R_K, w = torch.rand(S, S, generator=gen, dtype=f64), draw(S)
    C = torch.rand(B, generator=gen, dtype=f64)
    C[0] = 0.0
    U, M = U * subsidy, M * moves  # every table is drawn whatever the knobs, so a knob changes only its own part
    K = torch.eye(S, dtype=f64) + R_K @ R_K.T / S
    logits = L + M  # [S, A, B, S]
    P_fixed = torch.softmax(logits, -1)

    def crowding(mu: torch.Tensor) -> torch.Tensor:
        return K.to(mu) @ mu + 0.5 * torch.log(mu + 0.01)

    def transition(mu: torch.Tensor) -> torch.Tensor:
        if transition_coupling == 0.0:
            return P_fixed.to(mu)
        return ((1 - transition_coupling) * P_fixed.to(mu)
                + transition_coupling * torch.softmax(logits.to(mu) - 4.0 * mu, -1))

    def welfare(mu: torch.Tensor) -> torch.Tensor:  # [S, A, 1]
        return (R.to(mu) - reward_coupling * crowding(mu)[:, None])[:, :, None]

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        return welfare(mu) + U.to(mu)

    def reward_l(mu: torch.Tensor) -> torch.Tensor:
        return (law_weight * (w.to(mu) @ mu) - cost_weight * C.to(mu) + welfare_weight * welfare(mu)).expand(S, A, B)

    knobs = dict(seed=seed, reward_coupling=reward_coupling, transition_coupling=transition_coupling,
                 leader_channel=leader_channel, law_weight=law_weight, cost_weight=cost_weight,
                 welfare_weight=welfare_weight)
    return FiniteGame(
        name="random_smfg", transition=transition, reward_f=reward_f, reward_l=reward_l,
        rho=torch.full((S,), 1.0 / S, dtype=f64), gamma=gamma, tau=tau,
        transition_depends_on_mu=transition_coupling > 0, default_damping=0.2, info=knobs,
    )


GAME = make_random_smfg  # the registry (deep_smfg/games/__init__.py) finds games by this name
