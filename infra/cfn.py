"""Read and write CloudFormation YAML with plain PyYAML.

Short-form intrinsics (`!Ref X`, `!GetAtt X.Arn`, `!Sub ...`) are read as their long form
(`{"Ref": "X"}`, `{"Fn::GetAtt": ["X", "Arn"]}`, `{"Fn::Sub": ...}`), which CloudFormation
accepts as well, so a template can be loaded, changed and dumped with ordinary dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's `!Tag` shorthand."""


def _intrinsic(loader: _Loader, tag: str, node: yaml.Node) -> dict[str, Any]:
    name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never writes YAML anchors (CloudFormation tooling dislikes them)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_template(path: Path) -> dict[str, Any]:
    """The template at `path` as plain data, intrinsics in long form."""
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def dump_template(template: dict[str, Any], header: str = "") -> str:
    """`template` as YAML text, keys in their original order, `header` as leading comment."""
    body = yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=100)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body
