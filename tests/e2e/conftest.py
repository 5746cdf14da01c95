"""End-to-end tests: the local stack (`python -m local`, what `make run` starts) in a subprocess, over HTTP.

`stack` is one stack for the whole session, on free ports, without demo data; `launch_stack` starts
another one for a test that needs its own (e.g. to stop it). Every test in this folder is marked `e2e`.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from local.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 90  # after heavy use, the interpreter's final garbage collection alone can take half a minute
# Schedules run this many times faster than the template says (rate(5 minutes) every 5 s):
# often enough to be exercised, rarely enough not to disturb; tests call run_job to be exact.
SCHEDULE_SCALE = 60


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)



class Stack:
    """A running local stack and clients bound to it."""

    def __init__(self, extra_env: dict[str, str]) -> None:
        self.root_key = secrets.token_urlsafe(32)
        self.port, self.aws_port, self.control_port = free_ports(3)
        self.base_url = f"http://{HOST}:{self.port}"
        self.aws_endpoint = f"http://{HOST}:{self.aws_port}"
        self.control_url = f"http://{HOST}:{self.control_port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update({
            "LAUREL_PORT": str(self.port),
            "LAUREL_AWS_PORT": str(self.aws_port),
            "LAUREL_CONTROL_PORT": str(self.control_port),
            "LAUREL_SEED": "0",
            "LAUREL_ROOT_KEY": self.root_key,
            "LAUREL_LOCAL_RETRY_SECONDS": "1",
            "LAUREL_LOCAL_SCHEDULE_SCALE": str(SCHEDULE_SCALE),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        })
        self._lines: list[str] = []
        self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=REPO, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Drained continuously, so a chatty stack never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def wait_until_ready(self) -> None:
        """Until it prints its readiness line (after demo data, if any) and answers GET /v1/health."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while f"Laurel is running on {self.base_url}" not in self.output:
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"the local stack exited with {self.process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"the local stack was not ready within {STARTUP_TIMEOUT} s:\n{self.output}")
            time.sleep(0.1)
        health = requests.get(f"{self.base_url}/v1/health", timeout=10)
        assert health.status_code == 200, f"GET /v1/health: {health.status_code} {health.text}\n{self.output}"

    def stop(self) -> int:
        """Ctrl-C, as a person would; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"the local stack did not stop within {STOP_TIMEOUT} s:\n{self.output}")
        self._reader.join(5)
        return self.process.returncode

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def sqs(self):
        return self.client("sqs")

    def drain(self, timeout: float = 30) -> bool:
        """True once every consumer queue is empty and no handler runs."""
        response = requests.post(f"{self.control_url}/drain", json={"timeout": timeout}, timeout=timeout + 10)
        response.raise_for_status()
        return response.json()["drained"]

    def run_job(self, logical_id: str):
        """Run a scheduled function now (e.g. "PointsExpiryFunction"); its result."""
        response = requests.post(f"{self.control_url}/jobs/{logical_id}", timeout=300)
        assert response.status_code == 200, f"{logical_id}: {response.status_code} {response.text}"
        return response.json()


@pytest.fixture(scope="session")
def stack():
    running = Stack({})
    try:
        running.wait_until_ready()
        yield running
    finally:
        code = running.stop()
    assert code == 0, f"the local stack exited with {code}:\n{running.output}"


@pytest.fixture
def launch_stack():
    """Start a private stack (env overrides as keyword arguments); stopped at the end if still running."""
    launched: list[Stack] = []

    def launch(**extra_env: str) -> Stack:
        started = Stack(extra_env)
        launched.append(started)
        started.wait_until_ready()
        return started

    yield launch
    for started in launched:
        started.stop()


@pytest.fixture(scope="module")
def http(stack):
    """The contract's HTTP API of the session's stack."""
    from laurel_http import Http

    return Http(stack.base_url)
