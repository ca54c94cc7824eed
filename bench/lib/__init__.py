"""Support code shared by the benchmarks (not benchmarks themselves)."""
