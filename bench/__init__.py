"""Benchmarks; each module's main() prints its figures and writes bench/results/<name>.json."""
