"""Builds the benchmark's models into a model repository."""
