"""A private local stack (`python -m local`, what `make run` starts) on free loopback ports, started by a program.

One launcher for the end-to-end tests, `make fuzz` and `make load`: it starts the stack without demo data
and with a fresh root key, waits until it is ready, and stops it with Ctrl-C as a person would. The
stack's output goes to a log file rather than a pipe, so reading it costs the caller nothing (the load
generator runs on gevent) and it is still there to read when something went wrong.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess  # this repository's own local stack, a fixed argument list  # nosec B404
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import boto3
import requests

from local.ports import HOST, free_ports

REPO = Path(__file__).resolve().parents[1]
READY = "Laurel is running on {base_url}"
STARTUP_TIMEOUT = 90
# After heavy use the stack's threads stop within a second or two, but the interpreter's final garbage
# collection of the emulator's heap can take tens of seconds; only then is it killed.
STOP_TIMEOUT = 90
ERROR_TAIL_LINES = 60


class StackError(Exception):
    """The stack did not start, or its control port refused a request; the message has the output's tail."""


class LocalStack:
    """`with LocalStack(log_path) as stack:` a running stack, its addresses, root key and control requests.

    `settings` are extra environment settings for the stack (e.g. {"LAUREL_SEED": "1"}); `without` names
    settings (or their prefixes) not to inherit from this process's environment. AWS_* settings are never
    inherited: the stack runs its own emulator.
    """

    def __init__(self, log_path: Path, settings: dict[str, str] | None = None, *,
                 without: Iterable[str] = ()) -> None:
        self.root_key = secrets.token_urlsafe(32)
        self.port, self.aws_port, self.control_port = free_ports(3)
        self.base_url = f"http://{HOST}:{self.port}"
        self.aws_endpoint = f"http://{HOST}:{self.aws_port}"
        self.control_url = f"http://{HOST}:{self.control_port}"
        self.log_path = log_path
        left_out = ("AWS_", *without)
        self._env = {key: value for key, value in os.environ.items() if not key.startswith(left_out)}
        self._env.update({
            "LAUREL_PORT": str(self.port),
            "LAUREL_AWS_PORT": str(self.aws_port),
            "LAUREL_CONTROL_PORT": str(self.control_port),
            "LAUREL_SEED": "0",
            "LAUREL_ROOT_KEY": self.root_key,
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        })
        self.process: subprocess.Popen | None = None
        self.killed = False  # whether stop() had to kill it after STOP_TIMEOUT
        self.stop_seconds = 0.0

    @property
    def output(self) -> str:
        """What the stack printed and logged so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def _tail(self) -> str:
        return "\n".join(self.output.splitlines()[-ERROR_TAIL_LINES:]) + f"\n(the whole output: {self.log_path})"

    def start(self) -> LocalStack:
        """Until it prints its readiness line (after demo data, if any) and answers GET /v1/health.

        Raises StackError with the output's tail when it exits, is not ready within STARTUP_TIMEOUT or
        does not answer health; it is stopped first.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the descriptor
            # sys.executable -m local: a fixed argument list, no shell
            self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=REPO, env=self._env,  # nosec B603
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_until_ready()
        except StackError:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        ready = READY.format(base_url=self.base_url)
        while ready not in self.output:
            if self.process.poll() is not None:
                raise StackError(f"the local stack exited with {self.process.returncode}:\n{self._tail()}")
            if time.monotonic() > deadline:
                raise StackError(f"the local stack was not ready within {STARTUP_TIMEOUT} s:\n{self._tail()}")
            time.sleep(0.1)
        try:
            health = requests.get(f"{self.base_url}/v1/health", timeout=10)
        except requests.RequestException as error:
            raise StackError(f"GET /v1/health: {error}\n{self._tail()}") from error
        if health.status_code != 200:
            raise StackError(f"GET /v1/health answered {health.status_code}: {health.text}\n{self._tail()}")

    def stop(self) -> int:
        """Ctrl-C, as a person would (it stops its pollers and the emulator), killed after STOP_TIMEOUT; its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            started = time.monotonic()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self.killed = True
            self.stop_seconds = time.monotonic() - started
        return self.process.returncode

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, service: str):
        """A boto3 client of the stack's emulator."""
        return boto3.client(service, endpoint_url=self.aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def sqs(self):
        return self.client("sqs")

    def drain(self, timeout: float = 30) -> bool:
        """True once every consumer queue is empty and no handler runs (the control port's POST /drain)."""
        response = requests.post(f"{self.control_url}/drain", json={"timeout": timeout}, timeout=timeout + 10)
        if response.status_code != 200:
            raise StackError(f"POST /drain answered {response.status_code}: {response.text}")
        return response.json()["drained"]

    def strict(self) -> dict:
        """The strict DynamoDB mode's settings (None when off) and what it refused (the control port's GET /strict)."""
        response = requests.get(f"{self.control_url}/strict", timeout=10)
        if response.status_code != 200:
            raise StackError(f"GET /strict answered {response.status_code}: {response.text}")
        return response.json()

    def run_job(self, logical_id: str):
        """Run a scheduled function now (e.g. "PointsExpiryFunction"); its result."""
        response = requests.post(f"{self.control_url}/jobs/{logical_id}", timeout=300)
        if response.status_code != 200:
            raise StackError(f"{logical_id}: {response.status_code} {response.text}")
        return response.json()
