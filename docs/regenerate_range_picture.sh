#!/bin/sh
# Makes docs/regenerate_range.png: contact sheets (preview.py: Cycles, CPU; a body row over a face
# row of the most closed and most open mouths) of timeline frames 100-200 of one take, above as
# generated with seed 0, below the new take after regenerating those frames with seed 5.
#
#   sh docs/take_list_picture.sh && sh docs/regenerate_range_picture.sh     # from the repository root
#
# Reads the .blend docs/take_list_picture.sh made headless ($WORK/takes/takes.blend: the bundled
# clip on the built-in rig, shipped weights, --variations 3 from seed 0, then
# --regenerate 100 200 --seed 5). Needs the bpy 4.2 wheel (.venv-blender-42) and ImageMagick.
set -eu
WORK=${WORK:-/var/tmp/asynfusion-take-list}
FIRST=100
LAST=200
mkdir -p "$WORK/sheets"
.venv-blender-42/bin/python - "$WORK/takes/takes.blend" "$WORK/sheets" "$FIRST" "$LAST" <<'EOF'
import os, sys
sys.path.insert(0, os.getcwd())
import bpy
blend, out, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bpy.ops.wm.open_mainfile(filepath=blend)
import asynfusion_blender
asynfusion_blender.register()
from asynfusion_blender import preview, takes
scene = bpy.context.scene
found = {t.name: t for t in takes.all_takes()}
stem = "5703-47212-0000"
for name, sheet in ((f"{stem}-seed0", "before.png"), (f"{stem}-seed5-frames{first}-{last}", "after.png")):
    assert bpy.ops.asynfusion.take_use(take=found[name].id) == {'FINISHED'}, name
    scene.frame_start, scene.frame_end = first, last
    preview.contact_sheet(scene, scene.asynfusion.armature, os.path.join(out, sheet))
    print("rendered", name, flush=True)
sys.stdout.flush()
os._exit(0)
EOF
caption() { convert -size 1460x30 xc:white -fill black -pointsize 15 -gravity west -annotate +8+0 "$1" "$2"; }
caption "Take 5703-47212-0000, seed 0: timeline frames $FIRST-$LAST as generated" "$WORK/sheets/c1.png"
caption "The same frames regenerated with seed 5 (a new take; every frame outside them unchanged)" "$WORK/sheets/c2.png"
convert "$WORK/sheets/c1.png" "$WORK/sheets/before.png" "$WORK/sheets/c2.png" "$WORK/sheets/after.png" \
  -background white -gravity center -append -depth 8 -strip -define png:compression-level=9 docs/regenerate_range.png
echo "Wrote docs/regenerate_range.png"
