"""A private local stack (`python -m local`, what `make run` starts) on free ports, without demo data.

The same approach as tests/e2e/conftest.py's `Stack`, without pytest: the fuzzer is a program, not a test.
(The local API answers without Nagle's delay, see local/api.py, so schemathesis's kept-alive
connections do not wait ~40 ms per answer.)
"""
import os
import secrets
import signal
import subprocess  # this repository's own local stack, a fixed argument list  # nosec B404
import sys
import threading
import time
from pathlib import Path

import requests

from local.ports import free_ports

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 90
STOP_TIMEOUT = 30


class StackError(Exception):
    pass



class LocalStack:
    """`with LocalStack() as stack:` a running stack; its base_url, root_key and control_url."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.root_key = secrets.token_urlsafe(32)
        self.port, self.aws_port, self.control_port = free_ports(3)
        self.base_url = f"http://{HOST}:{self.port}"
        self.control_url = f"http://{HOST}:{self.control_port}"
        self._env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        # Answers are checked by schemathesis against the document, not by the app itself (which would
        # turn a schema violation into a 500 and hide what it is).
        self._env.pop("LAUREL_VALIDATE_ANSWERS", None)
        self._env.update({
            "LAUREL_PORT": str(self.port), "LAUREL_AWS_PORT": str(self.aws_port),
            "LAUREL_CONTROL_PORT": str(self.control_port), "LAUREL_SEED": "0", "LAUREL_ROOT_KEY": self.root_key,
            "LAUREL_LOCAL_RETRY_SECONDS": "1", "PYTHONUNBUFFERED": "1", **(extra_env or {})})
        self.process: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.append(line)

    def start(self) -> "LocalStack":
        # sys.executable -m local: a fixed argument list, no shell
        self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=REPO, env=self._env, text=True,  # nosec B603
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while f"Laurel is running on {self.base_url}" not in self.output:
            if self.process.poll() is not None:
                self._reader.join(5)
                raise StackError(f"the local stack exited with {self.process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise StackError(f"the local stack was not ready within {STARTUP_TIMEOUT} s:\n{self.output}")
            time.sleep(0.1)
        health = requests.get(f"{self.base_url}/v1/health", timeout=10)
        if health.status_code != 200:
            raise StackError(f"GET /v1/health answered {health.status_code}: {health.text}")
        return self

    def stop(self) -> int:
        """Ctrl-C, as a person would; the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader:
            self._reader.join(5)
        return self.process.returncode

    def __enter__(self) -> "LocalStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
