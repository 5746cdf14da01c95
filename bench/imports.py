"""B. Cold-start import time of every handler module, as a ratio to `import boto3`.

Each import runs in a fresh interpreter; the modules and boto3 take turns round after round (in a
shuffled order, after one warm-up round that is not counted) so a busy machine slows them alike,
and the median of each is compared.

Two settings:
- dev: the virtualenv, from the repository (with whatever bytecode caches it has);
- package: what Lambda loads, the function's zip and the layer unzipped, boto3 and botocore from
  the runtime (the virtualenv's), `python -I -S -B` so nothing else is on the path and no
  bytecode can be written (Lambda's /var/task and /opt are read-only).
"""
from __future__ import annotations

import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "boto3"
TIMED_IMPORT = "import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
# In the package setting the path is set up before the clock starts.
TIMED_PACKAGE_IMPORT = ("import sys; sys.path[:0]=sys.argv[1:]; import time; t=time.perf_counter(); "
                        "import {module}; print(time.perf_counter()-t)")
ENVIRONMENT = {"AWS_DEFAULT_REGION": "us-east-1"}


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@dataclass
class Target:
    """One module to import, and the setting to import it in."""

    module: str
    functions: list[str]  # logical ids whose handler lives in it
    paths: list[str] = field(default_factory=list)  # the package setting's sys.path (empty: dev)

    def command(self) -> list[str]:
        if not self.paths:
            return [python(), "-c", TIMED_IMPORT.format(module=self.module)]
        return [python(), "-I", "-S", "-B", "-c", TIMED_PACKAGE_IMPORT.format(module=self.module), *self.paths]


@dataclass
class Timing:
    module: str
    functions: list[str]
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


def handler_modules(template: dict) -> dict[str, list[str]]:
    """Handler module -> the functions of the template whose handler it holds."""
    defaults = template.get("Globals", {}).get("Function", {})
    modules: dict[str, list[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = {**defaults, **resource["Properties"]}["Handler"]
            modules.setdefault(handler.rpartition(".")[0], []).append(logical_id)
    return modules


def _time(target: Target) -> float:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ENVIRONMENT}
    result = subprocess.run(target.command(), cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False, timeout=120)
    if result.returncode:
        raise RuntimeError(f"importing {target.module} failed:\n{result.stderr.strip()[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def measure(targets: list[Target], baseline: Target, runs: int, seed: int = 0) -> dict[str, Timing]:
    """Median-ready timings of each target and the baseline, interleaved, one warm-up round first."""
    everything = [baseline, *targets]
    timings = {t.module: Timing(t.module, t.functions, []) for t in everything}
    order = list(everything)
    shuffle = random.Random(seed).shuffle
    for round_number in range(runs + 1):
        shuffle(order)
        for target in order:
            seconds = _time(target)
            if round_number:  # round 0 warms the disk cache and writes dev bytecode caches
                timings[target.module].seconds.append(seconds)
    return timings


# ---------------------------------------------------------------------------- package setting


@contextmanager
def unpacked(build: Path, built_template: dict, runtime_modules: list[str]) -> Iterator[dict | None]:
    """The layer and each function's zip unzipped as Lambda would, and a stand-in for the runtime's
    own packages (the virtualenv's boto3 and dependencies); yields {logical id: sys.path} plus
    "runtime", or None if build/ has no artifacts."""
    resources = built_template["Resources"]
    layers = {name: build / r["Properties"]["ContentUri"] for name, r in resources.items()
              if r["Type"] == "AWS::Serverless::LayerVersion"}
    functions = {name: build / r["Properties"]["CodeUri"] for name, r in resources.items()
                 if r["Type"] == "AWS::Serverless::Function"}
    if not all(p.is_file() for p in [*layers.values(), *functions.values()]):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="laurel-bench-") as temporary:
        base = Path(temporary)
        runtime = base / "runtime"
        runtime.mkdir()
        for module in runtime_modules:
            spec = importlib.util.find_spec(module)
            source = Path(spec.origin)
            source = source.parent if spec.submodule_search_locations else source
            (runtime / source.name).symlink_to(source)
        opt = base / "opt"
        for zip_path in layers.values():
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(opt)
        paths: dict[str, list[str]] = {"runtime": [str(runtime)]}
        for name, zip_path in functions.items():
            task = base / "task" / name
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(task)
            paths[name] = [str(task), str(opt / "python"), str(runtime)]
        yield paths
