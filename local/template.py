"""Reads infra/template.yaml, the one definition of every resource, so local and cloud cannot drift.

Only what the local stack needs: the intrinsic functions the template uses, resolved against local
values (parameters, pseudo parameters, created resources).
"""
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.cfn import load_template

STACK_NAME = "laurel"
TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"


class TemplateError(Exception):
    """The template asks for something the local stack cannot reproduce."""


def load(path: Path = TEMPLATE_PATH) -> dict:
    """The template as plain data, intrinsics in long form (the same reader `make package` uses)."""
    try:
        return load_template(path)
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot read {path}: {error}") from None


def merge_globals(defaults: dict, own: dict) -> dict:
    """SAM's Globals rule: maps merge key by key, anything else in the resource wins."""
    merged = dict(defaults)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_globals(merged[key], value)
        else:
            merged[key] = value
    return merged


def as_env_string(value: Any) -> str:
    """How CloudFormation writes a scalar into a string property (YAML `true` becomes "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


_NO_VALUE = object()  # AWS::NoValue: the property is removed
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Resolver:
    """Evaluates intrinsic functions; resources are asked for through `ref` and `get_att` callbacks."""

    def __init__(self, template: dict, parameters: dict[str, Any], pseudo: dict[str, Any],
                 ref: Callable[[str], Any], get_att: Callable[[str, str], Any]) -> None:
        self._template = template
        self._names = {**pseudo, **parameters, "AWS::NoValue": _NO_VALUE}
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self._template.get("Conditions", {})[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                return self._intrinsic(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._name(argument)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Fn::Sub":
            return self._sub(argument)
        args = self.resolve(argument)
        if name == "Fn::GetAtt":
            return self._get_att(args[0], args[1])
        if name == "Fn::Join":
            return args[0].join(as_env_string(item) for item in args[1])
        if name == "Fn::Select":
            return args[1][int(args[0])]
        if name == "Fn::Split":
            return args[1].split(args[0])
        if name == "Fn::Equals":
            return as_env_string(args[0]) == as_env_string(args[1])
        if name == "Fn::Not":
            return not args[0]
        raise TemplateError(f"the local stack does not evaluate {name}")

    def _name(self, name: str) -> Any:
        if name in self._names:
            return self._names[name]
        return self._ref(name)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = self.resolve(variables)

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return as_env_string(variables[name])
            if "." in name and name not in self._names:
                return as_env_string(self._get_att(*name.split(".", 1)))
            return as_env_string(self._name(name))

        return _SUB_VARIABLE.sub(substitute, text)
