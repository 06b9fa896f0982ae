"""Peer servers for the benchmark; each runs in its own venv under benchmarks/.venvs/."""
