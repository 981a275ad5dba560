"""Silence the libraries' noise that says nothing about a run, at its source, before a job starts:

* matplotlib's ``findfont`` warnings (about twenty, for the mathtext fonts a plot never uses);
* Lightning's advertisement for litlogger (an INFO record of ``lightning.pytorch.utilities.rank_zero``);
* a deprecation warning that Lightning's pytree helpers trigger in torch (``LeafSpec``);
* W&B's warning about its deprecated ``anonymous`` setting, which Lightning's ``WandbLogger`` passes to
  ``wandb.init`` even when unset (:func:`drop_wandb_anonymous` removes the argument).

Anything else the libraries say still reaches the user.
"""

from __future__ import annotations

import logging
import warnings

_DROPPED = ("litlogger",)


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in _DROPPED)


def install() -> None:
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # "findfont: ... not found" x 21
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in log.filters):
        log.addFilter(_DropAdverts())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


def drop_wandb_anonymous(logger) -> None:
    """Lightning 2.6's ``WandbLogger`` always passes ``anonymous=None`` to ``wandb.init``, which W&B 0.31 warns
    about whatever its value; the logger keeps the init arguments in ``_wandb_init`` until the run starts."""
    logger._wandb_init.pop("anonymous", None)
