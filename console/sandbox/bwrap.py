"""The bubblewrap invocation of a session, and the runtime it binds read-only."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

from console.sandbox.common import (
    KERNEL_FILES,
    Runtime,
    SandboxError,
    SandboxLimits,
    Session,
)


class BwrapMixin:
    """How SandboxManager builds a session's bwrap command line and finds its Python runtime."""

    root: pathlib.Path
    privileged: bool
    bwrap: str
    python: str
    threads: int
    limits: SandboxLimits

    def _bwrap_args(self, rt: Runtime, sess: Session, req_fd: int, resp_fd: int) -> list[str]:
        assert sess.data_dir is not None
        lim = self.limits
        a = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        if self.privileged:
            # bwrap as real root drops every capability but these two, which setpriv uses to become the
            # session's uid and then drops as well.
            a += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            a += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
        a += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = "/" + name
            if os.path.islink(host):
                a += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                a += ["--ro-bind", host, host]
        a += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", "/mnt"]
        a += ["--ro-bind", str(sess.data_dir.parent / "etc"), "/etc"]
        if rt.remap:
            a += ["--ro-bind", rt.base_prefix, "/opt/python"]
        if rt.site_packages:
            a += ["--ro-bind", rt.site_packages, "/opt/site-packages"]
        a += ["--ro-bind", str(self.root / "kernel"), "/opt/kernel"]
        mplcache = self.root / "runtime" / "mplcache"
        if any(mplcache.glob("fontlist*.json")):
            a += ["--ro-bind", str(mplcache), "/opt/mplcache"]
        a += ["--proc", "/proc", "--dev", "/dev"]
        a += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/tmp"]
        a += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/dev/shm"]
        a += ["--bind", str(sess.data_dir), "/mnt/data", "--chdir", "/mnt/data"]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "USER": "sandbox",
            "MPLBACKEND": "module://mpl_backend",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": str(self.threads),
            "OPENBLAS_NUM_THREADS": str(self.threads),
            "MKL_NUM_THREADS": str(self.threads),
        }
        if rt.remap:
            env["PYTHONHOME"] = "/opt/python"
            env["LD_LIBRARY_PATH"] = "/opt/python/lib"
        a.append("--clearenv")
        for k, v in env.items():
            a += ["--setenv", k, v]
        if self.privileged:
            a += [
                "setpriv",
                f"--reuid={sess.uid}",
                f"--regid={sess.uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
            ]
        kernel_limits = {
            "cpu_seconds": lim.cpu_seconds,
            "memory_bytes": lim.memory_bytes,
            "max_procs": lim.max_procs,
            "max_file_bytes": lim.max_file_bytes,
            "max_open_files": lim.max_open_files,
        }
        # With a runtime virtualenv, -S keeps the base installation's own site-packages out of sys.path;
        # kernel.py then adds /opt/site-packages (with its .pth files) like a virtualenv would.
        flags = "-S" if rt.site_packages else "-s"
        a += [rt.python, flags, "/opt/kernel/kernel.py", str(req_fd), str(resp_fd), json.dumps(kernel_limits)]
        return a

    def _install_kernel(self) -> None:
        src_dir = pathlib.Path(__file__).resolve().parent
        dst_dir = self.root / "kernel"
        for name in KERNEL_FILES:
            src = (src_dir / name).read_bytes()
            dst = dst_dir / name
            if not dst.exists() or dst.read_bytes() != src:
                tmp = dst_dir / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(src)
                os.chmod(tmp, 0o644)
                os.replace(tmp, dst)
        os.chmod(dst_dir, 0o755)

    def _probe_runtime(self) -> Runtime:
        if shutil.which(self.bwrap) is None:
            raise SandboxError(
                f"bubblewrap ({self.bwrap}) is not installed: apt-get install -y bubblewrap (see docs/sandbox.md)"
            )
        probe = (
            "import json, os, sys, sysconfig;"
            "print(json.dumps({'prefix': os.path.realpath(sys.prefix),"
            " 'base_prefix': os.path.realpath(sys.base_prefix),"
            " 'exe': os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable),"
            " 'purelib': os.path.realpath(sysconfig.get_paths()['purelib'])}))"
        )
        try:
            out = subprocess.run(
                [self.python, "-c", probe], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            info = json.loads(out)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SandboxError(f"cannot run the sandbox runtime {self.python}: {exc}") from exc
        base = info["base_prefix"]
        remap = not (base == "/usr" or base.startswith("/usr/"))
        exe = info["exe"]
        if remap:
            python = "/opt/python/" + os.path.relpath(exe, base)
        else:
            python = exe
        site = info["purelib"] if info["prefix"] != base else None
        return Runtime(python=python, base_prefix=base, remap=remap, site_packages=site)
