"""Benchmark scripts and the baselines they compare against (not part of the installed package)."""
