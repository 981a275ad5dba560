"""deep_smfg: learning equilibria of Stackelberg mean field games with deep function approximation.

The Python API (docs/custom_games.md): :func:`train`, :func:`load_run` and :class:`Run` (from :mod:`deep_smfg.api`,
imported on first use).
"""

__version__ = "0.1.0"

_API = ("train", "load_run", "Run")


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'deep_smfg' has no attribute {name!r}")


__all__ = [*_API, "__version__"]
