"""scripts/bench_throughput.py runs (its figures are in docs/performance.md): every row of both tables, briefly."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
import bench_throughput  # noqa: E402


def table(out: str) -> list[list[str]]:
    """The rows of the printed table, header first, without the separator line."""
    lines = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def rate(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_the_finite_table_has_the_loop_the_learner_and_the_hand_written_floor(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench_throughput.py", "--sizes", "16", "--seconds", "0.2"])
    bench_throughput.main()
    header, loop, learner = table(capsys.readouterr().out)
    assert header[3].startswith("hand-written batched torch")
    assert loop[0].startswith("per-sample loop") and rate(loop[1]) > 0
    n, batched, _, floor, ratio = learner
    assert n == "16" and rate(batched) > 0 and rate(floor) > 0
    assert abs(float(ratio) - rate(batched) / rate(floor)) < 0.01


def test_the_continuous_table_measures_the_algo_asked_for(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench_throughput.py", "--game", "continuous_pricing", "--sizes", "4",
                                      "--seconds", "0.2", "--algo", "ac_smfg_continuous"])
    bench_throughput.main()
    out = capsys.readouterr().out
    assert "algo=ac_smfg_continuous," in out.splitlines()[0]
    (n, value), = table(out)[1:]
    assert n == "4" and rate(value) > 0
    game = bench_throughput.make_game("continuous_pricing")
    assert type(bench_throughput.make_learner(game, 4, "cpu").leader_gradient).__name__ == "TotalSampledContinuous"
    assert type(bench_throughput.make_learner(game, 4, "cpu", algo="ac_smfg_continuous").leader_gradient
                ).__name__ == "Partial"
