"""Figures next to their targets, as plain-text tables."""
from __future__ import annotations

from dataclasses import asdict, dataclass

OK, MISSED = "✓", "✗"


@dataclass
class Check:
    """One figure against its target."""

    section: str
    figure: str
    value: float
    limit: float
    unit: str = ""

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    @property
    def target(self) -> str:
        return f"≤{self.limit:g}{self.unit}"

    def cell(self, shown: str | None = None) -> str:
        return f"{shown if shown is not None else number(self.value)} {self.target} {OK if self.ok else MISSED}"

    def as_dict(self) -> dict:
        return {**asdict(self), "target": self.target, "ok": self.ok}


def number(value: float, digits: int = 2) -> str:
    """A figure without noise: 2, 2.5, 2.05."""
    return f"{round(value, digits):g}"


def table(header: list[str], rows: list[list[str]], align: str) -> str:
    """Columns padded to their widest cell; `align` has one 'l' or 'r' per column."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
