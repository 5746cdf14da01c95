"""End-to-end tests: the local stack (`python -m local`, what `make run` starts) in a subprocess, over HTTP.

`stack` is one stack for the whole session, on free ports, without demo data; `launch_stack` starts
another one for a test that needs its own (e.g. to stop it), `stack_with` one for a module's fixture
(e.g. with a provider of its own). All are local/launcher.py's LocalStack,
failing the test where it cannot start or stop; each stack's output is a log in pytest's temporary
folder. Every test in this folder is marked `e2e`.
"""
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.launcher import STOP_TIMEOUT, LocalStack, StackError

HERE = Path(__file__).resolve().parent
# Schedules run this many times faster than the template says (rate(5 minutes) every 5 s):
# often enough to be exercised, rarely enough not to disturb; tests call run_job to be exact.
SCHEDULE_SCALE = 60


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


class Stack(LocalStack):
    """A running local stack and clients bound to it; a failed test where it does not start or stop."""

    def __init__(self, log_path: Path, extra_env: dict[str, str]) -> None:
        super().__init__(log_path, {"LAUREL_LOCAL_RETRY_SECONDS": "1",
                                    "LAUREL_LOCAL_SCHEDULE_SCALE": str(SCHEDULE_SCALE), **extra_env})

    def start(self) -> "Stack":
        try:
            return super().start()
        except StackError as error:
            pytest.fail(str(error))

    def stop(self) -> int:
        code = super().stop()
        if self.killed:
            pytest.fail(f"the local stack did not stop within {STOP_TIMEOUT} s:\n{self.output}")
        return code


@contextmanager
def running(log_path: Path, extra_env: dict[str, str]):
    """A stack for a with-block, stopped after it; it must exit cleanly."""
    started = Stack(log_path, extra_env)
    try:
        yield started.start()
    finally:
        code = started.stop()
    assert code == 0, f"the local stack exited with {code}:\n{started.output}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    with running(tmp_path_factory.mktemp("stack") / "stack.log", {}) as started:
        yield started


@pytest.fixture(scope="session")
def stack_with(tmp_path_factory):
    """`with stack_with(**env) as private:` starts a stack with those settings for as long as the block."""
    return lambda **extra_env: running(tmp_path_factory.mktemp("stack") / "stack.log", extra_env)


@pytest.fixture
def launch_stack(tmp_path):
    """Start a private stack (env overrides as keyword arguments); stopped at the end if still running."""
    launched: list[Stack] = []

    def launch(**extra_env: str) -> Stack:
        started = Stack(tmp_path / f"stack-{len(launched)}.log", extra_env)
        launched.append(started)
        return started.start()

    yield launch
    for started in launched:
        started.stop()


@pytest.fixture(scope="module")
def http(stack):
    """The contract's HTTP API of the session's stack."""
    from laurel_http import Http

    return Http(stack.base_url)


@pytest.fixture
def receiver():
    """A webhook receiver on this machine that verifies every signature (tests/webhook_receiver.py)."""
    from webhook_receiver import Receiver

    running = Receiver()
    yield running
    running.stop()
