"""Real Blender (the bpy wheel) for every test; the add-on registered as a package.

Tests that read the shared data beside the repository (``../shared/data``: the BEAT2 takes) say so
with ``@pytest.mark.shared_data("beat2")``; a test using the ``long_speech``, ``short_take`` or
``take`` fixture is marked by itself. Where that folder is missing they are skipped with a reason
naming it, except where ``ASYNFUSION_REQUIRE_SHARED_DATA`` is set (CI): there a missing folder fails
them (tests/shared_data.py, as for the backend's tests).
"""

import os
import sys
import wave

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEECH = os.path.join(REPO, "tests", "data", "5703-47212-0000.ogg")   # 14.8 s LibriSpeech reading
if REPO not in sys.path:
    sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))     # the helpers shared with the backend's tests

import bpy  # noqa: E402
import shared_data  # noqa: E402

BEAT2 = str(shared_data.SHARED / "beat2")
TAKE = os.path.join(BEAT2, "2_scott_0_1_1.npz")
TAKE_WAV = os.path.join(BEAT2, "2_scott_0_1_1.wav")


def pytest_configure(config):
    shared_data.register_marker(config)


def pytest_collection_modifyitems(items):
    shared_data.mark_fixture_users(items, {"long_speech": "beat2", "short_take": "beat2", "take": "beat2"})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    shared_data.skip_without_shared_data(item)


@pytest.fixture
def addon():
    """An empty factory scene with the add-on registered; unregistered afterwards."""
    import asynfusion_blender
    bpy.ops.wm.read_factory_settings(use_empty=True)
    asynfusion_blender.register()
    yield asynfusion_blender
    asynfusion_blender.unregister()


@pytest.fixture
def scene(addon):
    """Generate's targets: the built-in rig and the bundled speech; no worker running before or after."""
    from asynfusion_blender import client, targets
    armature, body = targets.create_builtin_rig(bpy.context)
    settings = bpy.context.scene.asynfusion
    settings.armature, settings.face_mesh = armature, body
    settings.audio_file, settings.start_frame, settings.seed = SPEECH, 1, 3
    client.shutdown()
    yield armature, body
    client.shutdown()


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory):
    """Three minutes of real speech (a BEAT2 take, 16-bit PCM, three times over): long enough that
    a kill, a cancel or an interrupt lands while the worker is still generating, on any machine."""
    src = os.path.join(BEAT2, "2_scott_0_2_2.wav")
    path = str(tmp_path_factory.mktemp("long") / "three_minutes.wav")
    with wave.open(src) as r, wave.open(path, "wb") as w:
        w.setparams(r.getparams())
        w.writeframes(r.readframes(r.getnframes()) * 3)
    return path


@pytest.fixture
def short_take(tmp_path):
    """Two seconds of a BEAT2 take as a motion file (speech.npz): enough to bake, quick to bake."""
    from asynfusion_blender.core import motion_file
    full = motion_file.read_motion(TAKE)
    path = tmp_path / "speech.npz"
    motion_file.write_motion(path, motion_file.Motion(full.poses[:60], full.expressions[:60], full.trans[:60]))
    return str(path)


@pytest.fixture(scope="session")
def take():
    from asynfusion_blender.core import motion_file
    return motion_file.read_motion(TAKE)


def scene_state() -> dict:
    """Everything a bake may touch, as plain values, to compare before/after."""
    scene = bpy.context.scene
    state: dict = {
        "actions": sorted((a.name, a.use_fake_user) for a in bpy.data.actions),
        "objects": sorted(o.name for o in bpy.data.objects),
        "frame_end": scene.frame_end,
        "sync_mode": scene.sync_mode,
        "sequence_editor": scene.sequence_editor is not None,
        "sounds": sorted(s.name for s in bpy.data.sounds),
    }
    for obj in bpy.data.objects:
        adt = obj.animation_data
        state["anim " + obj.name] = None if adt is None else (adt.action.name if adt.action else "")
        if obj.type == 'ARMATURE':
            state["modes " + obj.name] = [b.rotation_mode for b in obj.pose.bones]
        keys = getattr(obj.data, "shape_keys", None)
        if keys is not None:
            kadt = keys.animation_data
            state["key anim " + obj.name] = None if kadt is None else (kadt.action.name if kadt.action else "")
            state["sliders " + obj.name] = [(k.slider_min, k.slider_max) for k in keys.key_blocks]
    return state


def assert_range_regenerated(old: str, new: str, start: int, end: int) -> None:
    """The new motion file is the old one bit for bit outside motion frames [start, end), new inside."""
    from asynfusion_blender.core import motion_file
    before, after = motion_file.read_motion(old), motion_file.read_motion(new)
    for key in ("poses", "expressions", "trans"):
        a, b = getattr(before, key), getattr(after, key)
        assert np.array_equal(a[:start], b[:start]) and np.array_equal(a[end:], b[end:]), key
        assert not np.array_equal(a[start:end], b[start:end]), key


def png_pixels(path: str) -> np.ndarray:
    """(height, width, 4) float pixels of a PNG as Blender reads it (rows bottom-up)."""
    image = bpy.data.images.load(path)
    w, h = image.size
    pixels = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(pixels)
    bpy.data.images.remove(image)
    return pixels.reshape(h, w, 4)


def make_face(name, keys):
    """A small grid mesh with the given shape keys, each moving a different vertex."""
    mesh = bpy.data.meshes.new(name)
    grid = [(x * 0.01, 0.0, z * 0.01) for z in range(4) for x in range(4)]
    mesh.from_pydata(grid, [], [(r * 4 + c, r * 4 + c + 1, r * 4 + c + 5, r * 4 + c + 4)
                                for r in range(3) for c in range(3)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    if keys:
        obj.shape_key_add(name="Basis", from_mix=False)
        for k, key in enumerate(keys):
            block = obj.shape_key_add(name=key, from_mix=False)
            block.data[k % 16].co.y += 0.01
    return obj


_EXIT_STATUS = 0


def pytest_sessionfinish(session, exitstatus):
    global _EXIT_STATUS
    _EXIT_STATUS = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Blender 4.2's bpy module segfaults while Python shuts down once any class with
    Python methods has been registered (even after unregistering; 5.0 exits cleanly).
    On 4.2 leave with pytest's own exit status before that teardown runs."""
    if bpy.app.version < (4, 3, 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS)
