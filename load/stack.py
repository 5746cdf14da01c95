"""A private local stack (`python -m local`, what `make run` starts) on free loopback ports.

Its output goes to a log file rather than a pipe, so reading it costs the load generator nothing
and it is there to read when something goes wrong.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from local.ports import free_ports

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 90
# After a load run the stack's threads stop within a second or two, but the interpreter's final garbage
# collection of the emulator's heap can take tens of seconds (see the report); only then is it killed.
STOP_TIMEOUT = 90


class StackError(Exception):
    pass



class LocalStack:
    def __init__(self, repo: Path, log_path: Path) -> None:
        self.root_key = secrets.token_urlsafe(32)
        self.port, self.aws_port, self.control_port = free_ports(3)
        self.base_url = f"http://{HOST}:{self.port}"
        self.control_url = f"http://{HOST}:{self.control_port}"
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LAUREL_"))}
        env.update({
            "LAUREL_PORT": str(self.port),
            "LAUREL_AWS_PORT": str(self.aws_port),
            "LAUREL_CONTROL_PORT": str(self.control_port),
            "LAUREL_SEED": "0",
            "LAUREL_ROOT_KEY": self.root_key,
            "PYTHONUNBUFFERED": "1",
        })
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "local"], cwd=repo, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self, last: int | None = None) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-last:]) if last else text

    def wait_until_ready(self) -> None:
        """Until it prints its readiness line; the log's tail in the error otherwise."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        ready = f"Laurel is running on {self.base_url}"
        while ready not in self.output():
            if self.process.poll() is not None:
                raise StackError(f"the local stack exited with {self.process.returncode}:\n{self.output(40)}")
            if time.monotonic() > deadline:
                raise StackError(f"the local stack was not ready within {STARTUP_TIMEOUT} s:\n{self.output(40)}")
            time.sleep(0.2)

    def stop(self) -> int:
        """Ctrl-C, as a person would (the stack stops its pollers and the emulator); its exit code."""
        self.stop_seconds = 0.0
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stop_seconds = time.monotonic() - started
        self._log.close()
        return self.process.returncode
