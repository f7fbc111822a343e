"""Make the built-in character's head: a trimmed, compact copy of the ICT-FaceKit head.

Why a trimmed copy: the add-on ships its data, and the full ICT-FaceKit conversion (26,719
vertices, 53 dense float32 expression shapes, UVs) is ~17 MB unpacked. The built-in
character needs the skin, eyes, eye sockets, lashes and enough of the mouth (cavity, gums,
tongue, teeth) to read lip closure against the dark mouth; the transparent eye overlays
(lacrimal fluid, eye blend, eye occlusion) need textures the character does not have and
are dropped, and so are the UVs. The 53 ARKit-named shapes are kept, stored sparse (only the
vertices a shape moves by more than ``MOVE_CM``) as float16 centimetres (error < 0.02 mm).

Each polygon also gets a part (skin, eye white, iris, pupil, teeth, mouth, lashes, brows) so
the add-on can give the head a few flat materials; irises and pupils are the front caps of
the eyeballs, brows a band of forehead polygons above each eye (the mesh has no brow
geometry: upstream draws them in a texture).

    .venv/bin/python -m asynfusion.tools.make_ict_head [--data ../shared/data] [--out asynfusion_blender/data/ict_facekit]

Copies the upstream LICENSE and CREDITS.md beside the .npz: ICT-FaceKit is MIT-licensed and
its notice travels with every copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

from asynfusion.core.npz import write_npz

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "asynfusion_blender", "data", "ict_facekit")
FILE = "ict_head.npz"
MOVE_CM = 1e-3              # a shape moving a vertex by less than 0.01 mm leaves it out
UPPER_LIP, LOWER_LIP = 5532, 5519       # midline lip vertices (see fit_flame_arkit.py)

# Upstream vertex ranges (end exclusive) kept, in order, with their polygon ranges and part.
KEPT = (  # (name, vertices, polygons, part)
    ("face", (0, 9409), (0, 9230), "skin"),
    ("head and neck", (9409, 11248), (9230, 11144), "skin"),
    ("mouth socket", (11248, 13294), (11144, 13226), "mouth"),
    ("eye sockets", (13294, 14062), (13226, 14034), "mouth"),
    ("gums and tongue", (14062, 17039), (14034, 17006), "mouth"),
    ("teeth", (17039, 21451), (17006, 21496), "teeth"),
    ("left eyeball", (21451, 23021), (21496, 23094), "eye white"),
    ("right eyeball", (23021, 24591), (23094, 24692), "eye white"),
    ("eyelashes", (25351, 26719), (25304, 26384), "lashes"),
)
PARTS = ("skin", "eye white", "iris", "pupil", "teeth", "mouth", "lashes", "brows")
EYES = {"left": (21451, 23021), "right": (23021, 24591)}   # +x is the head's left
IRIS_DEG, PUPIL_DEG = 30.0, 11.0


def polygon_starts(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)[:-1]])


def eye_centre(vertices: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """Middle of an eyeball's bounding box (cm): the point the eye turns about."""
    v = vertices[span[0]:span[1]]
    return (v.min(0) + v.max(0)) / 2


def brow_polygons(centroids: np.ndarray, normals_z: np.ndarray, eyes: list[np.ndarray]) -> np.ndarray:
    """Forehead polygons in an arched band above each eye (cm, relative to the eye centre)."""
    out = np.zeros(len(centroids), bool)
    for c in eyes:
        side = np.sign(c[0])
        x = (centroids[:, 0] - c[0]) * side            # + towards the temple
        arch = c[1] + 1.75 + 0.35 * (1 - ((x + 0.2) / 2.4) ** 2) - 0.25 * (x > 1.2) * (x - 1.2)
        band = 0.28 + 0.12 * np.clip(-x / 2.0, 0, 1)   # thicker at the inner end
        out |= (np.abs(x + 0.2) < 2.6) & (np.abs(centroids[:, 1] - arch) < band) & (normals_z > 0.3)
    return out


def trim(src: dict) -> dict:
    """The compact head as a dict of arrays (see the module docstring)."""
    vertices = src["neutral_vertices"].astype(np.float64)
    sizes = src["face_sizes"].astype(np.int64)
    loops = src["face_vertex_indices"].astype(np.int64)
    starts = polygon_starts(sizes)
    keep_v = np.concatenate([np.arange(*v) for _, v, _, _ in KEPT])
    keep_p = np.concatenate([np.arange(*p) for _, _, p, _ in KEPT])
    part = np.concatenate([np.full(p[1] - p[0], PARTS.index(name)) for _, _, p, name in KEPT])
    new_index = np.full(len(vertices), -1)
    new_index[keep_v] = np.arange(len(keep_v))
    kept_sizes = sizes[keep_p]
    kept_loops = np.concatenate([loops[starts[p]:starts[p] + sizes[p]] for p in keep_p])
    if (new_index[kept_loops] < 0).any():
        raise SystemExit("make_ict_head: a kept polygon uses a dropped vertex")
    kept_loops = new_index[kept_loops]

    kept_v = vertices[keep_v]
    kept_starts = polygon_starts(kept_sizes)
    first = kept_v[kept_loops[kept_starts]]
    centroids = np.add.reduceat(kept_v[kept_loops], kept_starts) / kept_sizes[:, None]
    second, third = kept_v[kept_loops[kept_starts + 1]], kept_v[kept_loops[kept_starts + 2]]
    normals = np.cross(second - first, third - first)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    centres = [eye_centre(vertices, EYES["left"]), eye_centre(vertices, EYES["right"])]
    for c in centres:
        towards = centroids - c
        on_eye = (part == PARTS.index("eye white")) & (np.linalg.norm(towards, axis=1) < 2.0)
        angle = np.degrees(np.arccos(np.clip(towards[:, 2] / np.linalg.norm(towards, axis=1), -1, 1)))
        part[on_eye & (angle < IRIS_DEG)] = PARTS.index("iris")
        part[on_eye & (angle < PUPIL_DEG)] = PARTS.index("pupil")
    skin = part == PARTS.index("skin")
    part[skin & brow_polygons(centroids, normals[:, 2], centres)] = PARTS.index("brows")

    side = np.zeros(len(keep_v), np.uint8)             # 0 head, 1 left eye, 2 right eye
    for k, span in enumerate(EYES.values(), start=1):
        side[(keep_v >= span[0]) & (keep_v < span[1])] = k

    deltas = src["expression_deltas"][:, keep_v].astype(np.float64)
    offsets, key_vertices, key_deltas = [0], [], []
    for d in deltas:
        moved = np.flatnonzero(np.abs(d).max(1) > MOVE_CM)
        key_vertices.append(moved)
        key_deltas.append(d[moved])
        offsets.append(offsets[-1] + len(moved))
    return {
        "names": np.array([str(n) for n in src["expression_names"]]),
        "vertices": kept_v.astype(np.float32),
        "polygon_sizes": kept_sizes.astype(np.uint8),
        "polygon_vertices": kept_loops.astype(np.uint16),
        "polygon_parts": part.astype(np.uint8),
        "part_names": np.array(PARTS),
        "vertex_eye": side,
        "eye_centres": np.array(centres, np.float32),
        "key_offsets": np.array(offsets, np.int32),
        "key_vertices": np.concatenate(key_vertices).astype(np.uint16),
        "key_deltas": np.concatenate(key_deltas).astype(np.float16),
        "lip_vertices": new_index[[UPPER_LIP, LOWER_LIP]].astype(np.int32),
        "source_index": keep_v.astype(np.int32),
    }


def save(path: str, arrays: dict) -> None:
    """A compressed .npz of plain arrays (no pickle) with fixed zip timestamps: same input, same bytes."""
    write_npz(path, arrays, compress=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    ict = os.path.join(args.data, "ict_facekit")
    with np.load(os.path.join(ict, "ict_facekit_expressions.npz"), allow_pickle=False) as d:
        arrays = trim({k: d[k] for k in d.files})
    os.makedirs(args.out, exist_ok=True)
    save(os.path.join(args.out, FILE), arrays)
    for name in ("LICENSE", "CREDITS.md"):
        shutil.copyfile(os.path.join(ict, name), os.path.join(args.out, name))
    size = os.path.getsize(os.path.join(args.out, FILE)) / 1e6
    print(f"{FILE}: {len(arrays['vertices'])} vertices, {len(arrays['polygon_sizes'])} polygons, "
          f"{len(arrays['names'])} shapes, {len(arrays['key_vertices'])} moved vertices, {size:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
