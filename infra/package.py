"""Build the deployable template and the Lambda artifacts into build/ (`make package`).

    python -m infra.package

writes
    build/template.yaml              infra/template.yaml with CodeUri/ContentUri pointing at the
                                     artifacts below and one HttpApi event per Chalice route
    build/layer.zip                  requirements.txt installed for Lambda (python3.11, x86_64)
                                     under python/, minus what the Lambda runtime already has
    build/functions/<LogicalId>.zip  chalicelib/ and functions/; for ApiFunction also app.py and
                                     the Chalice runtime (chalice/__init__.py, chalice/app.py)

Every .py file in the layer and the function zips comes with its bytecode, compiled for CPython
3.11 into __pycache__/ next to it: /var/task and /opt are read-only on Lambda, so without it every
cold start would compile every module again. The .pyc files are unchecked-hash based (PEP 552):
no timestamps, and the runtime neither stats nor hashes the source to trust them.

The installed dependencies are cached in build/.pip-cache/, keyed by requirements.txt, so only the
first run needs PyPI. Zips are deterministic: sorted entries, fixed timestamps, and bytecode
compiled in a fresh interpreter with a fixed hash seed (marshal's output depends on the state of
the process that compiles).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
# The Lambda runtime of infra/template.yaml: bytecode is only valid for the interpreter that made it.
LAMBDA_PYTHON = (3, 11)
BYTECODE_TAG = "cpython-311"
# Where Lambda mounts the function's code and the layers: the file names the bytecode records.
TASK_ROOT, LAYER_ROOT = "/var/task", "/opt"


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


# ---------------------------------------------------------------------------- bytecode

# Run in a fresh interpreter (see bytecode()): reads [source, recorded name, target] triples on
# stdin, writes unchecked-hash .pyc files, answers the sources that do not compile.
_COMPILE = """
import json, py_compile, sys
failed = []
for source, recorded, target in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=target, dfile=recorded, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as error:
        failed.append([recorded, error.msg.strip().splitlines()[-1]])
json.dump(failed, sys.stdout)
"""


def bytecode_name(name: str) -> str:
    """Where CPython 3.11 looks for the bytecode of `name` (a .py path in the zip)."""
    directory, _, file_name = name.rpartition("/")
    return f"{directory + '/' if directory else ''}__pycache__/{file_name[:-3]}.{BYTECODE_TAG}.pyc"


def check_interpreter() -> None:
    if sys.version_info[:2] != LAMBDA_PYTHON or sys.implementation.cache_tag != BYTECODE_TAG:
        raise PackagingError(
            f"packaging needs CPython {'.'.join(map(str, LAMBDA_PYTHON))} (the functions' runtime) to "
            f"compile their bytecode; this is {sys.implementation.name} {sys.version.split()[0]}")


def bytecode(files: Iterable[tuple[Path, str]], staging: Path, mount: str,
             strict: bool) -> dict[str, tuple[Path, str]]:
    """The .pyc of each .py among `files`, compiled into `staging`: {source name: (pyc, pyc name)}.

    Compiled in one fresh interpreter (no site, hash seed 0, sorted order) so the same sources
    always give the same bytes. The recorded file name is where Lambda will find the source
    (`mount`/name); it only shows in tracebacks. A source that does not compile fails the build
    when `strict`, else it ships without bytecode (it could never be imported anyway).
    """
    check_interpreter()
    sources = sorted((name, path) for path, name in files if name.endswith(".py"))
    jobs = [[str(path), f"{mount}/{name}", str(staging / bytecode_name(name))] for name, path in sources]
    result = subprocess.run(
        [sys.executable, "-S", "-c", _COMPILE], input=json.dumps(jobs), capture_output=True, text=True,
        check=False, env={"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")},
    )
    if result.returncode:
        raise PackagingError(f"compiling bytecode failed:\n{result.stderr}")
    failed = dict(json.loads(result.stdout))
    if failed and strict:
        raise PackagingError("cannot compile: " + "; ".join(f"{name}: {why}" for name, why in failed.items()))
    return {name: (staging / bytecode_name(name), bytecode_name(name))
            for name, _ in sources if f"{mount}/{name}" not in failed}


def with_bytecode(files: list[tuple[Path, str]], compiled: Mapping[str, tuple[Path, str]]) -> list[tuple[Path, str]]:
    """`files` and the bytecode of those that have it."""
    return files + [compiled[name] for _, name in files if name in compiled]


# ---------------------------------------------------------------------------- zips


def _tree(directory: Path, prefix: str, skip_tests: bool) -> Iterator[tuple[Path, str]]:
    """Files under `directory` as (path, name in zip), without bytecode caches (or tests).

    Bytecode found on disk (pip's, or a dev run's) is timestamp-based: bytecode() makes it anew."""
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

    check_interpreter()
    BUILD.mkdir(exist_ok=True)
    artifacts = []
    with tempfile.TemporaryDirectory(prefix=".bytecode-", dir=BUILD) as staging:
        # The functions share their code: compile it once (the API's files are a superset).
        code = bytecode(function_files(ROOT, with_api=True), Path(staging) / "task", TASK_ROOT, strict=True)
        for logical_id, resource in resources.items():
            properties = resource.get("Properties", {})
            if resource["Type"] == LAYER_TYPE:
                target, properties["ContentUri"] = _artifact(properties["ContentUri"])
                site = install_dependencies(ROOT / "requirements.txt", BUILD / ".pip-cache")
                files = list(_tree(site, "python/", skip_tests=False))
                layer = bytecode(files, Path(staging) / logical_id, LAYER_ROOT, strict=False)
                write_zip(target, with_bytecode(files, layer))
            elif resource["Type"] == FUNCTION_TYPE:
                target, properties["CodeUri"] = _artifact(properties["CodeUri"])
                write_zip(target, with_bytecode(function_files(ROOT, with_api=logical_id == API_FUNCTION), code))
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
