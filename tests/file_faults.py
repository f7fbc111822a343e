"""Real file-system faults for tests, shared by the backend and the Blender tests (stdlib only).

A read-only folder must refuse writes even to root (these tests often run as root in CI
containers), so where chmod is not enough the folder is also made immutable with chattr.
"""

import contextlib
import os
import shutil
import subprocess

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
