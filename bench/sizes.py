"""C. What each function deploys: its zip plus the layers it uses, zipped and unzipped (build/)."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass
class FunctionSize:
    function: str
    zipped: int  # bytes: the function's zip + its layers' zips
    unzipped: int
    parts: dict[str, tuple[int, int]]  # artifact (relative to build/) -> (zipped, unzipped)


def zip_sizes(path: Path) -> tuple[int, int]:
    with zipfile.ZipFile(path) as archive:
        return path.stat().st_size, sum(info.file_size for info in archive.infolist())


def _layers_of(properties: dict, defaults: dict) -> list[str]:
    refs = properties.get("Layers", defaults.get("Layers", []))
    return [ref["Ref"] for ref in refs if isinstance(ref, dict) and "Ref" in ref]


def function_sizes(build: Path, built_template: dict) -> list[FunctionSize]:
    resources = built_template["Resources"]
    defaults = built_template.get("Globals", {}).get("Function", {})
    sizes = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        artifacts = [properties["CodeUri"]] + [resources[layer]["Properties"]["ContentUri"]
                                               for layer in _layers_of(properties, defaults)
                                               if layer in resources]
        parts = {artifact: zip_sizes(build / artifact) for artifact in artifacts}
        sizes.append(FunctionSize(name, sum(z for z, _ in parts.values()), sum(u for _, u in parts.values()),
                                  parts))
    return sizes
