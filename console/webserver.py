"""One web server process of `make run`: uvicorn serving console.asgi on a listening socket it inherits.

The launcher binds the port once and starts WEB_CONCURRENCY of these, each supervised on its own;
they share the socket (the kernel hands each new connection to one of them), so a process that dies
or stalls costs only its own connections, and the port keeps accepting while it is restarted.

    python -m console.webserver --fd N
"""

from __future__ import annotations

import argparse
import socket

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening TCP socket")
    args = parser.parse_args()
    # socket(fileno=) reads the family from the descriptor (uvicorn's own --fd assumes AF_UNIX, which
    # would leave TCP_NODELAY off).
    sock = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        "console.asgi:application",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
