"""deep_smfg: learning equilibria of Stackelberg mean field games with deep function approximation."""

__version__ = "0.1.0"
