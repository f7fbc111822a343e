"""A video of a baked character speaking: the whole body and a face close-up side by side, with sound.

One wide frame per scene frame: a temporary scene whose sequencer holds two scene strips of the
character's scene, each seen through its own camera (the body on the left, the face on the right),
and the character scene's sound strips, rendered with Workbench (the fastest engine of the ``bpy``
wheels, a frame of both views in about a quarter of a second on 2 cores) through Blender's FFmpeg
output, H.264 + AAC in an MP4. The cameras follow the character (the body camera the pelvis across
the floor, the face camera the head), without turning. A Blender built without audio (the 4.2
wheel) writes the video without sound. Everything made for the render is removed afterwards and the
character scene's settings are put back, so the video never changes the .blend it was made from.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO, cast

import bpy
from mathutils import Vector

from . import preview
from .bake import action_support
from .core.output import replacing

VIEW = (360, 480)           # width, height of each view; the video is twice as wide
NAME = "AsynFusion preview video"


def has_audio() -> bool:
    """Whether this Blender can read and write sound (the 4.2 wheel is built without Audaspace)."""
    return bool(bpy.app.build_options.audaspace)


class Progress:
    """'Preview video: frame K/N' on ``stream``: one line rewritten in a terminal, else a line per tenth."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done, self.stream = max(total, 1), 0, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.shown = -1

    def step(self, *_: object) -> None:
        self.done += 1
        tenth = 10 * self.done // self.total
        if self.tty:
            self.stream.write(f"\rPreview video: frame {self.done}/{self.total}")
            if self.done >= self.total:
                self.stream.write("\n")
        elif tenth != self.shown:
            self.shown = tenth
            self.stream.write(f"Preview video: frame {self.done}/{self.total}\n")
        self.stream.flush()


def video(scene: bpy.types.Scene, armature: bpy.types.Object, path: str, frames: tuple[int, int] | None = None,
          stream: TextIO | None = None) -> tuple[str, bool]:
    """Render ``frames`` (first, last; default the scene's frame range: the batch passes the last
    baked take's) to the MP4 at ``path`` (written whole or not at all); returns (its absolute path,
    whether it has sound)."""
    first, last = frames or (scene.frame_start, scene.frame_end)
    meshes = [c for c in armature.children if c.type == 'MESH'] or [armature]
    sound = has_audio()
    saved_frame = scene.frame_current
    try:
        with _studio(scene, first, last) as (body_camera, face_camera):
            _place_cameras(scene, first, armature, meshes, body_camera, face_camera)
            with _video_scene(scene, first, last, (body_camera, face_camera), sound) as movie:
                with replacing(path) as tmp:
                    movie.render.filepath = tmp
                    progress = Progress(last - first + 1, stream)
                    with _handler(bpy.app.handlers.render_write, progress.step), _quiet_stdout():
                        bpy.ops.render.render(animation=True, scene=movie.name)
    finally:
        scene.frame_set(saved_frame)
    return os.path.abspath(path), sound


def _place_cameras(scene: bpy.types.Scene, first: int, armature: bpy.types.Object, meshes: list[bpy.types.Object],
                   body: bpy.types.Object, face: bpy.types.Object) -> None:
    """Aim both cameras as the contact sheet does at the first frame, then let them follow the pelvis
    (across the floor) and the head (everywhere) by constraints, keeping their direction."""
    scene.frame_set(first)
    lo, hi = preview._bounds(meshes)
    height = hi.z - lo.z
    middle = (lo + hi) / 2
    cast(bpy.types.Camera, body.data).lens = 50.0
    pelvis = preview._bone_centre(armature, "pelvis", middle)
    preview._aim(body, Vector((pelvis.x, pelvis.y, middle.z)), 1.55 * height + 0.2)
    cast(bpy.types.Camera, face.data).lens = 85.0
    head = preview._bone_centre(armature, "head", hi)
    target = head - Vector((0.0, 0.0, 0.03))       # eyes to chin
    preview._aim(face, target, 0.55 * height, turn=0.2)
    for camera, bone, anchor, floor_only in ((body, "pelvis", pelvis, True), (face, "head", head, False)):
        if armature.type != 'ARMATURE' or armature.pose.bones.get(bone) is None:
            continue
        follow = cast(bpy.types.CopyLocationConstraint, camera.constraints.new('COPY_LOCATION'))
        follow.target, follow.subtarget = armature, bone
        follow.head_tail = 0.5                     # the bone's middle, as _bone_centre
        follow.use_offset = True                   # camera = its own location + the bone's
        follow.use_z = not floor_only
        camera.location -= Vector((anchor.x, anchor.y, 0.0 if floor_only else anchor.z))


@contextlib.contextmanager
def _studio(scene: bpy.types.Scene, first: int, last: int) -> Iterator[tuple[bpy.types.Object, bpy.types.Object]]:
    """Two cameras, a plain world, Workbench settings and the frame range first-last (a scene strip
    plays its scene's range) on the character scene; all gone afterwards."""
    render = cast(Any, scene.render)
    display = cast(Any, scene.display)
    saved = {k: getattr(render, k) for k in ("engine", "resolution_x", "resolution_y", "resolution_percentage",
                                              "film_transparent")}
    saved_aa = display.render_aa
    saved_camera, saved_world = scene.camera, scene.world
    saved_range = scene.frame_start, scene.frame_end
    made: list[bpy.types.ID] = []
    try:
        world = bpy.data.worlds.new(f"{NAME} world")
        world.color = (0.35, 0.37, 0.4)
        made.append(world)
        scene.world = world
        cameras = []
        for which in ("body", "face"):
            data = bpy.data.cameras.new(f"{NAME} {which}")
            camera = bpy.data.objects.new(f"{NAME} {which}", data)
            made += [camera, data]
            scene.collection.objects.link(camera)
            cameras.append(camera)
        scene.camera = cameras[0]
        scene.frame_start, scene.frame_end = first, last
        render.engine = 'BLENDER_WORKBENCH'
        display.render_aa = 'FXAA'                  # 8 samples cost three times as much
        render.resolution_x, render.resolution_y = VIEW
        render.resolution_percentage = 100
        render.film_transparent = False
        yield cameras[0], cameras[1]
    finally:
        for key, value in saved.items():
            setattr(render, key, value)
        display.render_aa = saved_aa
        scene.camera, scene.world = saved_camera, saved_world
        scene.frame_start, scene.frame_end = saved_range
        for block in made:
            preview._remove(block)


@contextlib.contextmanager
def _video_scene(scene: bpy.types.Scene, first: int, last: int, cameras: tuple[bpy.types.Object, bpy.types.Object],
                 sound: bool) -> Iterator[bpy.types.Scene]:
    """A scene that puts the two views side by side and plays the character scene's sound strips;
    set up for H.264 (+ AAC) in MP4. Removed afterwards."""
    movie = bpy.data.scenes.new(NAME)
    try:
        render = cast(Any, movie.render)
        render.fps, render.fps_base = scene.render.fps, scene.render.fps_base
        render.resolution_x, render.resolution_y = 2 * VIEW[0], VIEW[1]
        render.resolution_percentage = 100
        movie.frame_start, movie.frame_end = first, last
        strips = action_support.sound_strips(movie)
        length = last - first + 1
        for channel, (camera, offset) in enumerate(zip(cameras, (-VIEW[0] // 2, VIEW[0] // 2)), 1):
            strip = strips.new_scene(camera.name, scene, channel, first)
            strip.scene_camera = camera
            strip.frame_final_duration = length
            strip.transform.offset_x = offset
            strip.volume = 0.0                      # the sound comes from the copies below, once
        if sound:
            for source in action_support.all_strips(scene):
                if getattr(source, "sound", None) is None or source.mute:
                    continue
                copy = strips.new_sound(source.name, bpy.path.abspath(source.sound.filepath),
                                        min(source.channel + 2, 128), int(source.frame_start))
                copy.frame_offset_start, copy.frame_offset_end = source.frame_offset_start, source.frame_offset_end
                copy.volume = source.volume
        image = cast(Any, render.image_settings)
        if hasattr(image, "media_type"):            # 5.0: movies are a media type of their own
            image.media_type = 'VIDEO'
        image.file_format = 'FFMPEG'
        ffmpeg = render.ffmpeg
        ffmpeg.format, ffmpeg.codec = 'MPEG4', 'H264'
        ffmpeg.constant_rate_factor = 'MEDIUM'
        ffmpeg.audio_codec = 'AAC' if sound else 'NONE'
        if sound:
            ffmpeg.audio_bitrate, ffmpeg.audio_channels = 128, 'MONO'
        render.use_file_extension = False           # the file is the temporary name given, as it is
        yield movie
    finally:
        bpy.data.scenes.remove(movie)


@contextlib.contextmanager
def _handler(handlers: list[Callable[..., None]], function: Callable[..., None]) -> Iterator[None]:
    handlers.append(function)
    try:
        yield
    finally:
        handlers.remove(function)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Blender's own per-frame render lines off stdout (the batch prints its summary there)."""
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):     # a captured stdout with no file behind it
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
