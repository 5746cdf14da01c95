"""`python -m bench` (`make bench`): DynamoDB cost per operation, handler import time, artifact size,
member import throughput, tier recalculation, contention on hot items (strict emulator), analytics reads.

Prints each figure next to its target (✓ met, ✗ missed) and writes them all to build/bench.json.
It is a report: a missed target still exits 0; a figure that could not be measured exits 1.
Run `make package` first (`make bench` does) so section C and the "package" import column have
artifacts to look at.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import MISSED, OK, Check, number, table

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
MB = 1024 * 1024

# Targets (from the issue).
EARN_MAX_REQUESTS = 2
EARN_MAX_WRITES = 1
EARN_MAX_WCU = 5  # 2 items under 1 KB in a transaction (2 x 2) + the entry's gsi1 projection (1)
BALANCE_MAX_REQUESTS = 1
DIRECTORY_MAX_REQUESTS = 2  # a member found by email: the keyed-hash lookup, then the member (issue 14)
IMPORT_MAX_RATIO = 1.5  # a function's handler module
API_IMPORT_MAX_RATIO = 1.2  # the API's (app): every route's first call waits for it
API_MODULE = "app"
MAX_ZIPPED_MB = 25
MAX_UNZIPPED_MB = 60
IMPORT_ROWS = 20_000  # D's default sample; --import-rows 100000 runs the full file (~14 minutes)
TIER_MEMBERS = 100_000  # E: the scale (1% of them change tier)
CONTENTION_OPERATIONS = 256  # F: per race and number of clients (~1 minute in all)
HISTORY_MAX_COST_RATIO = 1.2  # G: the 730-day member's earn against a new member's, in dollars per million
HISTORY_MAX_WCU = 5  # G: the 730-day member's earn, a 600-byte profile and the entry's index included
ANALYTICS_MAX_REQUESTS = {30: 2, 365: 3}  # H: the program's GetItem and one Query (a page per MB of day items)
CONFLICT_GROWTH_MAX = 0.1  # F: conflicts per operation, most clients less fewest ("do not grow", with noise)

OPERATIONS = {  # measurement name -> (label, steady-state targets apply)
    "earn_http": ("earn over HTTP", "earn"),
    "earn_http_first_call": ("  first call of a key (auth not cached)", None),
    "earn_queue": ("earn over queue, per event (batch of 10)", "earn"),
    "balance": ("balance read", "balance"),
    "redeem_gift_card": ("redeem gift card", None),
    "redeem_cashback": ("redeem cashback (unlimited stock)", None),
    "rewards_list": ("rewards list (one page)", None),
    "member_catalog": ("a member's catalog view (one page)", None),
    "member_redemptions": ("a member's redemptions (one page)", None),
    "directory_email": ("directory search by email", "directory"),
    "liability": ("liability report (program 1 day old)", None),
    "predictions": ("a member's predictions", None),
    "member_catalog_recommended": ("a member's catalog, recommended order", None),
}


def _cell(checks: dict[str, Check], figure: str, value: float, shown: str | None = None) -> str:
    """A figure, with its target and mark when it has one."""
    check = checks.get(figure)
    return check.cell(shown) if check else (shown if shown is not None else number(value))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, runs: int, package_runs: int, import_rows: int = IMPORT_ROWS,
                 tier_members: int = TIER_MEMBERS, contention_operations: int = CONTENTION_OPERATIONS,
                 history: bool = True, analytics: bool = True) -> None:
        self.runs = runs
        self.package_runs = package_runs  # 0: skip the package setting
        self.import_rows = import_rows  # 0: skip section D
        self.tier_members = tier_members  # 0: skip section E
        self.contention_operations = contention_operations  # 0: skip section F
        self.history = history  # False: skip section G
        self.analytics = analytics  # False: skip section H
        self.checks: list[Check] = []
        self.errors: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.text: dict[str, str] = {}

    def section(self, key: str, title: str, run: Callable[[], str]) -> None:
        started = time.perf_counter()
        log(f"bench: {title} ...")
        try:
            self.text[key] = run()
        except Exception as error:  # noqa: BLE001 - report it and go on with the other sections
            self.errors[key] = f"{type(error).__name__}: {error}"
            self.text[key] = f"{MISSED} not measured: {self.errors[key]}"
            log(traceback.format_exc())
        log(f"bench: {title}: {time.perf_counter() - started:.1f} s")

    # ------------------------------------------------------------------------ A

    def dynamodb(self) -> str:
        from bench import operations

        measurements = {m.name: m for m in operations.measure()}
        rows, details, records = [], [], []
        for name, (label, targets) in OPERATIONS.items():
            m, audit = measurements[name].split("audit")
            checks = []
            if targets == "earn":
                checks = [Check("A", f"{name}.requests", m.requests, EARN_MAX_REQUESTS),
                          Check("A", f"{name}.writes", m.writes, EARN_MAX_WRITES),
                          Check("A", f"{name}.wcu", m.wcu, EARN_MAX_WCU)]
            elif targets == "balance":
                checks = [Check("A", f"{name}.requests", m.requests, BALANCE_MAX_REQUESTS)]
            elif targets == "directory":
                checks = [Check("A", f"{name}.requests", m.requests, DIRECTORY_MAX_REQUESTS)]
            self.checks += checks
            by_figure = {c.figure.rsplit(".", 1)[1]: c for c in checks}
            wcu = f"{number(m.wcu)} (GSI {number(m.index_wcu)})"
            trail = (f"+{number(audit.requests)} req, {number(audit.rcu)} RCU, {number(audit.wcu)} WCU"
                     if audit.calls else "")
            rows.append([label, _cell(by_figure, "requests", m.requests), _cell(by_figure, "writes", m.writes),
                         number(m.rcu), _cell(by_figure, "wcu", m.wcu, wcu), trail, number(len(m.clients) / m.per)])
            records.append({**m.as_dict(), "label": label.strip(), "checks": [c.as_dict() for c in checks],
                            "audit": audit.as_dict() if audit.calls else None})
            if not label.startswith(" "):
                details.append(self._breakdown(label, measurements[name]))
        self.data["dynamodb"] = records
        return "\n".join([
            "A. DynamoDB per operation (moto in-process; requests counted at botocore, capacity computed",
            "   from item sizes by bench/capacity.py: moto reports none)",
            table(["operation", "requests", "writes", "RCU", "WCU", "audit trail", "new clients"], rows, "lrrrrlr"),
            (f"   targets: an earn ≤{EARN_MAX_REQUESTS} requests of which {EARN_MAX_WRITES} write, ≤{EARN_MAX_WCU} WCU"
             " (2 items under 1 KB in a transaction, 2 x 2, + 1 for the"),
            (f"   entry's gsi1 copy); a balance read {BALANCE_MAX_REQUESTS} request. Steady state: the key already"
             " checked by a warm-up call."),
            ("   audit trail: what the call's record in its organisation's audit trail adds (issue 15: staff writes and"
             " reads of"),
            "   personal data; an earn and a balance read add none), apart from the call's own figures.",
            ("   WCU (GSI n): n of them for index entries. new clients: botocore clients created during the call"
             " (each loads"),
            "   the service model and opens new connections; a warm function should create none).",
            "",
            "   where the units go (one request per line; sizes are the larger of before/after):",
            *details,
        ])

    @staticmethod
    def _breakdown(label: str, m) -> str:
        calls = m.calls
        if m.per > 1:  # one event's share of a batch: its calls up to its transaction
            end = next((i for i, c in enumerate(calls) if c.operation == "TransactWriteItems"), len(calls) - 1)
            calls = calls[:end + 1]
        lines = [f"   {label}:"] + [f"     {c.describe()}" for c in calls]
        if m.per > 1:
            lines.append(f"     ... and the same for each of the {m.per} events ({len(m.calls)} requests in all)")
        return "\n".join(lines)

    # ------------------------------------------------------------------------ B

    def imports(self) -> str:
        from bench import imports
        from infra.cfn import load_template
        from infra.package import LAMBDA_RUNTIME_PROVIDES, SOURCE_TEMPLATE

        modules = imports.handler_modules(load_template(SOURCE_TEMPLATE))
        targets = [imports.Target(module, functions) for module, functions in modules.items()]
        dev = imports.measure(targets, imports.Target(imports.BASELINE, []), self.runs)
        package = None
        built = BUILD / "template.yaml"
        if self.package_runs and built.is_file():
            with imports.unpacked(BUILD, load_template(built), list(LAMBDA_RUNTIME_PROVIDES.values())) as paths:
                if paths is not None:
                    package_targets = [imports.Target(t.module, t.functions, paths[t.functions[0]])
                                       for t in targets]
                    package = imports.measure(package_targets,
                                              imports.Target(imports.BASELINE, [], paths["runtime"]),
                                              self.package_runs)

        def ratio_cells(timings, module: str, setting: str) -> list[str]:
            base = timings[imports.BASELINE].median_ms
            ms = timings[module].median_ms
            if module == imports.BASELINE:
                return [f"{ms:.0f}", "1.00"]
            target = API_IMPORT_MAX_RATIO if module == API_MODULE else IMPORT_MAX_RATIO
            check = Check("B", f"{setting}.{module}", ms / base, target, "×")
            if setting == "dev":
                self.checks.append(check)
            return [f"{ms:.0f}", check.cell(f"{ms / base:.2f}")]

        rows = []
        for module in [imports.BASELINE, *modules]:
            row = [module if module != imports.BASELINE else "boto3 (baseline)",
                   ", ".join(modules.get(module, [])), *ratio_cells(dev, module, "dev")]
            if package is not None:
                row += ratio_cells(package, module, "package")
            rows.append(row)
        header = ["handler module", "functions", "dev ms", "× boto3"]
        if package is not None:
            header += ["package ms", "× boto3"]
        self.data["imports"] = {
            "runs": self.runs, "package_runs": self.package_runs if package is not None else 0,
            "dev": {k: {"median_ms": v.median_ms, "seconds": v.seconds, "functions": v.functions}
                    for k, v in dev.items()},
            "package": None if package is None else {
                k: {"median_ms": v.median_ms, "seconds": v.seconds, "functions": v.functions}
                for k, v in package.items()},
        }
        notes = [(f"   dev: .venv/bin/python -c 'import X' in the repository, median of {self.runs}"
                  " (the target applies here).")]
        if package is not None:
            notes.append(f"   package: build/ artifacts unzipped, python -I -S -B, median of {self.package_runs}:"
                         " nothing else on the path and")
            notes.append("   no bytecode written, as on Lambda (boto3 from the virtualenv stands in for the"
                         " runtime's).")
        else:
            notes.append("   package: not measured (run `make package` first).")
        return "\n".join([
            "B. Cold-start import of each handler module: fresh interpreters taking turns with `import boto3`",
            table(header, rows, "llrrrr"[:len(header)]),
            *notes,
        ])

    # ------------------------------------------------------------------------ C

    def sizes(self) -> str:
        from bench.sizes import function_sizes
        from infra.cfn import load_template

        built = BUILD / "template.yaml"
        if not built.is_file():
            raise FileNotFoundError(f"{built} is missing: run `make package` first")
        rows, records = [], []
        for size in function_sizes(BUILD, load_template(built)):
            zipped = Check("C", f"{size.function}.zipped_mb", size.zipped / MB, MAX_ZIPPED_MB, " MB")
            unzipped = Check("C", f"{size.function}.unzipped_mb", size.unzipped / MB, MAX_UNZIPPED_MB, " MB")
            self.checks += [zipped, unzipped]
            parts = " + ".join(f"{Path(a).name} {z / MB:.2f}/{u / MB:.2f}" for a, (z, u) in size.parts.items())
            rows.append([size.function, zipped.cell(f"{size.zipped / MB:.2f}"),
                         unzipped.cell(f"{size.unzipped / MB:.2f}"), parts])
            records.append({"function": size.function, "zipped": size.zipped, "unzipped": size.unzipped,
                            "parts": {a: {"zipped": z, "unzipped": u} for a, (z, u) in size.parts.items()}})
        self.data["sizes"] = records
        return "\n".join([
            "C. Deployment size per function (its zip + the layer, from build/)",
            table(["function", "zipped MB", "unzipped MB", "parts: zipped/unzipped MB"], rows, "lrrl"),
        ])

    # ------------------------------------------------------------------------ D

    def member_import(self) -> str:
        from bench import member_import

        result = member_import.run(self.import_rows)
        self.data["member_import"] = result
        limit = member_import.LAMBDA_LIMIT_SECONDS
        for key in ("import", "resync"):
            self.checks.append(Check("D", f"member_import.{key}.seconds_for_100k",
                                     result[key]["projected_seconds_for_100k"], limit, " s"))
        full = self.import_rows >= member_import.ROWS
        ran = (f"   ran: {self.import_rows:,} rows, the full file" if full else
               f"   ran: {self.import_rows:,} rows, a sample (100k figures extrapolated from it; "
               f"--import-rows {member_import.ROWS} runs the full file, ~14 min)")
        return "\n".join([
            "D. Member import: a CSV through S3's notification, the imports queue and MemberImportFunction",
            ran,
            member_import.render(result),
            (f"   target: {member_import.ROWS:,} rows within one invocation's {limit} s (wall time on moto,"
             " the conservative figure), for the import and the re-sync alike."),
        ])

    # ------------------------------------------------------------------------ E

    def tier_recalculation(self) -> str:
        from bench import tier_recalculation

        result = tier_recalculation.run(self.tier_members)
        self.data["tier_recalculation"] = result
        self.checks.append(Check("E", "tier_recalculation.scheduled_requests",
                                 result["scheduled"]["dynamodb_requests_total"],
                                 result["target_requests"] + tier_recalculation.CONSTANT, ""))
        return tier_recalculation.render(result)

    # ------------------------------------------------------------------------ F

    def contention(self) -> str:
        from bench import contention

        runs = contention.run(operations=self.contention_operations)
        self.data["contention"] = [run.as_dict() for run in runs]
        for run in runs:
            figure = f"contention.{run.race.replace(' ', '_')}.{run.clients}"
            self.checks += [Check("F", f"{figure}.busy", run.busy, 0),
                            Check("F", f"{figure}.past_limit", int(run.past_limit), 0)]
        growth_lines = []
        for race in dict.fromkeys(run.race for run in runs):
            ordered = sorted((run for run in runs if run.race == race), key=lambda run: run.clients)
            fewest, most = ordered[0], ordered[-1]
            growth = most.conflicts / most.operations - fewest.conflicts / fewest.operations
            check = Check("F", f"contention.{race.replace(' ', '_')}.conflicts_per_op_growth", growth,
                          CONFLICT_GROWTH_MAX)
            self.checks.append(check)
            growth_lines.append(f"   {race}: conflicts/op with {most.clients} clients less with {fewest.clients}: "
                                f"{check.cell(f'{growth:+.2f}')}")
        return "\n".join([contention.render(runs), *growth_lines])

    # ------------------------------------------------------------------------ G

    def earn_history(self) -> str:
        from bench import earn_history

        result = earn_history.run()
        self.data["earn_history"] = result
        rows = {row["name"]: row for row in result["results"]}
        longest, new = max(earn_history.HISTORIES), min(earn_history.HISTORIES)
        oldest, fresh = rows[f"earn after {longest} days"], rows[f"earn after {new} days"]
        checks = {
            "requests": Check("G", "earn_history.oldest.requests", oldest["requests"], EARN_MAX_REQUESTS),
            "wcu": Check("G", "earn_history.oldest.wcu", oldest["wcu"], HISTORY_MAX_WCU),
            "ratio": Check("G", "earn_history.oldest.cost_ratio",
                           oldest["dollars_per_million"] / fresh["dollars_per_million"], HISTORY_MAX_COST_RATIO, "×"),
            "balance": Check("G", "earn_history.balance.requests", rows[f"balance read after {longest} days"]["requests"],
                             BALANCE_MAX_REQUESTS),
        }
        self.checks += checks.values()
        body = []
        for name, row in rows.items():
            measured = row is oldest
            body.append([name, checks["requests"].cell(number(row["requests"])) if measured else number(row["requests"]),
                         number(row["rcu"]), (checks["wcu"].cell(f"{number(row['wcu'])} (GSI {number(row['index_wcu'])})")
                                              if measured else f"{number(row['wcu'])} (GSI {number(row['index_wcu'])})"),
                         f"{row['dollars_per_million']:.2f}"])
        body[-1][1] = checks["balance"].cell(number(rows[f"balance read after {longest} days"]["requests"]))
        sizes, prices = result["sizes"], result["prices"]
        ratio = checks["ratio"].cell(f"{checks['ratio'].value:.2f}")
        return "\n".join([
            "G. An earn by the member's history: daily earns (and the nightly jobs) for 0, 365 and 730 days,",
            "   then one measured earn each; program with 365-day expiry and two tiers; ~600-byte profile",
            table(["operation", "requests", "RCU", "WCU", "$ per million"], body, "lrrrr"),
            f"   {longest}-day earn / new member's earn, in dollars: {ratio}",
            (f"   prices: DynamoDB on-demand, us-east-1: ${prices['write_per_million']} per million write units, "
             f"${prices['read_per_million']} per million read units (capacity as in section A)"),
            (f"   the {longest}-day member: account item {sizes['account_bytes']} B, profile {sizes['profile_bytes']} B, "
             f"{sizes['sealed_months']} sealed months of at most {sizes['sealed_month_bytes_max']} B each"),
        ])

    # ------------------------------------------------------------------------ H

    def analytics_read(self) -> str:
        from bench import analytics_read

        result = analytics_read.run()
        self.data["analytics_read"] = result
        rows = result["results"]
        body = []
        for days in analytics_read.RANGES:
            mine = [row for row in rows if row["days"] == days]
            check = Check("H", f"analytics_read.{days}_days.requests", max(row["requests"] for row in mine),
                          ANALYTICS_MAX_REQUESTS[days])
            # the same requests whatever the members and events, until the day items are as full as they get
            usual = [row["requests"] for row in mine if not row["dense"]]
            spread = Check("H", f"analytics_read.{days}_days.requests_spread", max(usual) - min(usual), 0)
            self.checks += [check, spread]
            body += [[f"{days} days", row["scene"], f"{row['events']:,}", check.cell(number(row["requests"])),
                      number(row["rcu"]), number(row["ms"], 0)] for row in mine]
        return "\n".join([
            "H. An analytics read (GET .../analytics, by day) by the program's size: requests must not grow with",
            "   members or events (a day item holds its counters and a sketch of its active members, 4 KB at most:",
            "   the worst case, every day that full, bounds the read; a Query page holds 1 MB)",
            table(["range", "program", "events", "requests", "RCU", "ms"], body, "llrrrr")])

    # ------------------------------------------------------------------------ all

    def run(self) -> int:
        started = time.perf_counter()
        # Subprocess timings first, before this process fills the machine's memory with moto.
        self.section("C", "C. deployment size", self.sizes)
        self.section("B", "B. import time", self.imports)
        self.section("A", "A. DynamoDB per operation", self.dynamodb)
        if self.import_rows:
            self.section("D", "D. member import", self.member_import)
        if self.tier_members:
            self.section("E", "E. tier recalculation", self.tier_recalculation)
        if self.contention_operations:
            self.section("F", "F. contention", self.contention)
        if self.history:
            self.section("G", "G. earn by history", self.earn_history)
        if self.analytics:
            self.section("H", "H. analytics read", self.analytics_read)
        seconds = time.perf_counter() - started
        met = sum(check.ok for check in self.checks)
        summary = (f"{met} of {len(self.checks)} targets met {OK}" if met == len(self.checks)
                   else f"{len(self.checks) - met} of {len(self.checks)} targets missed {MISSED}: "
                        + ", ".join(c.figure for c in self.checks if not c.ok))
        if self.errors:
            summary += f"; not measured: {', '.join(sorted(self.errors))} {MISSED}"
        now = datetime.now(UTC)
        print(f"Laurel bench, {now:%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, {seconds:.0f} s\n")
        print("\n\n".join(self.text[key] for key in ("A", "B", "C", "D", "E", "F", "G", "H") if key in self.text))
        print(f"\n{summary}")
        BUILD.mkdir(exist_ok=True)
        output = BUILD / "bench.json"
        output.write_text(json.dumps({
            "generated_at": now.isoformat(timespec="seconds"), "python": platform.python_version(),
            "seconds": round(seconds, 1), "targets_met": met, "targets": len(self.checks),
            "checks": [c.as_dict() for c in self.checks], "errors": self.errors, **self.data,
        }, indent=2, ensure_ascii=False) + "\n")
        print(f"written: {output.relative_to(ROOT)}")
        return 1 if self.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9,
                        help="fresh interpreters per module, dev setting (default 9)")
    parser.add_argument("--package-runs", type=int, default=5,
                        help="fresh interpreters per module from the unzipped artifacts (default 5, 0 skips)")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS,
                        help=f"rows of section D's member import (default {IMPORT_ROWS:,}; 100000 is the full"
                             " file, ~14 min; 0 skips it)")
    parser.add_argument("--tier-members", type=int, default=TIER_MEMBERS,
                        help=f"members of section E's tier recalculation (default {TIER_MEMBERS:,}; 0 skips it)")
    parser.add_argument("--contention-operations", type=int, default=CONTENTION_OPERATIONS,
                        help=f"operations of each of section F's races (default {CONTENTION_OPERATIONS}; 0 skips it)")
    parser.add_argument("--no-history", action="store_true", help="skip section G (earn by history, ~2 min)")
    parser.add_argument("--no-analytics", action="store_true", help="skip section H (analytics reads, ~1 min)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    return Bench(max(1, args.runs), max(0, args.package_runs), max(0, args.import_rows),
                 max(0, args.tier_members), max(0, args.contention_operations), not args.no_history,
                 not args.no_analytics).run()


if __name__ == "__main__":
    sys.exit(main())
