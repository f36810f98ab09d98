"""What a benchmark hands the runner (bench/__main__.py): its figures and its section of the doc.

Each benchmark module has `measure(quick: bool, ...) -> Section`; run alone (`python -m
bench.<name>`) it prints the section's body, as it always printed its report.

A Figure is one headline number: its median and spread (which spread is named: p10–p90 over the
samples unless it says otherwise, bench/machine.py's percentile rule), its target as written in
the issue (or "none set"), whether it was met, and, where the benchmark has a baseline, the
baseline measured in the same run and the ratio.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.machine import percentile

NONE_SET = "none set"


@dataclass
class Figure:
    name: str
    unit: str  # "ms", "µs", "s", "ops/s", "req/s", "bytes", "%"
    median: float
    low: float | None = None
    high: float | None = None
    spread: str = "p10–p90"  # which spread low–high is: "p10–p90", "min–max", "min–max of runs", ...
    target: str = NONE_SET
    met: bool | None = None  # None: no target to meet
    baseline: str = ""  # what the ratio is against, with its own value, measured in the same run
    ratio: str = ""
    digits: int = 0

    def value(self, x: float | None = None) -> str:
        x = self.median if x is None else x
        return f"{x:,.{self.digits}f}"

    def spread_text(self) -> str:
        if self.low is None or self.high is None:
            return "—"
        return f"{self.value(self.low)}–{self.value(self.high)} ({self.spread})"

    def verdict(self) -> str:
        if self.met is None:
            return "—"
        return "met" if self.met else "**missed**"


@dataclass
class Section:
    key: str  # the module: bench.<key>
    title: str
    command: str  # how to run it alone, full size
    body: str  # markdown: what was measured and how, the detailed tables, the notes
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a run whose checks failed: figures not to be taken
    seconds: float = 0.0  # how long the measurement took, setup included


def sampled(name: str, unit: str, values: list[float], *, digits: int = 0, **kwargs) -> Figure:
    """A figure from samples: median, p10–p90."""
    return Figure(
        name,
        unit,
        statistics.median(values),
        percentile(values, 0.1),
        percentile(values, 0.9),
        "p10–p90",
        digits=digits,
        **kwargs,
    )


def ranged(name: str, unit: str, values: list[float], *, digits: int = 0, spread: str = "min–max", **kwargs) -> Figure:
    """A figure from a few runs: median, min–max."""
    return Figure(name, unit, statistics.median(values), min(values), max(values), spread, digits=digits, **kwargs)


class Lines:
    """A markdown body built line by line (what the scripts used to print)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        self.lines.append(text)

    def text(self) -> str:
        return "\n".join(self.lines).strip("\n") + "\n"


def summary_table(sections: list[Section]) -> str:
    rows = [
        "| benchmark | figure | median | spread | target | baseline, same run | ratio | target met |",
        "|---|---|---:|---|---|---|---|---|",
    ]
    for section in sections:
        for figure in section.figures:
            verdict = figure.verdict() if not section.problems else "run had problems: not taken"
            rows.append(
                f"| [{section.title}](#{anchor(section.title)}) | {figure.name} | **{figure.value()}** {figure.unit} "
                f"| {figure.spread_text()} | {figure.target} | {figure.baseline or '—'} | {figure.ratio or '—'} | {verdict} |"
            )
    return "\n".join(rows) + "\n"


def anchor(title: str) -> str:
    """GitHub's heading anchor."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def print_section(section: Section) -> None:
    """What `python -m bench.<name>` prints: the section's body and its headline figures."""
    print(section.body)
    print(summary_table([section]))
    for problem in section.problems:
        print(f"- PROBLEM: {problem}")
    if section.problems:
        raise SystemExit(1)
