"""Sampled learners: LightningModules on one base (:mod:`.base`), one file each.

* :mod:`.base`: the env, the optimiser groups and their schedules, the non-finite guard, checkpoints;
* :mod:`.kinds`: how agents act and how modules are evaluated, finite or continuous (the one place);
* :mod:`.leader_gradients`: the leader-gradient estimators, one file each (``algo.leader_gradient``);
* :mod:`.ac_smfg`: AC-SMFG's losses; :mod:`.best_response`: a learned best response;
* the AC-SMFG paper's SMFG baselines: :mod:`.one_by_one`, :mod:`.cui_koeppl`, :mod:`.adage` (shared pieces:
  :mod:`.phased`);
* :mod:`.mf_trpo`: sample-based MF-TRPO (q from batched rollouts, the population from simulated agents).
"""

from .ac_smfg import ACSMFG
from .adage import ADAGE
from .base import DivergenceError, NonFiniteError, SampledLearner
from .cui_koeppl import CuiKoeppl
from .kinds import ModelSpec, Transition
from .mf_trpo import SampledMFTRPO
from .one_by_one import OneByOne
from .schedules import PowerSchedule

__all__ = ["ACSMFG", "ADAGE", "CuiKoeppl", "DivergenceError", "ModelSpec", "NonFiniteError", "OneByOne",
           "PowerSchedule", "SampledLearner", "SampledMFTRPO", "Transition"]
