"""The packages, for setuptools (everything else is in pyproject.toml): every package under deep_smfg/, found,
plus the top-level configs/ folder installed as the package deep_smfg.configs (docs/installing.md).
pyproject.toml alone cannot combine a package search with a folder outside deep_smfg/."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["deep_smfg", "deep_smfg.*"]) + ["deep_smfg.configs"],
    package_dir={"deep_smfg.configs": "configs"},
    package_data={"deep_smfg.configs": ["*.yaml", "*/*.yaml", "*/*/*.yaml"]},  # */*/: algo/for_game/
)
