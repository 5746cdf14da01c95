"""Free loopback ports for a local stack started by tests, `make fuzz` or `make load`."""
import socket

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Ports free right now, all different (held together until each is known)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()
