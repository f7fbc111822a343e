"""Build the installable Blender extension: dist/asynfusion_blender-<version>.zip.

    python build_addon.py [--out dist/] [--weights weights/]

The zip is what Preferences > Get Extensions > Install from Disk (or
``blender --command extension install-file``) takes:

    blender_manifest.toml, __init__.py, ...   the add-on, at the zip root
    LICENSE                                   the code's MIT licence (the manifest says the same)
    core/...                                  the shared torch-free contracts (a symlink in the
                                              checkout, real files here)
    backend/pyproject.toml, backend/asynfusion/...
                                              the backend package the worker runs; "Set up backend"
                                              installs it into the extension's own venv
    weights/...                               the default weights, whatever of them exists now
                                              (training-only files left out, see TRAINING_ONLY)

The same sources give the same bytes: entries sorted, one fixed timestamp, fixed
permissions, fixed compression. Needs Python 3.11+ (tomllib) and nothing else.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import os
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator

REPO = os.path.dirname(os.path.abspath(__file__))
ADDON = os.path.join(REPO, "asynfusion_blender")
BACKEND = os.path.join(REPO, "backend")
WEIGHTS = os.path.join(REPO, "weights")
MANIFEST = "blender_manifest.toml"
LICENSE = os.path.join(REPO, "LICENSE")

# Never shipped from anywhere: caches, editor and OS litter.
ALWAYS_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".git"}
ALWAYS_SKIP_FILES = ("*.pyc", "*.pyo", ".DS_Store", "*~", "*.swp")
# Files a training run leaves in a weights folder that the generator never reads:
# the un-averaged weights and optimizer state for resuming, the resume state, logs, pickles.
# Also the evaluation-only folders beside the student: the teacher it was distilled from
# (ablations) and the motion autoencoder (Frechet distance). The add-on generates with the student.
TRAINING_ONLY = ("raw.safetensors", "optimizer.safetensors", "train_state.json", "*.tmp",
                 "*.log", "*.pt", "*.pth", "*.ckpt", "*.pkl", "events.out.tfevents*",
                 "/teacher/", "/motion_ae/")



def _write_zip(path: str, entries: Iterable[tuple[str, bytes]]) -> None:
    """The reproducible zip writer (core/), loaded as a file: the add-on package around it imports bpy."""
    source = os.path.join(ADDON, "core", "reproducible_zip.py")
    spec = importlib.util.spec_from_file_location("asynfusion_reproducible_zip", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_zip(path, entries)


def manifest(addon_dir: str = ADDON) -> dict:
    with open(os.path.join(addon_dir, MANIFEST), "rb") as fh:
        return tomllib.load(fh)


def _excluded(rel: str, is_dir: bool, patterns: Iterable[str]) -> bool:
    """The manifest's ``[build] paths_exclude_pattern`` rules, as Blender's own build reads them:
    "name/" matches folders, "/path" is anchored at the add-on root, other patterns match names."""
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern[:-1]
        if pattern.startswith("/"):
            if fnmatch.fnmatchcase(rel, pattern[1:]):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _walk(root: str, prefix: str, skip: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """(archive name, file on disk) for every file under root, symlinks followed into real files."""
    skip = tuple(skip)
    for folder, dirs, files in os.walk(root, followlinks=True):
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if d not in ALWAYS_SKIP_DIRS and not d.startswith(".")
                   and not d.endswith(".egg-info") and not _excluded(rel_folder + d, True, skip)]
        for name in files:
            rel = rel_folder + name
            if name.startswith(".") or any(fnmatch.fnmatchcase(name, p) for p in ALWAYS_SKIP_FILES):
                continue
            if _excluded(rel, False, skip):
                continue
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                raise SystemExit(f"build_addon: {path} is a link to nothing")
            yield prefix + rel, path


def collect(addon_dir: str = ADDON, backend_dir: str = BACKEND, weights_dir: str | None = WEIGHTS
            ) -> list[tuple[str, str]]:
    """Every (archive name, source file) of the extension, sorted by archive name."""
    excludes = manifest(addon_dir).get("build", {}).get("paths_exclude_pattern", [])
    entries = list(_walk(addon_dir, "", excludes))
    entries.append(("LICENSE", LICENSE))            # MIT: the notice travels with every copy
    entries.append(("backend/pyproject.toml", os.path.join(backend_dir, "pyproject.toml")))
    entries += _walk(os.path.join(backend_dir, "asynfusion"), "backend/asynfusion/")
    if weights_dir and os.path.isdir(weights_dir):
        entries += _walk(weights_dir, "weights/", TRAINING_ONLY)
    names = [name for name, _ in entries]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise SystemExit(f"build_addon: two files would share the name {sorted(clash)[0]} in the zip")
    return sorted(entries)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def zip_name(addon_dir: str = ADDON) -> str:
    info = manifest(addon_dir)
    return f"{info['id']}-{info['version']}.zip"


def build(out_dir: str = os.path.join(REPO, "dist"), addon_dir: str = ADDON, backend_dir: str = BACKEND,
          weights_dir: str | None = WEIGHTS) -> str:
    """Write the zip (atomically) and return its path."""
    entries = collect(addon_dir, backend_dir, weights_dir)
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, zip_name(addon_dir))
    partial = target + ".partial"
    _write_zip(partial, ((name, _read(path)) for name, path in entries))
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "dist"), help="output folder (default: dist/)")
    parser.add_argument("--weights", default=WEIGHTS,
                        help="weights folder to bundle (default: weights/); --weights '' bundles none")
    args = parser.parse_args(argv)
    weights = args.weights or None
    path = build(args.out, weights_dir=weights)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    shipped = sorted({i.filename.split("/")[1] for i in infos if i.filename.startswith("weights/")})
    print(f"{os.path.relpath(path)}: {len(infos)} files, {os.path.getsize(path) / 1e6:.1f} MB; "
          f"weights: {', '.join(shipped) if shipped else 'none (the backend asks for a weights folder)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
