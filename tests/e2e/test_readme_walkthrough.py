"""The README's first-five-minutes walk-through works as printed, against the running local stack."""
import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    match = re.search(r"<!-- walkthrough:[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert match, "the README lost its walk-through block"
    return match.group(1)


def test_the_readme_walkthrough_works_as_printed(stack):
    # Given the block exactly as a newcomer would paste it, with the stack's URL and root key
    env = {**os.environ, "LAUREL": stack.base_url, "ROOT": stack.root_key}
    # When bash runs it, stopping at the first failing command
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], env=env, capture_output=True,
                         text=True, timeout=120)
    # Then every step worked, and it printed what the README says it prints
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert '{"status":"ok"}' in lines[0].replace(" ", "")
    assert "12" in lines and "112" in lines
    assert '"status": "fulfilled"' in run.stdout and "PASTRY-000" in run.stdout
    assert '"kind": "redeem"' in run.stdout
