"""How valid_hispanic_f_2_busi.glb was made (README.md): a meshopt-compressed GLB
(EXT_meshopt_compression, which Blender's glTF importer does not read) turned into a plain GLB,
its morph targets dropped (and the accessors only they used). Every kept byte is the original's,
decoded. Needs numpy and the `meshoptimizer` package from PyPI (0.2.30a0 was used); not run by the
tests. Usage: python decompress_glb.py IN.glb OUT.glb"""
import json
import struct
import sys

import meshoptimizer
import numpy as np


def read_glb(path):
    data = open(path, "rb").read()
    assert data[:4] == b"glTF"
    chunks, at = [], 12
    while at < len(data):
        length, kind = struct.unpack("<I4s", data[at:at + 8])
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 8 + length
    return json.loads(chunks[0][1]), chunks[1][1]


def view_bytes(gltf, binary, index):
    view = gltf["bufferViews"][index]
    ext = view.get("extensions", {}).get("EXT_meshopt_compression")
    if ext is None:
        assert view["buffer"] == 0
        start = view.get("byteOffset", 0)
        return binary[start:start + view["byteLength"]]
    assert ext["buffer"] == 0
    start = ext.get("byteOffset", 0)
    src = binary[start:start + ext["byteLength"]]
    count, stride, mode = ext["count"], ext["byteStride"], ext["mode"]
    if mode == "ATTRIBUTES":
        out = np.ascontiguousarray(meshoptimizer.decode_vertex_buffer(count, stride, src)).view(np.uint8).reshape(-1)
        flt = ext.get("filter", "NONE")
        if flt == "OCTAHEDRAL":
            out = meshoptimizer.decode_filter_oct(out, count, stride)
        elif flt == "QUATERNION":
            out = meshoptimizer.decode_filter_quat(out, count, stride)
        elif flt == "EXPONENTIAL":
            out = meshoptimizer.decode_filter_exp(out, count, stride)
        raw = np.asarray(out).view(np.uint8).tobytes()
    else:       # the decoder writes index_size-byte indices into the front of a uint32 array
        decode = meshoptimizer.decode_index_buffer if mode == "TRIANGLES" else meshoptimizer.decode_index_sequence
        raw = np.ascontiguousarray(decode(count, stride, src)).view(np.uint8)[:count * stride].tobytes()
    assert len(raw) == view["byteLength"], (len(raw), view["byteLength"])
    return raw


def main(src, dst):
    gltf, binary = read_glb(src)
    for mesh in gltf["meshes"]:
        for prim in mesh["primitives"]:
            prim.pop("targets", None)
        mesh.pop("weights", None)
        mesh.get("extras", {}).pop("targetNames", None)
        if not mesh.get("extras"):
            mesh.pop("extras", None)
    used = set()
    for mesh in gltf["meshes"]:
        for prim in mesh["primitives"]:
            used.update(prim["attributes"].values())
            if "indices" in prim:
                used.add(prim["indices"])
    for skin in gltf.get("skins", []):
        if "inverseBindMatrices" in skin:
            used.add(skin["inverseBindMatrices"])
    for anim in gltf.get("animations", []):
        for s in anim["samplers"]:
            used.update((s["input"], s["output"]))
    acc_map = {old: new for new, old in enumerate(sorted(used))}
    accessors = [dict(gltf["accessors"][old]) for old in sorted(used)]
    decoded = {}
    views, blob = [], bytearray()

    def add_view(raw, **extra):
        while len(blob) % 4:
            blob.append(0)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(raw), **extra})
        blob.extend(raw)
        return len(views) - 1

    sizes = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
    for a in accessors:          # each used accessor gets a tight view of its own
        old = gltf["bufferViews"][a["bufferView"]]
        if a["bufferView"] not in decoded:
            decoded[a["bufferView"]] = view_bytes(gltf, binary, a["bufferView"])
        raw = decoded[a["bufferView"]]
        element = sizes[a["componentType"]] * widths[a["type"]]
        stride = old.get("byteStride")
        start = a.get("byteOffset", 0)
        length = (a["count"] - 1) * stride + element if stride else a["count"] * element
        extra = {k: old[k] for k in ("byteStride", "target") if k in old}
        a["bufferView"], a["byteOffset"] = add_view(raw[start:start + length], **extra), 0
    for im in gltf.get("images", []):
        if "bufferView" in im:
            im["bufferView"] = add_view(view_bytes(gltf, binary, im["bufferView"]))
    for mesh in gltf["meshes"]:
        for prim in mesh["primitives"]:
            prim["attributes"] = {k: acc_map[v] for k, v in prim["attributes"].items()}
            if "indices" in prim:
                prim["indices"] = acc_map[prim["indices"]]
    for skin in gltf.get("skins", []):
        if "inverseBindMatrices" in skin:
            skin["inverseBindMatrices"] = acc_map[skin["inverseBindMatrices"]]
    for anim in gltf.get("animations", []):
        for s in anim["samplers"]:
            s["input"], s["output"] = acc_map[s["input"]], acc_map[s["output"]]
    gltf["accessors"], gltf["bufferViews"] = accessors, views
    gltf["buffers"] = [{"byteLength": len(blob)}]
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in gltf:
            gltf[key] = [e for e in gltf[key] if e != "EXT_meshopt_compression"]
            if not gltf[key]:
                del gltf[key]
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    while len(blob) % 4:
        blob.append(0)
    out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(blob))
    out += struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(blob), b"BIN\x00") + bytes(blob)
    open(dst, "wb").write(out)
    print(dst, len(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
