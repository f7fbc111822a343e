#!/bin/sh
# Makes docs/take_list.png: the add-on's sidebar panel with four takes in "4. Takes", a screenshot
# of the real Blender desktop app (Debian 13's Blender 4.3.2, llvmpipe software OpenGL, under Xvfb).
#
#   sudo sh docs/take_list_picture.sh        # from the repository root, after `make setup`
#
# Needs root (debootstrap, chroot, mounts), Debian/Ubuntu amd64 with debootstrap, and
# deb.debian.org. Writes only $ROOT (a Debian 13 chroot, ~1.5 GB), $WORK and docs/take_list.png.
#  1. the extension zip from this checkout (build_addon.py) and the takes: the headless batch
#     with the bpy 4.2 wheel and the real worker (shipped weights, CPU) on the bundled clip,
#     --variations 3 (seeds 0-2), then frames 100-200 of seed 0 regenerated with seed 5;
#  2. in the chroot: install the extension, open that .blend in Blender 4.3 (1600x1000 window,
#     default layout and sidebar width), select the rig and its face and press From Selection
#     (frame 150), click the sidebar's AsynFusion tab (xdotool: Blender 4.3 cannot switch tabs
#     from Python), screenshot the X display, crop to the sidebar and part of the viewport.
set -eu
REPO=$(pwd)
ROOT=${ROOT:-/var/tmp/asynfusion-trixie}
WORK=${WORK:-/var/tmp/asynfusion-take-list}        # bound into the chroot at the same path
CLIP=5703-47212-0000
mkdir -p "$WORK/takes"

# 1. extension and takes, outside the chroot
python3.11 build_addon.py --out "$WORK/dist"
cp "tests/data/$CLIP.ogg" "$WORK/takes/"
export ASYNFUSION_BACKEND_PYTHON="$REPO/.venv/bin/python"
.venv-blender-42/bin/python asynfusion_blender/batch.py --audio "$WORK/takes/$CLIP.ogg" \
  --variations 3 --seed 0 --out "$WORK/takes/variations.blend"
.venv-blender-42/bin/python asynfusion_blender/batch.py --blend "$WORK/takes/variations.blend" \
  --audio "$WORK/takes/$CLIP.ogg" --regenerate 100 200 --from "$WORK/takes/asynfusion/$CLIP-seed0.npz" \
  --seed 5 --out "$WORK/takes/takes.blend"

# 2. Debian 13 with Blender 4.3 (its blender package does not pull in numpy; the add-on needs it)
[ -x "$ROOT/usr/bin/apt-get" ] || debootstrap --variant=minbase trixie "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ROOT$WORK"
for m in /proc /dev /sys "$WORK"; do mountpoint -q "$ROOT$m" || mount --bind "$m" "$ROOT$m"; done
trap 'for m in "$WORK" /sys /dev /proc; do umount "$ROOT$m"; done' EXIT
chroot "$ROOT" apt-get update -q
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  blender python3-numpy libgl1-mesa-dri xvfb x11-apps xdotool imagemagick

cat > "$WORK/panel_setup.py" <<'EOF'
import bpy

def setup():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == 'VIEW_3D')
    scene = bpy.context.scene
    rig = next(o for o in scene.objects if o.type == 'ARMATURE')
    face = next(o for o in scene.objects if o.type == 'MESH' and o.data.shape_keys)
    for o in scene.objects:
        o.select_set(o in (rig, face))
    bpy.context.view_layer.objects.active = rig
    with bpy.context.temp_override(window=window, area=area,
                                   region=next(r for r in area.regions if r.type == 'WINDOW')):
        bpy.ops.asynfusion.use_selection()
        bpy.ops.view3d.view_selected()
    scene.frame_set(150)
    area.spaces.active.show_region_ui = True
    print("panel_setup: ready", bpy.app.version_string, flush=True)

bpy.app.timers.register(setup, first_interval=2.0)
EOF

cat > "$WORK/shot.sh" <<EOF
set -eu
export HOME=$WORK/home DISPLAY=:99 LIBGL_ALWAYS_SOFTWARE=1
cd $WORK
blender --command extension install-file -r user_default -e dist/asynfusion_blender-*.zip
Xvfb :99 -screen 0 1600x1000x24 -nolisten tcp > xvfb.log 2>&1 & X=\$!
sleep 3
blender --window-geometry 0 0 1600 1000 --no-window-focus takes/takes.blend --python panel_setup.py > blender.log 2>&1 & B=\$!
for i in \$(seq 120); do grep -q "panel_setup: ready" blender.log && break; sleep 2; done
sleep 10
xdotool mousemove 1307 265; sleep 2; xdotool click 1; sleep 2; xdotool mousemove 700 600    # the "AsynFusion" tab
sleep 10
xwd -root -silent | convert xwd:- shot_full.png
convert shot_full.png -crop 830x650+490+80 +repage -strip -define png:compression-level=9 take_list.png
kill \$B; sleep 2; kill \$X
EOF
mkdir -p "$WORK/home"
chroot "$ROOT" sh "$WORK/shot.sh"
cp "$WORK/take_list.png" "$REPO/docs/take_list.png"
echo "Wrote docs/take_list.png (whole window: $WORK/shot_full.png)"
