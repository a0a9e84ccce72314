"""A free local TCP port, for tests that start servers or process groups (gloo, torchrun, HTTP)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the OS just reported free on 127.0.0.1 (the probe socket is closed before returning)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
