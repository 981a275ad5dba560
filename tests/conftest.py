"""Shared test set-up: one CPU thread (the suite must run on 2 cores)."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def in_tmp_folder(monkeypatch, tmp_path):
    """A command's test set-up: W&B off, and the cwd a fresh folder (default run folders and caches land in its
    runs/). Used by a module with ``pytestmark = pytest.mark.usefixtures("in_tmp_folder")``."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
