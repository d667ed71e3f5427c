"""Files in and out of a session's /mnt/data, never following what the sandbox left there."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import pathlib
import shutil
import stat
import time
import uuid

from console.sandbox.common import (
    IMAGE_EXTENSIONS,
    MAX_WALK_ENTRIES,
    OutputFile,
    SandboxError,
    SandboxLimits,
    Session,
    safe_name,
)


class FilesMixin:
    """Input copies, output snapshots and the outbox, for SandboxManager."""

    root: pathlib.Path
    privileged: bool
    limits: SandboxLimits
    outbox_ttl: float

    def _copy_inputs(self, sess: Session, inputs: list) -> None:
        assert sess.data_dir is not None
        dfd = os.open(sess.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for name, src in inputs:
                safe = safe_name(name)
                st = os.stat(src)
                sig = (str(src), st.st_size, st.st_mtime_ns)
                if sess.inputs.get(safe) == sig:
                    with contextlib.suppress(OSError):
                        cur = os.stat(safe, dir_fd=dfd, follow_symlinks=False)
                        if stat.S_ISREG(cur.st_mode) and cur.st_size == st.st_size:
                            continue
                # Never follow what the sandbox may have left at that name (a symlink to a host path).
                for _ in range(3):
                    with contextlib.suppress(FileNotFoundError):
                        cur = os.stat(safe, dir_fd=dfd, follow_symlinks=False)
                        if stat.S_ISDIR(cur.st_mode):
                            shutil.rmtree(os.path.join(sess.data_dir, safe), ignore_errors=True)
                        else:
                            os.unlink(safe, dir_fd=dfd)
                    try:
                        fd = os.open(
                            safe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dfd
                        )
                        break
                    except FileExistsError:
                        continue
                else:
                    raise SandboxError(f"cannot place input file {safe!r}")
                try:
                    with open(src, "rb") as fsrc, open(fd, "wb", closefd=False) as fdst:
                        shutil.copyfileobj(fsrc, fdst, 1 << 20)
                    if self.privileged:
                        os.fchown(fd, sess.uid, sess.uid)
                finally:
                    os.close(fd)
                sess.inputs[safe] = sig
        finally:
            os.close(dfd)

    @staticmethod
    def _snapshot(data_dir: pathlib.Path) -> dict[str, tuple[int, int, int]]:
        """Regular files under data_dir -> (mtime_ns, size, inode); never follows symlinks."""
        found: dict[str, tuple[int, int, int]] = {}
        seen = 0
        try:
            for dirpath, _dirs, files, dirfd in os.fwalk(data_dir, follow_symlinks=False):
                for name in files:
                    seen += 1
                    try:
                        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        rel = os.path.relpath(os.path.join(dirpath, name), data_dir)
                        found[rel] = (st.st_mtime_ns, st.st_size, st.st_ino)
                if seen > MAX_WALK_ENTRIES:
                    break
        except OSError:
            pass
        return found

    def _collect(self, data_dir: pathlib.Path, before: dict, after: dict) -> list[OutputFile]:
        changed = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
        changed = changed[: self.limits.max_output_files]
        if not changed:
            return []
        outbox = self.root / "outbox" / uuid.uuid4().hex
        outbox.mkdir(mode=0o700)
        files: list[OutputFile] = []
        for rel in changed:
            dest = outbox / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not self._copy_out(data_dir, rel, dest):
                    continue
            except OSError:
                continue
            ext = os.path.splitext(rel)[1].lower()
            mime = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            files.append(OutputFile(name=rel, path=dest, mime=mime, is_image=ext in IMAGE_EXTENSIONS))
        return files

    def _copy_out(self, data_dir: pathlib.Path, rel: str, dest: pathlib.Path) -> bool:
        """Copy data_dir/rel to dest, refusing symlinks at every step (the sandbox owns data_dir)."""
        parts = rel.split(os.sep)
        fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for part in parts[:-1]:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
            src = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        finally:
            os.close(fd)
        try:
            if not stat.S_ISREG(os.fstat(src).st_mode):
                return False
            limit = self.limits.max_file_bytes
            with open(src, "rb", closefd=False) as fsrc, open(dest, "wb") as fdst:
                copied = 0
                while copied <= limit:
                    chunk = fsrc.read(1 << 20)
                    if not chunk:
                        break
                    fdst.write(chunk)
                    copied += len(chunk)
            return True
        finally:
            os.close(src)

    def _clean_outbox(self) -> None:
        cutoff = time.time() - self.outbox_ttl
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root / "outbox"):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        shutil.rmtree(entry.path, ignore_errors=True)
