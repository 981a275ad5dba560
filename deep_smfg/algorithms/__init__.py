"""Learners as LightningModules."""
