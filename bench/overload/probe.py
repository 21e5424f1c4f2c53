"""Health prober: `python -m bench.overload.probe PORT OUT.json`, stopped with SIGTERM.

Every INTERVAL seconds it opens a new connection (as a load balancer does), sends
GET /api/v1/health and times the answer; a probe that fails or takes over TIMEOUT counts as
TIMEOUT. It runs in its own process so that the load generator's busy event loop never
delays it. Times are `time.monotonic()` (CLOCK_MONOTONIC: comparable across processes).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import time

INTERVAL = 0.05
TIMEOUT = 5.0
REQUEST = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def probe(port: int) -> float:
    """Seconds one health check took (TIMEOUT when it failed or was not answered 200)."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(REQUEST)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            return TIMEOUT
    except OSError:
        return TIMEOUT
    return time.monotonic() - started


def main() -> int:
    """Probe until SIGTERM, then write [[start, seconds], ...] to the output file."""
    port, out = int(sys.argv[1]), sys.argv[2]
    samples: list[tuple[float, float]] = []
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    while not stop:
        started = time.monotonic()
        samples.append((started, probe(port)))
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))
    with open(out, "w") as handle:
        json.dump(samples, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
