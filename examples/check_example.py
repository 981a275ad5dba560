"""Train, load and act with a worked example (docs/custom_games.md), as a user would, from the example's folder:

    python ../check_example.py road_toll finite RUN_DIR     # RUN_DIR: a finished `deep-smfg train` run of the game
    python ../check_example.py exponential_demand continuous RUN_DIR

1. ``deep_smfg.load_run(RUN_DIR)`` and ``<Learner>.load_from_checkpoint(<its checkpoint>)`` hold exactly the
   checkpoint's tensors, and their follower and leader act identically (typical actions, and draws with one seed);
2. ``deep_smfg.train(name, config_dir="conf")`` runs the same game from Python, and its result loads and acts.
Exits 1 on the first difference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

import deep_smfg

sys.path.insert(0, os.getcwd())  # the game's module, in the example's folder (as in a notebook started there)
name, kind, run_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
run = deep_smfg.load_run(run_dir)
saved = torch.load(run.checkpoint, map_location="cpu", weights_only=False)["state_dict"]
assert all(torch.equal(v, saved[k]) for k, v in run.learner.state_dict().items()), "load_run: tensors differ"
again = type(run.learner).load_from_checkpoint(run.checkpoint)
assert all(torch.equal(v, saved[k]) for k, v in again.state_dict().items()), "load_from_checkpoint: tensors differ"
if kind == "finite":  # state indices
    states = torch.arange(run.game.n_states).repeat(8)
else:  # points of the (1-D) state box
    states = torch.linspace(run.game.state_space.low[0], run.game.state_space.high[0], 16)[:, None]
for leader in (False, True):
    for mean in (True, False):
        a = run.act(states, leader=leader, mean=mean, generator=torch.Generator().manual_seed(1))
        b = again.kind.act(again.leader if leader else again.follower, states, mean=mean,
                           generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b), f"actions differ (leader={leader}, mean={mean})"
print(f"{name}: load_run and load_from_checkpoint reproduce the checkpoint's actions exactly "
      f"({len(saved)} tensors, {states.shape[0]} states)")
short = ["algo.iterations=200", "algo.eval_every=100", "algo.checkpoint_every=100", "logger=csv",
         "progress_bar=false", f"run_dir={run_dir}_api"]
api = deep_smfg.train(name, short + (["algo.best_response_iterations=50"] if kind == "continuous" else []),
                      config_dir="conf")
assert api.summary["status"] == "completed" and api.summary["iterations"] == 200, api.summary
print(f"{name}: deep_smfg.train ran it from Python: {api.run_dir}, typical action at the first states: "
      f"{api.act(states[:2], mean=True).tolist()}")
