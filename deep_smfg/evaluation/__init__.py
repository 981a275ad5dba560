"""Metrics and plots: exact for finite games, estimated for continuous ones."""
