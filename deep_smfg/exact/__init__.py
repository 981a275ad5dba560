"""Ground truth for finite games: pure tensor code, differentiable, float32 or float64."""

import torch

from .equilibrium import (
    Equilibrium,
    EquilibriumNotConverged,
    follower_mdp,
    gamma_map,
    induced_mean_field,
    mean_field_of,
    solve_equilibrium,
)
from .exploitability import follower_exploitability, follower_return, mean_field_error, quality
from .leader_optimum import LeaderOptimum, reference_leader_optimum
from .linear_quadratic import LQSingularError
from .markov import StationaryDistributionError, discounted_value, state_kernel, state_reward, stationary_distribution
from .soft_bellman import SoftValues, mirror_step, soft_best_response, soft_policy_evaluation
from .stackelberg import (
    StackelbergGradient,
    cosine,
    gradient_alignment,
    leader_objective,
    leader_return,
    logit_gradient,
    stackelberg_gradient,
)

# what an exact solver raises when the policies it is given make it fail (a learner that has diverged, say)
SOLVER_FAILURES = (StationaryDistributionError, EquilibriumNotConverged, LQSingularError, torch.linalg.LinAlgError)

__all__ = [
    "Equilibrium",
    "EquilibriumNotConverged",
    "LQSingularError",
    "LeaderOptimum",
    "SOLVER_FAILURES",
    "SoftValues",
    "StackelbergGradient",
    "StationaryDistributionError",
    "cosine",
    "discounted_value",
    "follower_exploitability",
    "follower_mdp",
    "follower_return",
    "gamma_map",
    "gradient_alignment",
    "induced_mean_field",
    "leader_objective",
    "leader_return",
    "logit_gradient",
    "mean_field_error",
    "mean_field_of",
    "mirror_step",
    "quality",
    "reference_leader_optimum",
    "soft_best_response",
    "soft_policy_evaluation",
    "solve_equilibrium",
    "stackelberg_gradient",
    "state_kernel",
    "state_reward",
    "stationary_distribution",
]
