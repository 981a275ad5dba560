"""What a train run gives Weights & Biases, read back from the offline run's transaction log (no network).

W&B runs offline here, in a temporary folder (its settings, cache and artifact staging too); the log
``<run_dir>/wandb/offline-run-*/run-<id>.wandb`` is read with :func:`read_offline_runs`, a reader of its record
format (a LevelDB-style log of ``wandb_internal_pb2.Record`` protobufs; wandb 0.31 ships no Python reader).

The tests that go through ``deep-smfg train`` and need the curves, the report or the checkpoints in W&B need the
train job to call :func:`deep_smfg.tracking.tracking_callbacks` and :func:`deep_smfg.tracking.finish_tracking`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from deep_smfg import cli
from deep_smfg.evaluation.plots import plot_curves
from deep_smfg.loggers import WANDB_ID, RunWandbLogger, make_loggers, row_iteration
from deep_smfg.tracking import finish_tracking, summary_values, tracking_callbacks

TINY = ["game=congestion_toll", "algo.iterations=40", "algo.checkpoint_every=20", "algo.eval_every=20",
        "progress_bar=false", "logger=wandb", "logger.mode=offline", "reference.n_starts=1"]
NOT_CURVES = ("iteration", "samples", "wall_time")  # history columns that are not drawn (run_folder.write_history)


# ----- the offline run's transaction log ----------------------------------------------------------------------
BLOCK, HEADER = 32768, 7  # the log's block size; both the file header and each chunk's header are 7 bytes
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4  # chunk kinds: a whole record, or its first, middle and last pieces


def _payloads(data: bytes):
    """The records' bytes of a transaction log: a 7-byte file header (``:W&B``, 0xBEE1, version), then 32 KiB
    blocks of chunks, each ``crc32 (IEEE, seeded with its kind byte) | length | kind`` and its bytes; a block's
    tail shorter than a chunk header is padding."""
    ident, magic, _ = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic) == (b":W&B", 0xBEE1)
    pos, pieces = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0:  # zero padding up to the block's end
            pos += left
            continue
        chunk = data[pos + HEADER:pos + HEADER + length]
        assert crc == zlib.crc32(chunk, zlib.crc32(bytes([kind]))), f"bad checksum at byte {pos}"
        pos += HEADER + length
        pieces = chunk if kind in (FULL, FIRST) else pieces + chunk
        if kind in (FULL, LAST):
            yield pieces


def _put(tree: dict, item) -> None:
    """One protobuf item (``key`` or ``nested_key`` path, ``value_json``) into a nested dict."""
    path = list(item.nested_key) or [item.key]
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = json.loads(item.value_json)


@dataclass
class OfflineRun:
    folder: Path
    run: object = None  # the RunRecord
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)  # MetricRecords (define_metric)
    artifacts: list = field(default_factory=list)
    exited: bool = False

    def rows_with(self, key: str) -> list[dict]:
        return [row for row in self.history if key in row]


def _records(log: Path, record_type, wait: float = 10.0) -> list:
    """The records of transaction log ``log``, once its ``exit`` record is there: W&B's service writes the file's
    tail after ``finish()`` has returned (the records as they are after ``wait`` seconds otherwise)."""
    deadline = time.monotonic() + wait
    while True:
        records = [record_type.FromString(payload) for payload in _payloads(log.read_bytes())]
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def read_offline_runs(run_dir: Path) -> list[OfflineRun]:
    """Every offline W&B run under ``run_dir/wandb``, oldest first (a resumed run has one per part)."""
    from wandb.proto.wandb_internal_pb2 import Record

    runs = []
    for log in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        out = OfflineRun(log.parent)
        for record in _records(log, Record):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                out.run = record.run
                for item in record.run.config.update:
                    _put(out.config, item)
            elif kind == "config":
                for item in record.config.update:
                    _put(out.config, item)
            elif kind == "history":
                row: dict = {}
                for item in record.history.item:
                    _put(row, item)
                out.history.append(row)
            elif kind == "summary":
                for item in record.summary.update:
                    _put(out.summary, item)
            elif kind == "metric":
                out.metrics.append(record.metric)
            elif kind == "artifact":
                out.artifacts.append(record.artifact)
            elif kind == "exit":
                out.exited = True
        runs.append(out)
    return runs


# ----- set-up -------------------------------------------------------------------------------------------------
def _offline_env(mp: pytest.MonkeyPatch, root: Path) -> None:
    """W&B offline and silent, its own folders under ``root``, and a server address that answers nothing."""
    for name, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONFIG_DIR": root / "config",
                        "WANDB_CACHE_DIR": root / "cache", "WANDB_DATA_DIR": root / "data",
                        "WANDB_BASE_URL": "http://127.0.0.1:9"}.items():
        mp.setenv(name, str(value))
    mp.delenv("WANDB_API_KEY", raising=False)


def _finish_open_run() -> None:
    """A run the train job left open (it stays open until the job calls finish_tracking) is flushed and closed."""
    import wandb

    if wandb.run is not None:
        wandb.finish()


@pytest.fixture(autouse=True)
def offline_wandb(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        _offline_env(mp, tmp_path_factory.mktemp("wandb_home"))
        yield
        _finish_open_run()


def train(run_dir: Path, *overrides: str) -> dict:
    """One tiny ``deep-smfg train`` into ``run_dir``, its W&B run closed; returns its summary.json."""
    assert cli.main(["train", *TINY, f"run_dir={run_dir}", *overrides]) == 0
    _finish_open_run()
    return json.loads((run_dir / "summary.json").read_text())


def metrics_csv(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def md5_b64(path: Path) -> str:
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny run (40 iterations, evaluations every 20), shared by the tests that only read it."""
    with pytest.MonkeyPatch.context() as mp:
        _offline_env(mp, tmp_path_factory.mktemp("wandb_home"))
        run_dir = tmp_path_factory.mktemp("tiny") / "run"
        summary = train(run_dir)
    (wandb_run,) = read_offline_runs(run_dir)
    return run_dir, summary, wandb_run


# ----- through deep-smfg train ----------------------------------------------------------------------------------
def test_a_run_logs_its_config_and_evaluations_against_the_iteration(tiny_run):
    run_dir, _, wandb_run = tiny_run
    assert wandb_run.run.run_id == (run_dir / WANDB_ID).read_text().strip()
    assert (wandb_run.run.project, wandb_run.run.display_name, wandb_run.run.job_type) == ("deep_smfg", "run", "train")
    assert wandb_run.config["algo"]["iterations"] == 40 and wandb_run.config["algo"]["eval_every"] == 20
    assert wandb_run.config["game"]["_target_"].endswith("congestion_toll")
    assert wandb_run.config["logger"]["log_checkpoints"] is False
    # every metric against the learner's iteration, which is also W&B's step
    assert any(m.glob_name == "*" and m.step_metric == "iteration" for m in wandb_run.metrics)
    rows = wandb_run.rows_with("exact/leader_gap")
    assert [row["iteration"] for row in rows] == [0, 20, 40]
    assert [row["_step"] for row in rows] == [0, 20, 40]
    assert all("trainer/global_step" not in row for row in wandb_run.history)
    # the values are the run's own (metrics.csv holds the evaluations; W&B got them as Lightning's float32)
    history = metrics_csv(run_dir)
    for name in ("leader_gap", "follower_exploitability", "mean_field_error"):
        assert [row[f"exact/{name}"] for row in rows] == pytest.approx([h[name] for h in history], rel=1e-6)
    assert [row["expl"] for row in rows] == pytest.approx([h["follower_exploitability"] for h in history], rel=1e-6)


def test_a_run_logs_its_curves_report_and_figures(tiny_run):
    """Needs the wiring in deep_smfg/train_job.py (tracking_callbacks, finish_tracking)."""
    run_dir, summary, wandb_run = tiny_run
    drawn = sorted(k for k in metrics_csv(run_dir)[0] if k not in NOT_CURVES)
    assert len(drawn) == 7
    rows = wandb_run.rows_with("curves")  # every metric's curve so far at each evaluation, one PNG in the run
    assert [row["iteration"] for row in rows] == [0, 20, 40]
    images = [row["curves"] for row in rows]
    for image in images:
        assert image["_type"] == "image-file"
        png = wandb_run.folder / "files" / image["path"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert hashlib.sha256(png.read_bytes()).hexdigest() == image["sha256"]
    assert len({image["sha256"] for image in images}) == 3  # 1, 2, then 3 points: three different figures
    # the report in the run's summary, flattened
    got = wandb_run.summary
    assert got["status"] == "completed" and got["game"] == "congestion_toll" and got["iterations"] == 40
    for name, value in summary["final"].items():
        assert got[f"final/{name}"] == pytest.approx(value, rel=1e-7)
    assert got["phi_star"] == pytest.approx(summary["phi_star"], rel=1e-7)
    assert got["warnings"] == "; ".join(summary["warnings"])
    assert "learned_mean_field" not in got and "parts" not in got
    # every figure of the run folder, once, at the last iteration
    figures = {f"report/{p.relative_to(run_dir).with_suffix('').as_posix()}"
               for p in [*run_dir.glob("*.png"), *run_dir.glob("plots/*.png")]}
    assert {"report/mean_field", "report/plots/leader_gap"} <= figures
    logged = {key: row["iteration"] for row in wandb_run.history for key in row if key.startswith("report/")}
    assert logged == dict.fromkeys(figures, 40)
    assert not [a for a in wandb_run.artifacts if a.type == "model"]  # log_checkpoints is false by default
    assert wandb_run.exited


def test_log_checkpoints_logs_each_checkpoint_file_as_an_artifact(tmp_path):
    """Needs the wiring in deep_smfg/train_job.py (tracking_callbacks, finish_tracking)."""
    run_dir = tmp_path / "run"
    train(run_dir, "logger.log_checkpoints=true", "logger.curves_every=2")
    (wandb_run,) = read_offline_runs(run_dir)
    assert [row["iteration"] for row in wandb_run.rows_with("curves")] == [0, 40]  # evaluations 1 and 3
    artifacts = [a for a in wandb_run.artifacts if a.type == "model"]
    run_id = wandb_run.run.run_id
    assert [a.name for a in artifacts] == [f"model-{run_id}"] * 2
    assert [sorted(a.aliases) for a in artifacts] == [["iteration_20", "latest"], ["iteration_40", "latest"]]
    for artifact, k in zip(artifacts, (20, 40), strict=True):
        (entry,) = artifact.manifest.contents
        assert entry.path == f"iteration_{k}.ckpt" and json.loads(artifact.metadata) == {"iteration": k}
        checkpoint = run_dir / "checkpoints" / f"iteration_{k}.ckpt"
        assert entry.digest == md5_b64(checkpoint) and entry.size == checkpoint.stat().st_size
        state = torch.load(entry.local_path, map_location="cpu", weights_only=False)  # W&B's copy of the file
        assert int(state["state_dict"]["iteration"]) == k


def test_a_resumed_run_continues_the_same_wandb_run_and_history(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, "algo.iterations=20")
    train(run_dir, "resume=last")  # algo.iterations=40 again: 20 more iterations
    first, second = read_offline_runs(run_dir)
    run_id = (run_dir / WANDB_ID).read_text().strip()
    assert first.run.run_id == second.run.run_id == run_id  # two offline parts of one W&B run
    assert (first.config["algo"]["iterations"], second.config["algo"]["iterations"]) == (20, 40)
    assert [r["iteration"] for r in first.rows_with("exact/leader_gap")] == [0, 20]
    assert [r["iteration"] for r in second.rows_with("exact/leader_gap")] == [40]  # from the checkpoint on
    steps = [row["_step"] for row in first.history + second.history]
    assert steps == sorted(set(steps))  # synced in order, the parts repeat no step
    assert min(row["_step"] for row in second.history) > 20


# ----- the pieces ---------------------------------------------------------------------------------------------
def _cfg(*overrides: str):
    return cli.compose_config("train", ["game=congestion_toll", "logger=wandb", "logger.mode=offline", *overrides])


def test_the_logger_keys_reach_wandb(tmp_path):
    keys = ["logger.entity=my-team", "logger.group=sweep-1", "logger.tags=[baseline,toll]", "logger.job_type=probe",
            "logger.notes=a note"]
    (logger,) = make_loggers(_cfg(*keys), tmp_path, keep_before=0)
    logger.log_metrics({"loss/leader": 0.5, "iteration": 10.0}, step=0)
    logger.finish()
    (wandb_run,) = read_offline_runs(tmp_path)
    got = wandb_run.run
    assert (got.entity, got.project, got.run_group, got.job_type, got.notes) == ("my-team", "deep_smfg", "sweep-1",
                                                                                  "probe", "a note")
    assert (list(got.tags), got.display_name) == (["baseline", "toll"], tmp_path.name)  # name null: the folder's
    assert wandb_run.history[0]["loss/leader"] == 0.5 and wandb_run.history[0]["_step"] == 10
    named = RunWandbLogger(_cfg("logger.name=lr_0.1"), tmp_path, "abcd1234")
    assert named._wandb_init["name"] == "lr_0.1"


def test_a_sweeps_jobs_are_grouped_under_the_sweep_and_named_by_their_swept_values(tmp_path):
    sweep_dir = tmp_path / "my_sweep"
    assert cli.main(["train", "-m", *TINY, "seed=0,1", f"sweep_dir={sweep_dir}"]) == 0
    runs = {}
    for job in ("0_seed=0", "1_seed=1"):
        (wandb_run,) = read_offline_runs(sweep_dir / job)
        runs[job] = wandb_run.run
    assert {job: (run.run_group, run.display_name) for job, run in runs.items()} == {
        "0_seed=0": ("my_sweep", "0_seed=0"), "1_seed=1": ("my_sweep", "1_seed=1")}
    assert runs["0_seed=0"].run_id != runs["1_seed=1"].run_id  # one W&B run per job, none reused


def test_the_csv_and_none_loggers_have_no_tracking(tmp_path):
    for kind in ("csv", "none"):
        cfg = cli.compose_config("train", ["game=congestion_toll", f"logger={kind}"])
        assert tracking_callbacks(cfg, tmp_path) == []
    finish_tracking([CSVLogger(str(tmp_path))], {"iterations": 3, "warnings": []}, tmp_path)
    finish_tracking([], {"iterations": 3, "warnings": []}, tmp_path)
    assert not (tmp_path / "wandb").exists()


def test_a_row_is_filed_at_the_iteration_it_carries():
    assert row_iteration({"exact/leader_gap": 0.1, "exact/iteration": 20.0, "expl": 0.2}, default=0) == 20
    assert row_iteration({"loss/leader": 1.0, "iteration": 30.0}, default=0) == 30
    # the first step's row when losses are logged every step: the evaluation at 0 and the losses of step 1
    assert row_iteration({"exact/iteration": 0.0, "iteration": 10.0}, default=0) == 0
    assert row_iteration({"something": 1.0}, default=50) == 50


def test_the_report_is_flattened_into_summary_values():
    report = {"status": "completed", "iterations": 40, "phi_star": -1.85, "converged": True,
              "final": {"leader_gap": 0.012, "nested": {"x": 1}}, "learned_mean_field": [0.35, 0.65],
              "warnings": ["a ended worse", "b ended worse"], "parts": [{"part": 0}], "long": "x" * 300}
    assert summary_values(report) == {"status": "completed", "iterations": 40, "phi_star": -1.85, "converged": True,
                                      "final/leader_gap": 0.012, "final/nested/x": 1,
                                      "warnings": "a ended worse; b ended worse"}


def test_finish_tracking_logs_the_report_figures_and_last_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "plots").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    for png in (run_dir / "plots" / "leader_gap.png", run_dir / "mean_field.png"):
        plot_curves({"y": [1.0, 0.5]}, png, "iteration", "y", png.stem, x=[0, 10])
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"a checkpoint's bytes")
    (run_dir / "wandb").mkdir()
    plot_curves({"y": [1.0]}, run_dir / "wandb" / "stray.png", "x", "y", "not a figure of the run")
    (logger,) = make_loggers(_cfg("logger.log_checkpoints=true"), run_dir, keep_before=0)
    logger.log_metrics({"exact/leader_gap": 0.5, "exact/iteration": 10.0}, step=0)
    finish_tracking([CSVLogger(str(tmp_path)), logger], {"status": "completed", "iterations": 10,
                                                         "final": {"leader_gap": 0.25}, "warnings": []}, run_dir)
    import wandb

    assert wandb.run is None  # finished
    (wandb_run,) = read_offline_runs(run_dir)
    assert wandb_run.exited
    assert (wandb_run.summary["final/leader_gap"], wandb_run.summary["warnings"]) == (0.25, "")
    assert wandb_run.summary["exact/leader_gap"] == 0.5  # the logged metrics' last values stay
    last = wandb_run.history[-1]  # one row at iteration 10: the metrics, then the figures
    assert last["_step"] == last["iteration"] == 10 and last["exact/leader_gap"] == 0.5
    # the run's figures, not W&B's own files under wandb/
    assert sorted(k for k in last if k.startswith("report/")) == ["report/mean_field", "report/plots/leader_gap"]
    (artifact,) = wandb_run.artifacts
    assert sorted(artifact.aliases) == ["iteration_10", "latest"]
    assert artifact.manifest.contents[0].digest == md5_b64(run_dir / "checkpoints" / "last.ckpt")


@pytest.mark.parametrize("override, message", [
    ("logger.log_checkpoints=maybe", "logger.log_checkpoints='maybe': must be true or false"),
    ("logger.curves_every=-1", "logger.curves_every=-1: must be an integer >= 0"),
    ("logger.group=2024", "logger.group=2024: must be a string or null"),
    ("logger.tags=[a,3]", r"logger.tags=\['a', 3\]: must be a list of strings"),
])
def test_the_logger_keys_are_type_checked(override, message):
    from deep_smfg.config import ConfigError
    from deep_smfg.schema import validate

    with pytest.raises(ConfigError, match=message):
        validate("train", _cfg(override))


def test_only_rank_zero_keeps_the_run_id(tmp_path, monkeypatch):
    """Ranks a launcher starts together must not race to write ``wandb_id``: only global rank 0 writes it."""
    from lightning.pytorch.utilities import rank_zero_only

    from deep_smfg.loggers import wandb_run_id

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert len(wandb_run_id(tmp_path)) == 8 and not (tmp_path / WANDB_ID).exists()
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    kept = wandb_run_id(tmp_path)
    assert (tmp_path / WANDB_ID).read_text() == kept + "\n" and wandb_run_id(tmp_path) == kept
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert wandb_run_id(tmp_path) == kept
