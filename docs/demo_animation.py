"""The README's moving picture: a few seconds of ``make demo``'s ``out/demo.mp4`` as an animated WebP.

    make demo-animation      # = make demo, then the line below
    .venv/bin/python docs/demo_animation.py [--video out/demo.mp4] [--out docs/demo.webp] \
        [--start 0.5] [--seconds 6] [--fps 24] [--width 0] [--quality 75]

There is no ``ffmpeg`` program here and the ``bpy`` wheels carry FFmpeg only inside Blender, so the
video is decoded by Blender itself: this file runs again under the Blender 5.0 wheel's Python
(``--blender-python``, default ``.venv-blender-50/bin/python``), which puts the video in the
sequencer of an empty scene and renders the chosen frames to PNG (sequencer only, *Standard* view
transform, so the pixels are the video's). Pillow (in ``.venv``, through matplotlib) then scales them
and writes one looping animated WebP. The picture has no sound; the video beside it does.

The file must stay under 3 MB (the limit issue 26 set for the README); the script says its size and
fails above it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 3 * 1024 * 1024


def decode(video: str, folder: str, start: float, seconds: float, fps: float) -> None:
    """In Blender's Python: render the video's frames from ``start`` for ``seconds``, ``fps`` of them
    a second, to ``folder``/frame_NNNN.png."""
    import bpy  # only under the Blender wheel

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences  # 5.0 / 4.2
    strip = strips.new_movie("demo", os.path.abspath(video), channel=1, frame_start=1)
    rate = float(strip.fps)
    if rate <= 0:
        raise SystemExit(f"{video}: Blender cannot read it as a video")
    step = max(1, round(rate / fps))
    first = 1 + round(start * rate)
    last = min(strip.frame_final_end - 1, first + round(seconds * rate) - 1)
    if last < first:
        raise SystemExit(f"{video} is {strip.frame_final_duration / rate:.1f} s long; "
                         f"--start {start} is past its end")
    render = scene.render
    render.fps, render.fps_base = round(rate), round(rate) / rate
    render.resolution_x = strip.elements[0].orig_width
    render.resolution_y = strip.elements[0].orig_height
    render.resolution_percentage = 100
    render.use_sequencer, render.use_compositing = True, False
    render.image_settings.file_format = 'PNG'
    render.image_settings.color_mode = 'RGB'
    render.filepath = os.path.join(folder, "frame_####")
    scene.view_settings.view_transform = 'Standard'
    scene.view_settings.look = 'None'
    scene.frame_start, scene.frame_end, scene.frame_step = first, last, step
    bpy.ops.render.render(animation=True)


def assemble(folder: str, out: str, fps: float, width: int, quality: int) -> int:
    """The PNGs in ``folder`` as one looping animated WebP at ``out``; returns its size in bytes."""
    from PIL import Image

    names = sorted(n for n in os.listdir(folder) if n.startswith("frame_") and n.endswith(".png"))
    if not names:
        raise SystemExit("Blender rendered no frames")
    frames = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as image:
            image = image.convert("RGB")
            if width and image.width != width:
                image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
            frames.append(image)
    tmp = out + ".tmp"
    frames[0].save(tmp, format="WEBP", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                   loop=0, quality=quality, method=6)
    size = os.path.getsize(tmp)
    if size > LIMIT:
        os.remove(tmp)
        raise SystemExit(f"{len(frames)} frames at {frames[0].width} px make {size / 1e6:.2f} MB, over the 3 MB limit: "
                         "lower --quality, --width, --fps or --seconds")
    os.replace(tmp, out)
    print(f"{out}: {len(frames)} frames, {frames[0].width}x{frames[0].height}, {fps:g} fps, "
          f"{size / 1e6:.2f} MB")
    return size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=os.path.join(REPO, "out", "demo.mp4"))
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "demo.webp"))
    parser.add_argument("--start", type=float, default=0.5, help="seconds into the video (default 0.5)")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long (default 6)")
    parser.add_argument("--fps", type=float, default=24.0, help="frames a second of the picture (default 24, the video's)")
    parser.add_argument("--width", type=int, default=0, help="width in pixels (default 0: the video's, 720)")
    parser.add_argument("--quality", type=int, default=75, help="WebP quality 0-100 (default 75)")
    parser.add_argument("--blender-python", default=os.path.join(REPO, ".venv-blender-50", "bin", "python"))
    parser.add_argument("--decode", metavar="FOLDER", help=argparse.SUPPRESS)  # the step inside Blender
    args = parser.parse_args(argv)
    if args.decode:
        decode(args.video, args.decode, args.start, args.seconds, args.fps)
        return
    if not os.path.isfile(args.video):
        raise SystemExit(f"{args.video} not found: run `make demo` first")
    with tempfile.TemporaryDirectory(prefix="demo_animation_") as folder:
        subprocess.run([args.blender_python, os.path.abspath(__file__), "--video", args.video,
                        "--start", str(args.start), "--seconds", str(args.seconds), "--fps", str(args.fps),
                        "--decode", folder], check=True, stdout=subprocess.DEVNULL)
        assemble(folder, args.out, args.fps, args.width, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
