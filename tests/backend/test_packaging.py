"""The backend as pip installs it (not only this editable checkout) carries the data files its
code reads beside itself: without them an installed worker cannot make ARKit tracks and the CLI
cannot build its training options."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_backend_wheel_carries_the_arkit_read_out_and_the_training_recipes(tmp_path):
    source = tmp_path / "backend"
    shutil.copytree(REPO / "backend", source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                        "-q", "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = set(zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl"))).namelist())
    data = {str(p.relative_to(REPO / "backend")).replace("\\", "/")
            for p in (REPO / "backend" / "asynfusion").rglob("*") if p.suffix in (".npz", ".json")}
    assert data and data <= names, sorted(data - names)
