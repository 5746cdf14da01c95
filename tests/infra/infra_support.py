"""Helpers for reading templates in the infra tests."""

from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file

FUNCTION_TYPE = "AWS::Serverless::Function"


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
