"""The bundled backend as a pure-Python wheel, made on the spot by Set Up Backend: no setuptools,
no build tools, nothing written into the installed extension. The same sources give the same
bytes (reproducible_zip). No bpy here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping

from ..core.reproducible_zip import write_zip


class WheelError(Exception):
    """The backend cannot be packaged, as one sentence."""


def read_pyproject(backend_dir: str) -> dict:
    with open(os.path.join(backend_dir, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)


def torch_requirement(project: Mapping) -> str:
    """The backend's own torch requirement (e.g. 'torch>=2.2')."""
    for requirement in project.get("dependencies", []):
        if re.match(r"torch\b(?![-_.\w])", requirement.strip()):
            return requirement.strip()
    return "torch"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def _metadata(project: Mapping) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    license_ = project.get("license")
    if isinstance(license_, Mapping) and license_.get("text"):
        lines.append(f"License: {license_['text']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        for req in requirements:
            name, _, marker = req.partition(";")
            condition = f'({marker.strip()}) and extra == "{extra}"' if marker.strip() else f'extra == "{extra}"'
            lines.append(f"Requires-Dist: {name.strip()}; {condition}")
    return "\n".join(lines) + "\n"


def build_backend_wheel(backend_dir: str, out_dir: str) -> str:
    """A pure-Python wheel of the backend package (no setuptools needed), written to out_dir."""
    config = read_pyproject(backend_dir)
    project = config["project"]
    dist = f"{re.sub(r'[-_.]+', '_', project['name'])}-{project['version']}"
    include = config.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get(
        "include", [project["name"] + "*"])
    files: dict[str, bytes] = {}
    for top in sorted(os.listdir(backend_dir)):
        path = os.path.join(backend_dir, top)
        if not (os.path.isfile(os.path.join(path, "__init__.py"))
                and any(re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), top) for p in include)):
            continue
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(names):
                if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                    continue
                full = os.path.join(folder, name)
                arcname = os.path.relpath(full, backend_dir).replace(os.sep, "/")
                with open(full, "rb") as fh:
                    files[arcname] = fh.read()
    if not files:
        raise WheelError(f"The backend package was not found in {backend_dir}; reinstall the extension.")
    info = f"{dist}.dist-info"
    files[f"{info}/METADATA"] = _metadata(project).encode("utf-8")
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: asynfusion_blender.setup.wheel\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    scripts = project.get("scripts", {})
    if scripts:
        entry = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(scripts.items()))
        files[f"{info}/entry_points.txt"] = entry.encode("utf-8")
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in sorted(files.items()))
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode("utf-8")

    os.makedirs(out_dir, exist_ok=True)
    wheel = os.path.join(out_dir, f"{dist}-py3-none-any.whl")
    write_zip(wheel, files.items())          # dist-info last, as the wheel format asks
    return wheel
