"""Sampled learners: LightningModules on one base (:mod:`.base`), one file each.

* :mod:`.base`: the env, the optimiser groups and their schedules, the non-finite guard, checkpoints;
* :mod:`.kinds`: how agents act and how modules are evaluated, finite or continuous (the one place);
* :mod:`.leader_gradients`: the leader-gradient estimators, one file each (``algo.leader_gradient``);
* :mod:`.ac_smfg`: AC-SMFG's losses; :mod:`.best_response`: a learned best response.
"""

from .ac_smfg import ACSMFG
from .base import NonFiniteError, SampledLearner
from .kinds import ModelSpec, Transition
from .schedules import PowerSchedule

__all__ = ["ACSMFG", "ModelSpec", "NonFiniteError", "PowerSchedule", "SampledLearner", "Transition"]
