"""Benchmarks (not tests): `make bench`, results recorded in docs/performance.md."""
