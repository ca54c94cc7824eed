"""Reference servers the benchmarks compare the kernel against."""
