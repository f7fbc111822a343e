"""Real file-system faults for tests, shared by the backend and the Blender tests (stdlib only).

A read-only folder must refuse writes even to root (these tests often run as root in CI
containers), so where chmod is not enough the folder is also made immutable with chattr.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile

import pytest


@contextlib.contextmanager
def read_only_folder(path):
    """Make the existing folder ``path`` refuse new files for this process; restore it afterwards."""
    path = os.fspath(path)
    mode = os.stat(path).st_mode & 0o7777
    os.chmod(path, 0o555)
    immutable = False
    try:
        if os.access(path, os.W_OK) or os.geteuid() == 0:
            immutable = bool(shutil.which("chattr")) and subprocess.run(
                ["chattr", "+i", path], capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("cannot make a folder read-only for this user here")
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", path], check=True)
        os.chmod(path, mode)


@contextlib.contextmanager
def unreadable_file(data: bytes, name: str):
    """A file this process cannot read: mode 000 in a folder anyone may enter; root, who reads
    anything, takes the identity of 'nobody' (effective uid 65534) for the duration."""
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0)
    root = os.geteuid() == 0
    try:
        if root:
            os.seteuid(65534)
        yield path
    finally:
        if root:
            os.seteuid(0)
        shutil.rmtree(folder)


@contextlib.contextmanager
def full_folder(path, size="64k"):
    """Make the empty folder ``path`` a file system of ``size`` (a tmpfs), so that writing more
    fails with 'No space left on device'; needs the right to mount (root in CI containers)."""
    path = os.fspath(path)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if not mounted:
        pytest.skip("cannot mount a small file system here to fill it")
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=True)
