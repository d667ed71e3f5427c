"""The web tier as `make run` starts it, for bench/api_core.py's `--servers launcher`: one listening
socket, N console.webserver processes sharing it (console/launcher.py's web specs, without the rest).

    python -m bench._web_processes PORT N
"""

from __future__ import annotations

import signal
import subprocess
import sys

from console.launcher import listen


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    sock = listen("127.0.0.1", port)
    fd = sock.fileno()
    children = [
        subprocess.Popen([sys.executable, "-m", "console.webserver", "--fd", str(fd)], pass_fds=(fd,))
        for _ in range(count)
    ]
    signal.signal(signal.SIGTERM, lambda *_: [c.terminate() for c in children])
    for child in children:
        child.wait()


if __name__ == "__main__":
    main()
