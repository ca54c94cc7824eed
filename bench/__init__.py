"""Luban's benchmarks: ``python -m bench --list`` names them (see bench/README.md)."""
