"""The object a config's ``_target_`` names: ``package.module.Name`` imported (what games, learners, solvers and
evaluators are found by; each caller turns a failure into its own error)."""

from __future__ import annotations

import importlib


def import_dotted(path: str):
    """The object at ``path``; ``ImportError``, ``AttributeError`` or ``ValueError`` (no module part) if there is
    none."""
    module, _, name = str(path).rpartition(".")
    return getattr(importlib.import_module(module), name)
