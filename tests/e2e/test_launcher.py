"""local/launcher.py's LocalStack where the stack cannot start: the caller learns why, from the stack's own output."""
import socket

import pytest

from local.launcher import LocalStack, StackError
from local.ports import HOST


def test_a_stack_that_exits_at_startup_raises_with_its_output(tmp_path):
    # Given the control port the stack is told to use is taken
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        stack = LocalStack(tmp_path / "stack.log", {"LAUREL_CONTROL_PORT": str(taken.getsockname()[1])})

        # When it is started
        with pytest.raises(StackError) as raised:
            stack.start()

    # Then the error says it exited, with what it printed, and it is not left running
    assert "the local stack exited with 1" in str(raised.value)
    assert "laurel local:" in str(raised.value)
    assert stack.process.poll() == 1
