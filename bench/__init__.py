"""Benchmarks: `make bench` (python -m bench [name …]). Each prints measured figures beside a
baseline measured in the same run."""
