"""Static checks of the sources, no stack needed: bandit finds no HIGH severity issue, and ruff's
pyflakes (F) and syntax (E9) rules pass on every Python file of the repository.

Medium and low bandit findings are reported as a warning (pytest's warnings summary), not failures:
each one is either fixed or marked `# <reason>  # nosec Bxxx` where it is a false positive.
"""
import json
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BANDIT_TARGETS = ("app.py", "chalicelib", "functions", "local", "infra", "bench", "fuzz")
TIMEOUT = 300


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.fixture(scope="module")
def bandit() -> dict:
    targets = [target for target in BANDIT_TARGETS if (REPO / target).exists()]
    finished = _run("bandit", "-r", *targets, "-f", "json", "-q")
    assert finished.stdout.strip(), f"bandit wrote no report (exit {finished.returncode}):\n{finished.stderr}"
    return json.loads(finished.stdout)


def _line(result: dict) -> str:
    return (f"{result['issue_severity']}/{result['issue_confidence']} {result['test_id']} {result['test_name']} "
            f"{Path(result['filename']).as_posix()}:{result['line_number']}: {result['issue_text']}")


def test_bandit_finds_no_high_severity_issue(bandit):
    results = bandit["results"]
    high = [result for result in results if result["issue_severity"] == "HIGH"]
    counts = Counter(result["issue_severity"] for result in results)
    others = "\n".join(_line(result) for result in results if result["issue_severity"] != "HIGH")
    summary = (f"bandit: {counts['HIGH']} high, {counts['MEDIUM']} medium, {counts['LOW']} low "
               f"({bandit['metrics']['_totals']['skipped_tests']} marked nosec)")
    assert not high, f"{summary}\n" + "\n".join(_line(result) for result in high) + f"\n{others}"
    if results:
        warnings.warn(f"{summary}:\n{others}", stacklevel=1)


def test_bandit_read_every_file(bandit):
    assert not bandit["errors"], bandit["errors"]


def test_ruff_pyflakes_and_syntax_rules_pass():
    finished = _run("ruff", "check", "--select", "F,E9", "--output-format", "concise", "--no-cache", ".")
    assert finished.returncode == 0, f"ruff check --select F,E9 .\n{finished.stdout}{finished.stderr}"
