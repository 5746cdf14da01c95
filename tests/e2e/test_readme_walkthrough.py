"""The README's first-five-minutes walk-through works as printed, against the running local stack."""
import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough(name: str = "walkthrough") -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {name}:[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert match, f"the README lost its {name} block"
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


def test_the_readme_import_walkthrough_works_as_printed(stack, tmp_path):
    # Given the import block, pasted after the first one (it uses its admin key and program)
    env = {**os.environ, "LAUREL": stack.base_url, "ROOT": stack.root_key}
    script = walkthrough() + walkthrough("import walkthrough")
    # When bash runs them in an empty folder (the block writes members.csv)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    # Then the file was imported and its report read, as the README says
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert '{"status":"done","counts":{"rows":2,"created":1,"updated":0,"unchanged":0,"rejected":1}}' in lines
    assert lines[-1].startswith('{"line":3,"errors":[{"field":"external_id",'), lines[-1]
    assert "emp 2" not in run.stdout
