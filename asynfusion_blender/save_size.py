"""A .blend that holds takes is saved compressed (issue 23 item 9).

Where the size is: one 77 s take on the built-in character saved uncompressed from Blender 4.3 is
59.5 MB. About 28 MB is the character's mesh (its head's 53 ARKit shape keys plus the basis are
each a full copy of all 28,509 vertices: Blender stores no sparse keys, and 18,397 of the head's
25,959 vertices move in some key), the rest the take's keyframes (72 bytes each, 276 F-curves keyed
at every frame). Neither shrinks without losing what a take is, but Blender's own zstd makes the
file 12.6 MB (21 %; bench/RESULTS.md). Blender 5.0 compresses new files by default; 4.2 to 4.5 do
not, and a script's ``bpy.ops.wm.save_mainfile()`` never does in 4.2.

So after a save that wrote such a file uncompressed, it is written once more, compressed, over
itself: Blender then keeps compressing it on later saves (a file remembers its compression), and
the ``.blend1`` backup stays the version before (no backup is made of the uncompressed write).
Only the file that is open is recompressed: Save Copy and files without takes are left as written.
The preference *Compress Files With Takes* turns this off.
"""

from __future__ import annotations

import logging
import os

import bpy

from . import preferences, takes

log = logging.getLogger(__name__)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"       # Blender 3.0+ compressed .blend
GZIP_MAGIC = b"\x1f\x8b"               # older compressed .blend, still read


def is_compressed(path: str) -> bool:
    """Whether the .blend at ``path`` is compressed (zstd, or gzip from before Blender 3.0)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head.startswith((ZSTD_MAGIC, GZIP_MAGIC))


def wanted(context: bpy.types.Context) -> bool:
    """Whether files with takes are to be saved compressed (the preference; on when not enabled through Blender)."""
    prefs = preferences.get_preferences(context)
    return prefs is None or prefs.compress_saves


_resaving = False


def _saved_path(args: tuple[object, ...]) -> str:
    """The path a save_post handler was called for (its first string argument), else the open file's."""
    return next((a for a in args if isinstance(a, str) and a), "") or bpy.data.filepath


@bpy.app.handlers.persistent
def compress_after_save(*args: object) -> None:
    """save_post: write the open file once more, compressed, when it holds takes and was written
    uncompressed. Runs after the take handlers (registered after them), so the file written again
    is the same file."""
    global _resaving
    path = _saved_path(args)
    if _resaving or not path or not bpy.data.filepath:
        return
    if os.path.normcase(os.path.abspath(path)) != os.path.normcase(os.path.abspath(bpy.data.filepath)):
        return                                  # Save Copy: that file is not the one open
    if not wanted(bpy.context) or not takes.all_takes() or not os.path.isfile(path) or is_compressed(path):
        return
    filepaths = bpy.context.preferences.filepaths
    versions, dirty = filepaths.save_version, bpy.context.preferences.is_dirty
    _resaving = True
    try:
        filepaths.save_version = 0              # the .blend1 made by the first write stays the one before
        bpy.ops.wm.save_mainfile(filepath=path, compress=True)
    except RuntimeError as err:                 # the uncompressed file is whole; say why it stays so
        log.warning("AsynFusion: %s stays uncompressed (%s)", os.path.basename(path), str(err).strip())
    finally:
        filepaths.save_version = versions
        bpy.context.preferences.is_dirty = dirty
        _resaving = False


def register() -> None:
    bpy.app.handlers.save_post.append(compress_after_save)


def unregister() -> None:
    if compress_after_save in bpy.app.handlers.save_post:
        bpy.app.handlers.save_post.remove(compress_after_save)
