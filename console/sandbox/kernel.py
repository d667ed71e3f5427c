"""The code interpreter kernel: runs INSIDE the bubblewrap sandbox, one process per session.

Standard library only (it runs under the sandbox runtime's interpreter, not the server's), and it must
not import anything from `console`: the manager copies this file into the sandbox as /opt/kernel/kernel.py.

Protocol (over two pipes handed in as file descriptors, argv[1] = request fd, argv[2] = response fd):
every message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
  kernel -> manager, once at start:  {"ready": true}
  manager -> kernel, one per cell:   {"code": "..."}
  kernel -> manager, one per cell:   {"error": null | "ExcType: message"}
The cell's stdout/stderr (and that of any subprocess) goes to fd 1/2, a pipe the manager reads directly,
so the manager can cap it and read it even when the cell never finishes.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import resource
import struct
import sys
import traceback

KERNEL_PID = os.getpid()
_IMAGE_DIR = "/mnt/data"


def _set_limits(limits: dict[str, int]) -> None:
    def cap(which: int, value: int) -> None:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass

    cpu = limits.get("cpu_seconds")
    if cpu:
        # Soft limit sends SIGXCPU (the manager reports killed="cpu"); the hard one is the backstop.
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        except (ValueError, OSError):
            pass
    if limits.get("memory_bytes"):
        cap(resource.RLIMIT_AS, limits["memory_bytes"])
    if limits.get("max_procs"):
        cap(resource.RLIMIT_NPROC, limits["max_procs"])
    if limits.get("max_file_bytes"):
        cap(resource.RLIMIT_FSIZE, limits["max_file_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    if limits.get("max_open_files"):
        cap(resource.RLIMIT_NOFILE, limits["max_open_files"])


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv(fd: int) -> dict | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    body = _read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def _send(fd: int, msg: dict) -> None:
    body = json.dumps(msg).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _prepare_matplotlib() -> None:
    """Seed matplotlib's font cache (built once by the manager) so the first import is fast and quiet."""
    src = "/opt/mplcache"
    dst = os.environ.get("MPLCONFIGDIR", "/tmp/matplotlib")
    try:
        names = os.listdir(src)
    except OSError:
        return
    try:
        os.makedirs(dst, exist_ok=True)
        for name in names:
            if name.endswith(".json"):
                with open(os.path.join(src, name), "rb") as f, open(os.path.join(dst, name), "wb") as g:
                    g.write(f.read())
    except OSError:
        pass


def _flush_figures() -> None:
    """Save figures still open at the end of a cell, like Jupyter's inline backend shows them."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    try:
        import mpl_backend  # the sandbox's matplotlib backend (module://mpl_backend)

        mpl_backend.save_open_figures()
    except Exception:
        traceback.print_exc()


def _reap_children() -> None:
    """Collects the children the manager killed after the last call (nothing outlives its call), so
    their zombies do not count against the session's process limit."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Kernel:
    def __init__(self, req_fd: int, resp_fd: int) -> None:
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.count = 0
        self.ns: dict = {"__name__": "__main__", "__builtins__": __builtins__}
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        # A child forked by user code must never speak the protocol.
        for fd in (self.req_fd, self.resp_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.req_fd = self.resp_fd = -1

    def run_cell(self, code: str) -> str | None:
        _reap_children()
        self.count += 1
        filename = f"<cell-{self.count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            tree = ast.parse(code, filename, "exec")
        except SyntaxError as exc:
            text = "".join(traceback.format_exception_only(type(exc), exc))
            sys.stderr.write(text)
            return text.strip().splitlines()[-1]
        last: ast.Expression | None = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body[-1].value)
            tree.body.pop()
        try:
            exec(compile(tree, filename, "exec"), self.ns)
            if last is not None:
                value = eval(compile(last, filename, "eval"), self.ns)
                if value is not None:
                    self.ns["_"] = value
                    print(repr(value))
        except BaseException as exc:  # noqa: B036 - user code may raise anything, SystemExit included
            if os.getpid() != KERNEL_PID:
                os._exit(1)
            tb = exc.__traceback__
            # Drop the kernel's own frame so the traceback starts in the cell.
            if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next
            sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
            return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        return None

    def serve(self) -> None:
        _send(self.resp_fd, {"ready": True})
        while True:
            msg = _recv(self.req_fd)
            if msg is None:
                return
            error = self.run_cell(str(msg.get("code", "")))
            if os.getpid() != KERNEL_PID:
                # A forked child finished the cell: leave quietly.
                os._exit(0)
            _flush_figures()
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            _send(self.resp_fd, {"error": error})


def main() -> None:
    req_fd, resp_fd = int(sys.argv[1]), int(sys.argv[2])
    limits = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    os.set_inheritable(req_fd, False)
    os.set_inheritable(resp_fd, False)
    # stdout and stderr share one pipe; write through so their order is kept.
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
    sys.stdout.reconfigure(write_through=True)
    sys.stderr.reconfigure(write_through=True)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.argv = [""]
    if os.path.isdir("/opt/site-packages"):
        import site

        site.addsitedir("/opt/site-packages")  # after the stdlib, with .pth files, like a virtualenv
    _prepare_matplotlib()
    _set_limits(limits)
    os.chdir(_IMAGE_DIR)
    Kernel(req_fd, resp_fd).serve()


if __name__ == "__main__":
    main()
