"""Benchmarks, never timed tests: `python -m bench` runs them all and writes docs/benchmarks.md;
`python -m bench.<module>` runs one and prints its section. Run from the project root, which -m
puts on sys.path, so they import `events`, `tests.support` and the `e2e` harness as packages."""
