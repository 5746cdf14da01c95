"""Shared fixtures for the infra tests: the templates, and one `make package` per session."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.cfn import load_template
from infra.package import BUILD, ROOT, SOURCE_TEMPLATE


@pytest.fixture(scope="session")
def source_template() -> dict[str, Any]:
    return load_template(SOURCE_TEMPLATE)


@pytest.fixture(scope="session")
def build() -> Path:
    """build/ after one `python -m infra.package` (PyPI on the first run, then its cache)."""
    result = subprocess.run([sys.executable, "-m", "infra.package"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if result.returncode:
        pytest.fail(f"python -m infra.package failed:\n{result.stdout}\n{result.stderr}")
    return BUILD


@pytest.fixture(scope="session")
def built_template(build: Path) -> dict[str, Any]:
    return load_template(build / "template.yaml")
