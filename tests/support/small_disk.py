"""A real small disk for tests: a tmpfs of a few MiB that a filler file fills to the last byte.

Mounted with `mount -t tmpfs` when this process may (root: the dev machine and CI). Where it
may not, `unshare -rm` gives a helper process a private mount namespace of its own, the tmpfs is
mounted there, and this process reaches it through `/proc/<helper>/root/…` (the kernel walks that
path in the helper's namespace). Python's own file calls follow that path; SQLite resolves
symbolic links itself and would not, so the server is started inside the namespace too
(`server_prefix`). Neither possible: the test fails with a message saying why (never a skip).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path


class SmallDiskUnavailable(RuntimeError):
    pass


class SmallDisk:
    """`path`: the tmpfs as this process sees it; `server_path`: as a process started with
    `server_prefix` sees it (the same directory when mounted here)."""

    def __init__(self, directory: Path, size_mib: int) -> None:
        self.directory, self.size_mib = directory, size_mib
        self.mounted_here = False
        self.helper: subprocess.Popen | None = None
        self.path = self.server_path = directory
        self.server_prefix: list[str] = []

    def __enter__(self) -> SmallDisk:
        self.directory.mkdir(parents=True, exist_ok=True)
        options = f"size={self.size_mib}m,mode=0700"
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(self.directory)], capture_output=True, text=True
        )
        if mounted.returncode == 0 and not os.environ.get("POPPASS_TEST_UNSHARE"):
            self.mounted_here = True
            return self
        if mounted.returncode == 0:  # (POPPASS_TEST_UNSHARE=1: exercise the other way here too)
            subprocess.run(["umount", str(self.directory)], check=True)
        if shutil.which("unshare") is None:
            raise SmallDiskUnavailable(f"cannot mount a tmpfs ({mounted.stderr.strip()}) and there is no `unshare`")
        # The helper holds the namespace open; `nsenter` puts the server into it.
        self.helper = subprocess.Popen(
            [
                "unshare",
                "-rm",
                "--propagation",
                "private",
                "sh",
                "-c",
                f'mount -t tmpfs -o {options} tmpfs "$0" && echo mounted && exec sleep 100000',
                str(self.directory),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.helper.stdout is not None
        if self.helper.stdout.readline().strip() != "mounted":
            error = self.helper.stderr.read() if self.helper.stderr else ""
            self.__exit__()
            raise SmallDiskUnavailable(
                f"cannot mount a tmpfs here ({mounted.stderr.strip()}) nor under unshare -rm ({error.strip()})"
            )
        self.path = Path(f"/proc/{self.helper.pid}/root") / str(self.directory).lstrip("/")
        self.server_prefix = ["nsenter", "-t", str(self.helper.pid), "-U", "-m", "--preserve-credentials"]
        return self

    def fill(self) -> Path:
        """Write a filler file until the disk refuses another byte (ENOSPC)."""
        filler = self.path / "filler"
        chunk = b"\0" * 65536
        with filler.open("wb", buffering=0) as out:
            while True:
                try:
                    out.write(chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
            # The last pages a short write may have left: one byte at a time.
            while True:
                try:
                    out.write(b"\0")
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
        return filler

    def make_room(self) -> None:
        (self.path / "filler").unlink()

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def __exit__(self, *exc: object) -> None:
        if self.mounted_here:
            subprocess.run(["umount", "-l", str(self.directory)], check=False)
        if self.helper is not None:
            self.helper.kill()  # the namespace, and its mount, go with its last process
            self.helper.wait()
            for pipe in (self.helper.stdout, self.helper.stderr):
                if pipe is not None:
                    pipe.close()
