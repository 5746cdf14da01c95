"""Build the deployable template and the Lambda artifacts into build/ (`make package`).

    python -m infra.package

writes
    build/template.yaml              infra/template.yaml with CodeUri/ContentUri pointing at the
                                     artifacts below and one HttpApi event per Chalice route
    build/layer.zip                  requirements.txt installed for Lambda (python3.11, x86_64)
                                     under python/, minus what the Lambda runtime already has
    build/functions/<LogicalId>.zip  chalicelib/ and functions/; for ApiFunction also app.py and
                                     the Chalice runtime (chalice/__init__.py, chalice/app.py)

The installed dependencies are cached in build/.pip-cache/, keyed by requirements.txt, so only the
first run needs PyPI. Zips are deterministic: sorted entries, fixed timestamps.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.cfn import dump_template, load_template

ROOT = Path(__file__).resolve().parents[1]
SOURCE_TEMPLATE = ROOT / "infra" / "template.yaml"
BUILD = ROOT / "build"
API_FUNCTION = "ApiFunction"
FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"

PIP_TARGET_ARGS = (
    "--platform", "manylinux2014_x86_64",
    "--implementation", "cp",
    "--python-version", "3.11",
    "--only-binary=:all:",
)
# Distribution -> import name of what the python3.11 Lambda runtime provides (boto3 and its
# dependencies). Left out of the layer: pynamodb pulls botocore in, which alone is ~30 MB.
LAMBDA_RUNTIME_PROVIDES = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "urllib3": "urllib3",
    "python-dateutil": "dateutil",
    "six": "six",
}
CODE_DIRS = ("chalicelib", "functions")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MB = 1024 * 1024


class PackagingError(Exception):
    """The project cannot be packaged as it is."""


# ---------------------------------------------------------------------------- API routes


def route_events(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """SAM HttpApi events, one per route of a Chalice app's `routes` (path -> {method: entry}).

    Chalice's `{param}` path syntax is HTTP API's too, and with payload format 1.0 API Gateway
    passes the route path as `resourcePath`, which is how Chalice finds the view.
    """
    events: dict[str, dict[str, Any]] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            entry = routes[path][method]
            if entry.authorizer is not None or entry.api_key_required:
                raise PackagingError(
                    f"{method} {path}: the HTTP API has no authorizer or API keys, "
                    "so this route would be public; authenticate inside the app instead"
                )
            name = _event_name(method, path)
            if name in events:
                raise PackagingError(f"{method} {path}: event name {name} is already taken")
            events[name] = {
                "Type": "HttpApi",
                "Properties": {
                    "ApiId": {"Ref": "HttpApi"},
                    "Path": path,
                    "Method": method,
                    "PayloadFormatVersion": "1.0",
                },
            }
    return events


def _event_name(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path)
    return method.capitalize() + ("".join(w[0].upper() + w[1:] for w in words) or "Root")


def _chalice_routes(root: Path) -> Mapping[str, Mapping[str, Any]] | None:
    if not (root / "app.py").is_file():
        return None
    # Lambda always has a region; give the import one so module-level boto3 clients work.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.path.insert(0, str(root))
    return importlib.import_module("app").app.routes


# ---------------------------------------------------------------------------- layer


def install_dependencies(requirements: Path, cache: Path) -> Path:
    """requirements installed for Lambda into a cached directory; returns its `python/` dir."""
    key = hashlib.sha256(requirements.read_bytes() + " ".join(PIP_TARGET_ARGS).encode())
    entry = cache / key.hexdigest()[:16]
    if not entry.is_dir():
        partial = cache / f"{entry.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *PIP_TARGET_ARGS, "--target", str(partial / "python"), "-r", str(requirements)],
            capture_output=True, text=True, check=False,
        )
        if pip.returncode:
            raise PackagingError(f"pip could not install {requirements}:\n{pip.stderr}")
        _remove_runtime_provided(partial / "python")
        partial.rename(entry)
        for stale in cache.iterdir():
            if stale != entry:
                shutil.rmtree(stale)
    return entry / "python"


def _remove_runtime_provided(site: Path) -> None:
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: no use in a layer
    for dist_info in site.glob("*.dist-info"):
        name = _metadata_name(dist_info / "METADATA")
        if name not in LAMBDA_RUNTIME_PROVIDES:
            continue
        with (dist_info / "RECORD").open(newline="") as record:
            for row in csv.reader(record):
                if row and not row[0].startswith(".."):
                    (site / row[0]).unlink(missing_ok=True)
    for directory in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def _metadata_name(metadata: Path) -> str:
    for line in metadata.read_text(encoding="utf-8").splitlines():
        if line.startswith("Name:"):
            return re.sub(r"[-_.]+", "-", line.split(":", 1)[1].strip()).lower()
    raise PackagingError(f"{metadata} has no Name")


# ---------------------------------------------------------------------------- zips


def _tree(directory: Path, prefix: str, skip_tests: bool) -> Iterator[tuple[Path, str]]:
    """Files under `directory` as (path, name in zip), without bytecode caches (or tests)."""
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if not path.is_file() or path.suffix == ".pyc" or "__pycache__" in relative.parts:
            continue
        if skip_tests and _is_test(relative):
            continue
        yield path, f"{prefix}{relative.as_posix()}"


def _is_test(relative: Path) -> bool:
    return "tests" in relative.parts or relative.name == "conftest.py" or (
        relative.name.startswith("test_") and relative.suffix == ".py"
    )


def function_files(root: Path, with_api: bool) -> list[tuple[Path, str]]:
    """What a function's zip holds: shared code, plus the Chalice app and runtime for the API."""
    files = [f for d in CODE_DIRS if (root / d).is_dir()
             for f in _tree(root / d, f"{d}/", skip_tests=True)]
    if with_api:
        chalice_dir = Path(importlib.util.find_spec("chalice").origin).parent
        files += [(chalice_dir / "__init__.py", "chalice/__init__.py"),
                  (chalice_dir / "app.py", "chalice/app.py")]
        if (root / "app.py").is_file():
            files.append((root / "app.py", "app.py"))
    return files


def write_zip(target: Path, files: Iterable[tuple[Path, str]]) -> None:
    """A deterministic zip of `files` at `target`, replaced atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(target)


def zip_sizes(path: Path) -> tuple[int, int]:
    """(zipped, unzipped) size of a zip in bytes."""
    with zipfile.ZipFile(path) as archive:
        return path.stat().st_size, sum(i.file_size for i in archive.infolist())


# ---------------------------------------------------------------------------- template


def _artifact(uri: Any) -> tuple[Path, str]:
    """Where a CodeUri/ContentUri of infra/template.yaml puts its artifact, and the URI of that
    file relative to build/template.yaml."""
    target = (SOURCE_TEMPLATE.parent / str(uri)).resolve()
    if not isinstance(uri, str) or BUILD not in target.parents:
        raise PackagingError(f"{SOURCE_TEMPLATE}: {uri!r} does not name a file in {BUILD}")
    return target, target.relative_to(BUILD).as_posix()


def package() -> list[Path]:
    """Write build/template.yaml and every artifact it names; returns the artifacts."""
    template = load_template(SOURCE_TEMPLATE)
    resources = template["Resources"]
    api = resources[API_FUNCTION]["Properties"]
    if "Events" in api:
        raise PackagingError(f"{SOURCE_TEMPLATE}: {API_FUNCTION}'s events come from app.py only")
    routes = _chalice_routes(ROOT)
    if routes is None:
        print(f"warning: {ROOT / 'app.py'} is missing: {API_FUNCTION} gets no routes",
              file=sys.stderr)
    else:
        api["Events"] = route_events(routes)

    artifacts = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == LAYER_TYPE:
            target, properties["ContentUri"] = _artifact(properties["ContentUri"])
            site = install_dependencies(ROOT / "requirements.txt", BUILD / ".pip-cache")
            write_zip(target, _tree(site, "python/", skip_tests=False))
        elif resource["Type"] == FUNCTION_TYPE:
            target, properties["CodeUri"] = _artifact(properties["CodeUri"])
            write_zip(target, function_files(ROOT, with_api=logical_id == API_FUNCTION))
        else:
            continue
        artifacts.append(target)

    header = "Generated by `python -m infra.package` from infra/template.yaml: do not edit."
    (BUILD / "template.yaml").write_text(dump_template(template, header))
    return artifacts


def main() -> None:
    BUILD.mkdir(exist_ok=True)
    # One packaging at a time (e.g. parallel test workers): they share the pip cache.
    with (BUILD / ".package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            artifacts = package()
        except PackagingError as error:
            sys.exit(f"infra.package: {error}")
    print(f"{'artifact':<40}{'zipped MB':>12}{'unzipped MB':>14}")
    for path in artifacts:
        zipped, unzipped = zip_sizes(path)
        print(f"{path.relative_to(BUILD).as_posix():<40}{zipped / MB:>12.2f}{unzipped / MB:>14.2f}")
    print(f"template: {(BUILD / 'template.yaml').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
