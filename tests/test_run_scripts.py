"""scripts/run_results.train_once, which every results script trains through: a finished run folder is read back only
when it holds the run asked for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deep_smfg.cli import compose_config

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from run_results import other_config, train_once  # noqa: E402

ASKED = ["game=congestion_toll", "seed=3"]


def finished_run(folder: Path, overrides: list[str]) -> Path:
    folder.mkdir()
    OmegaConf.save(compose_config("train", overrides), folder / "config.yaml")
    (folder / "summary.json").write_text(json.dumps({"status": "completed", "final": {"marker": 1}}))
    return folder


def test_a_finished_run_of_the_same_config_is_read_back(tmp_path):
    run = finished_run(tmp_path / "run", ASKED)
    assert other_config(ASKED, run) is None
    assert train_once(ASKED, run)["final"] == {"marker": 1}  # not trained again


@pytest.mark.parametrize(("other", "section"), [(["seed=4"], "seed"), (["algo.n_envs=32"], "algo"),
                                                (["game.c1=0.5"], "game")])
def test_a_finished_run_of_another_config_is_an_error_not_a_result(tmp_path, other, section):
    run = finished_run(tmp_path / "run", ASKED)
    asked = [*ASKED, *other]
    assert other_config(asked, run) == section
    with pytest.raises(RuntimeError, match=f"holds a completed run whose {section} differs"):
        train_once(asked, run)


def test_configs_compose_from_several_threads_at_once(tmp_path):
    """The results scripts read finished runs back from a thread pool (``--jobs``): composing a config while another
    thread composes one must not fail (Hydra's compose API keeps one global state; ``compose_config`` serialises)."""
    from concurrent.futures import ThreadPoolExecutor

    runs = [finished_run(tmp_path / f"run{k}", [*ASKED, f"algo.n_envs={8 * (k + 1)}"]) for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        differs = list(pool.map(lambda k: other_config([*ASKED, f"algo.n_envs={8 * (k + 1)}"], runs[k]),
                                [0, 1, 2, 3] * 5))
    assert differs == [None] * 20
