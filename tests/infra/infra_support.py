"""Helpers for reading templates in the infra tests."""

import importlib.util
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from cfnlint.api import ManualArgs, lint_file

FUNCTION_TYPE = "AWS::Serverless::Function"
LAMBDA_BYTECODE_TAG = "cpython-311"  # Runtime: python3.11
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's properties over Globals.Function (shallow: right for scalars like Timeout)."""
    defaults = template.get("Globals", {}).get("Function", {})
    return {
        logical_id: {**defaults, **resource["Properties"]}
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == FUNCTION_TYPE
    }


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items()
            if resource["Type"] == kind}


def referenced(value: dict[str, Any]) -> str:
    """The resource a `Ref` or `Fn::GetAtt` points at."""
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


def cfn_lint_errors(template: Path) -> list[str]:
    """cfn-lint's errors (not warnings) for a template; it validates SAM schemas offline."""
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1"]))
    return [str(match) for match in matches if match.rule.severity == "error"]


def bytecode_problems(archive: zipfile.ZipFile) -> list[str]:
    """What is wrong with the bytecode in a zip: each .py must have its CPython 3.11 .pyc in
    __pycache__/ beside it, unchecked-hash based (no timestamp, no stat of the source), and there
    must be no other bytecode (the tests run on Lambda's Python, 3.11, so its magic number is ours)."""
    names = archive.namelist()
    expected = {}
    for name in names:
        if name.endswith(".py"):
            source = PurePosixPath(name)
            expected[str(source.parent / "__pycache__" / f"{source.stem}.{LAMBDA_BYTECODE_TAG}.pyc")
                     .removeprefix("./")] = name
    found = {name for name in names if name.endswith(".pyc") or "__pycache__" in PurePosixPath(name).parts}
    problems = [f"no bytecode for {expected[name]}" for name in sorted(set(expected) - found)]
    problems += [f"stray bytecode {name}" for name in sorted(found - set(expected))]
    for name in sorted(found & set(expected)):
        header = archive.read(name)[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(f"{name} is not unchecked-hash bytecode of this interpreter")
    return problems
