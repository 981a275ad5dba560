"""The Hydra configs, shipped as the package ``deep_smfg.configs`` (pyproject.toml maps this folder to it).

Edit the YAML files here; ``deep_smfg.cli.config_dir()`` finds them with ``importlib.resources`` both in an
editable install and in an installed wheel (docs/installing.md).
"""
