"""Locust's figures as a table and as build/load.json."""
from __future__ import annotations

from typing import Any

PERCENTILES = (0.5, 0.95, 0.99)


def entry_figures(entry, refusals: int = 0) -> dict[str, Any]:
    """One request type (or the total) from locust's StatsEntry; times in ms."""
    count = entry.num_requests
    return {
        "requests": count,
        "errors": entry.num_failures,
        "business_refusals": refusals,
        "error_rate": entry.num_failures / count if count else 0.0,
        "rps": round(entry.total_rps, 2),
        **{f"p{round(p * 100)}_ms": entry.get_response_time_percentile(p) if count else None for p in PERCENTILES},
        "avg_ms": round(entry.avg_response_time, 1) if count else None,
        "max_ms": round(entry.max_response_time, 1) if count else None,
    }


def table(headers: list[str], rows: list[list[str]], align: str) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list) -> str:
        return "  ".join(str(cell).ljust(width) if side == "l" else str(cell).rjust(width)
                         for cell, width, side in zip(cells, widths, align)).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])])


def _ms(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(result: dict[str, Any]) -> str:
    rows = []
    for name, figures in [*result["requests"].items(), ("all requests", result["total"])]:
        rows.append([name, f"{figures['requests']:,}", f"{figures['rps']:.1f}", _ms(figures["p50_ms"]),
                     _ms(figures["p95_ms"]), _ms(figures["p99_ms"]), _ms(figures["max_ms"]),
                     f"{figures['errors']:,}", f"{figures['error_rate']:.2%}", f"{figures['business_refusals']:,}"])
    config = result["config"]
    lines = [
        f"Load: {config['users']} users (spawn {config['spawn_rate']}/s), {result['duration_s']:.0f} s, "
        f"against {config['target']}",
        "",
        table(["request", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "error %",
               "409 expected"], rows, "lrrrrrrrrr"),
        "",
        f"throughput {result['total']['rps']:.1f} req/s; errors {result['total']['errors']:,} of "
        f"{result['total']['requests']:,} ({result['total']['error_rate']:.2%}, limit {result['error_limit']:.0%})",
    ]
    if result["refusals"]:
        lines.append("expected business answers (not errors): " + ", ".join(
            f"{name} 409 {code} x{count}" for name, code, count in result["refusals"]))
    if result["errors"]:
        lines.append("errors by kind:")
        lines += [f"  {e['occurrences']:>6,}  {e['name']}: {e['error']}" for e in result["errors"]]
    check = result.get("ledger_check")
    if check:
        drained = {True: "yes", False: "NO (still busy after 60 s)", None: "not checked (no control port)"}
        lines.append(f"ledger check: {check['members_checked']} members, transactions sum to available + pending: "
                     f"{'yes' if not check['mismatches'] else 'NO ' + str(check['mismatches'])}; "
                     f"queues drained first: {drained[check['drained']]}")
    strict = result.get("strict_emulator")
    if strict and strict["settings"]:
        settings, counts = strict["settings"], strict["counters"]
        lines.append(f"strict emulator (transactions hold their items {settings['commit_ms']:g} ms, at most "
                     f"{settings['item_wcu']:,} WCU/s per item): {counts['transactions']:,} transactions, "
                     f"{counts['transaction_conflicts']:,} cancelled by a conflict, {counts['write_conflicts']:,} "
                     f"single writes refused by one, {counts['throttled_transactions'] + counts['throttled_writes']:,}"
                     " throttled")
    lines.append(f"verdict: {'PASS' if result['passed'] else 'FAIL'} ({result['verdict']})")
    return "\n".join(lines)
