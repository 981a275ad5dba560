"""Bad inputs to every command: exit 2, one ``error:`` line naming the key, nothing written (docs/reliability.md).

``BAD`` is the table docs/reliability.md lists; each row is ``(arguments, what the error line must name)``.
Arguments may use ``{run}`` (a finished tiny run, copied fresh for the row), ``{file}`` (an existing plain file)
and ``{out}`` (a folder that must not appear). A row passes when the command exits 2, prints an ``error:`` line
naming the key, writes no ``{out}`` and leaves the run's folder byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from deep_smfg import cli

TINY = ["game=congestion_toll", "algo.iterations=40", "algo.checkpoint_every=20", "algo.eval_every=20",
        "logger=none", "progress_bar=false"]
T = ["train", *TINY, "run_dir={out}"]
S = ["solve", "game=congestion_toll", "run_dir={out}"]
E = ["evaluate", "run_dir={run}", "games=2"]
R = ["train", *TINY, "run_dir={run}", "resume=last"]

BAD = [
    # train: types and ranges of the job's keys
    (T + ["algo.iterations=abc"], "algo.iterations='abc': must be an integer >= 1"),
    (T + ["algo.iterations=305.5"], "algo.iterations=305.5: must be an integer"),
    (T + ["algo.iterations=0"], "algo.iterations=0"),
    (T + ["algo.checkpoint_every=15"], "algo.checkpoint_every=15 must be a multiple of algo.iterations_per_step"),
    (T + ["algo.eval_every=-1"], "algo.eval_every=-1"),
    (T + ["algo.n_envs=0"], "algo.n_envs=0"),
    (["train", "algo.best_response_iterations=-5", "run_dir={out}"], "algo.best_response_iterations=-5"),
    (T + ["seed=-1"], "seed=-1: must be an integer in [0, 4294967295]"),
    (T + ["seed=x"], "seed='x'"),
    (T + ["threads=0"], "threads=0"),
    (T + ["eval_threads=-1"], "eval_threads=-1: must be an integer in [0, 1024]"),
    (T + ["dtype=float16"], "dtype='float16'"),
    (T + ["progress_bar=maybe"], "progress_bar='maybe': must be true or false"),
    (T + ["reference.n_starts=0"], "reference.n_starts=0: must be an integer >= 1"),
    # the stop rule (deep_smfg/stopping.py): its keys, and the targets against the evaluator's metrics
    (T + ["algo.stop.window=0"], "algo.stop.window=0: must be an integer >= 1"),
    (T + ["algo.stop.relative=-1"], "algo.stop.relative=-1"),
    (T + ["algo.stop.plateau=sometimes"], "algo.stop.plateau='sometimes'"),
    (T + ["+algo.stop.targets.nope=0.1"], "algo.stop.targets.nope: this game's evaluator has no such metric"),
    (T + ["+algo.stop.targets.leader_gap=abc"], "algo.stop.targets.leader_gap='abc': must be a number"),
    (T + ["+algo.stop.targets.leader_gap=0.01", "algo.eval_every=0"], "algo.stop reads the run's evaluations"),
    (T + ["algo.stop=null"], "algo.stop=None: must be a map with the keys plateau, window"),
    (T + ["algo.stop.targets=5"], "algo.stop.targets=5: must be a map {metric: value}"),
    (T + ["+algo.stop.patience=3"], "algo.stop.patience: unknown key (algo.stop's keys: plateau, window"),
    # step sizes c / (k + 1 + k0)^p, zero before start
    (T + ["algo.step_sizes.leader.c=-1"], "algo.step_sizes.leader.c=-1: must be a number > 0"),
    (T + ["algo.step_sizes.leader.c=0"], "algo.step_sizes.leader.c=0"),
    (T + ["algo.step_sizes.leader.p=-1"], "algo.step_sizes.leader.p=-1: must be a number in (0, 1]"),
    (T + ["algo.step_sizes.critic.p=1.5"], "algo.step_sizes.critic.p=1.5"),
    (T + ["+algo.step_sizes.critic.k0=-3"], "algo.step_sizes.critic.k0=-3"),
    (T + ["+algo.step_sizes.leader.start=-1"], "algo.step_sizes.leader.start=-1: must be an integer >= 0"),
    (T + ["algo.optimizer=rmsprop"], "algo.optimizer='rmsprop'"),
    (["train", "algo.step_sizes.leader.c=0.1", "run_dir={out}"], "break the four-timescale order"),
    # model, trainer, logger
    (T + ["model.hidden=[0]"], "model.hidden=[0]"),
    (["train", "model.covariance=big", "run_dir={out}"], "model.covariance='big'"),
    (T + ["trainer.devices=0"], "trainer.devices=0"),
    (T + ["trainer.devices=-1"], "trainer (accelerator=cpu, devices=-1, strategy=auto)"),
    (T + ["trainer=gpu"], "trainer.accelerator='gpu': torch sees no GPU"),
    (T + ["trainer.accelerator=tpu"], "trainer.accelerator='tpu'"),
    (T + ["logger.kind=tensorboard"], "logger.kind='tensorboard'"),
    (T + ["logger=wandb", "logger.mode=bogus"], "logger.mode='bogus'"),
    # the game's parameters: typed by the factory's defaults, ranges checked by the factory
    (T + ["game.gamma=abc"], "game.gamma='abc': must be a number"),
    (T + ["game.gamma=1.5"], "gamma must lie in (0, 1), got 1.5"),
    (T + ["game.foo=1"], "unknown parameter 'foo' for deep_smfg.games.congestion_toll.make_congestion_toll"),
    (["train", "game=nope", "run_dir={out}"], "Could not find 'game/nope'"),
    (T + ["algo.foo=1"], "unknown config key 'algo.foo'"),
    (T + ["+algo.foo=1"], "unknown algo key(s) ['foo']"),
    # the run folder
    (["train", *TINY, "run_dir={file}"], "is a file, not a folder"),
    (["train", *TINY, "run_dir=/proc/deep_smfg_run"], "run_dir=/proc/deep_smfg_run cannot be created"),
    (["train", *TINY, "run_dir={out}/é"], "must be quoted"),
    (["train", *TINY, "run_dir={run}"], "already holds a run of congestion_toll"),
    (T + ["resume=last", "run_dir="], "resume=last needs run_dir"),
    (T + ["resume={out}/nothing.ckpt"], "no such checkpoint file"),
    # resuming: the same config but for the budget and the logging, no rewind, readable checkpoints
    (R + ["seed=3"], "Differences: seed: 0 -> 3"),
    (R + ["algo.step_sizes.critic.c=5.0"], "algo.step_sizes.critic.c: 4.0 -> 5.0"),
    (R + ["algo.iterations=20"], "algo.iterations=20 is below the checkpoint's iteration 40"),
    (R + ["overwrite=true"], "contradict"),
    (R + ["algo.iterations=80", "damage=truncate"], "last.ckpt is corrupt"),
    (["train", *TINY, "resume={run}/checkpoints/iteration_20.ckpt", "run_dir={out}", "seed=3"],
     "Differences: seed: 0 -> 3"),
    # solve
    (S + ["optimum.n_starts=0"], "optimum.n_starts=0: must be an integer >= 1"),
    (S + ["optimum.seed=-2"], "optimum.seed=-2"),
    (S + ["solver.max_iter=0"], "solver.max_iter=0"),
    (S + ["solver.damping=2"], "solver.damping=2"),
    (S + ["solver.tol=-1"], "solver.tol=-1"),
    (S + ["leader=best"], "leader='best'"),
    (S + ["threads=abc"], "threads='abc'"),
    # evaluate
    (["evaluate"], "run_dir is required"),
    (["evaluate", "run_dir={out}"], "is not a run folder"),
    (E + ["n_players=abc"], "n_players='abc'"),
    (E + ["n_players=[0,10]"], "n_players=[0, 10]"),
    (E + ["games=1"], "games=1: must be an integer >= 2"),
    (E + ["seed=-4"], "seed=-4"),
    (E + ["device=tpu"], "device must be auto, cpu, cuda"),
    (E + ["damage=garbage_config"], "config.yaml is not a readable train config"),
    (E + ["damage=truncate"], ("last.ckpt is corrupt", "Intact checkpoints: iteration_20.ckpt (iteration 20), "
                                                       "iteration_40.ckpt (iteration 40)")),
    # sweeps check every job first
    (["train", "-m", "seed=0,-1", *TINY, "sweep_dir={out}"], "job 1 (seed=-1): seed=-1"),
    (["train", "-m", "threads=1,0", *TINY, "sweep_dir={out}"], "threads=0"),
    (["train", "-m", "trainer.devices=1,0", *TINY, "sweep_dir={out}"], "trainer.devices=0"),
    (["train", "-m", "algo.iterations=40,2.5", *TINY[:1], "sweep_dir={out}"], "algo.iterations=2.5"),
    (["solve", "-m", "game=congestion_toll", "optimum.n_starts=1,0", "sweep_dir={out}"], "optimum.n_starts=0"),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["train", *TINY, f"run_dir={run}"]) == 0
    return run


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def damage(run: Path, how: str) -> None:
    if how == "truncate":
        ckpt = run / "checkpoints" / "last.ckpt"
        data = ckpt.read_bytes()
        ckpt.unlink()  # a hard link to iteration_40.ckpt: break the link, keep the other intact
        ckpt.write_bytes(data[: len(data) // 3])
    elif how == "garbage_config":
        (run / "config.yaml").write_text("game: [unclosed\n  : : -\n")


def prepare_case(case: Path, finished: Path, args: list[str]) -> tuple[list[str], Path, Path]:
    """A copy of the finished run in ``case/run`` (damaged as a ``damage=`` argument asks), a plain file, and the
    command line with ``{run}``, ``{out}``, ``{file}`` filled in; returns ``(argv, run, out)``."""
    run, out, file = case / "run", case / "out", case / "plain.txt"
    shutil.copytree(finished, run)
    file.write_text("not a folder\n")
    for arg in args:
        if arg.startswith("damage="):
            damage(run, arg.split("=", 1)[1])
    return [a.format(run=run, out=out, file=file) for a in args if not a.startswith("damage=")], run, out


@pytest.mark.parametrize("args, names", BAD, ids=[f"{i}-{a[0]}-{a[-1]}" for i, (a, _) in enumerate(BAD)])
def test_a_bad_input_exits_2_naming_the_key_and_writes_nothing(tmp_path, monkeypatch, capsys, finished_run, args,
                                                               names):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    argv, run, out = prepare_case(tmp_path, finished_run, args)
    before = snapshot(run)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    for name in (names,) if isinstance(names, str) else names:
        assert name in lines[0], lines[0]
    assert not out.exists()
    assert snapshot(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt", "run"]  # no runs/ either


def test_the_table_has_forty_rows_or_more_across_the_commands():
    commands = {args[0] for args, _ in BAD}
    assert len(BAD) >= 40 and commands == {"train", "solve", "evaluate"}
    assert sum("-m" in args for args, _ in BAD) >= 4
