"""The contact sheet renders a baked take in real Blender (Cycles, CPU) and leaves the scene as it was."""

import bpy
import numpy as np
import pytest

from conftest import TAKE, png_pixels
from asynfusion_blender import generation, preview, targets
from asynfusion_blender.bake import bake, curve_math


def test_sheet_frames_spread_over_the_range():
    assert preview.sheet_frames(1, 301, 4) == [1, 101, 201, 301]
    assert preview.sheet_frames(5, 5, 6) == [5]
    assert preview.sheet_frames(1, 3, 6) == [1, 2, 3]


def test_tile_images_puts_the_first_row_on_top():
    a = np.zeros((2, 3, 4), np.float32)
    b = np.full((2, 3, 4), 0.5, np.float32)
    sheet = preview.tile_images([[a, a], [b, b]], gap=1)
    assert sheet.shape == (5, 7, 4)
    assert np.all(sheet[3:, :3] == 0) and np.all(sheet[:2, :3] == 0.5)   # pixels are stored bottom-up
    assert np.all(sheet[2] == 1)                                          # the gap


@pytest.mark.shared_data("beat2")
def test_contact_sheet_of_a_bake_changes_nothing(addon, tmp_path):
    scene = bpy.context.scene
    armature, body = targets.create_builtin_rig(bpy.context)
    options = bake.BakeOptions(parts=frozenset(curve_math.PARTS), start_frame=1, audio_path=None, name="take")
    generation.bake_motion_file(scene, TAKE, armature, body, options)
    scene.frame_current = 42
    before = (sorted(bpy.data.objects.keys()), len(bpy.data.cameras), len(bpy.data.lights), len(bpy.data.worlds),
              scene.render.engine, scene.render.resolution_x, scene.camera, scene.world, scene.frame_current)
    pixels = png_pixels(preview.contact_sheet(scene, armature, str(tmp_path / "sheet.png"), count=2))
    tw, th = preview.TILE
    assert pixels.shape == (2 * th + 4, 2 * tw + 4, 4)
    top = pixels[th + 4:]                                 # the body row
    first, last = top[:, :tw, :3], top[:, tw + 4:, :3]
    assert first.std() > 0.02                             # a figure, not a blank frame
    assert np.abs(first - last).mean() > 0.002            # the character moved between the frames
    after = (sorted(bpy.data.objects.keys()), len(bpy.data.cameras), len(bpy.data.lights), len(bpy.data.worlds),
             scene.render.engine, scene.render.resolution_x, scene.camera, scene.world, scene.frame_current)
    assert after == before


def test_mouth_frames_pick_the_most_closed_then_the_most_open_apart():
    opening = np.array([0.5, -0.2, -0.3, 0.4, 0.9, 0.8, 0.1, -0.25, 0.7, 0.0])
    assert preview.mouth_frames(opening, 10, 4, spacing=1) == [12, 17, 14, 15]
    assert preview.mouth_frames(opening, 10, 4, spacing=2) == [12, 17, 14, 18]
    assert preview.mouth_frames(opening, 1, 1, spacing=1) == [5]
