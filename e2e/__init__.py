"""The end-to-end tests (real Chromium against the real server) and their harness: `browser`
(which Chromium, started how), `station`, `console`, `phone`, `camera`, `layout`, `js_runner`.
A package, so the benchmarks import the harness as `e2e.browser`, `e2e.console`, … like any module."""
