#!/bin/sh
# Makes docs/mouth_fold_b.webp: the face row of three contact sheets (asynfusion_blender/preview.py:
# Cycles, CPU, the built-in head) over the first 20 s of BEAT2 take 2_scott_0_1_1 — its capture,
# then two fold-B models that never heard it (trained on 2_scott_0_2_2 only: bench/folds.py has
# the commands): the shipped recipe's as v5.4 sampled it (no mouth range), and the measured,
# unshipped options' (--phonetic 1 --frication 1; calibrated: amplitude gains and mouth range).
#
#   sh docs/mouth_fold_b_picture.sh SHIPPED_RECIPE_FOLD_B_WEIGHTS OPTIONS_FOLD_B_WEIGHTS   # from the repository root
#
# Needs ../shared/data/beat2, the bpy 5.0 wheel (.venv-blender-50), the backend (.venv) and
# ImageMagick. Writes only $WORK and docs/mouth_fold_b.webp.
set -eu
WORK=${WORK:-/var/tmp/asynfusion-mouth-fold-b}
TAKE=../shared/data/beat2/2_scott_0_1_1
mkdir -p "$WORK"
.venv/bin/python - "$TAKE" "$WORK" <<'PY'
import sys
import numpy as np
import soundfile
take, work = sys.argv[1], sys.argv[2]
d = np.load(take + ".npz")
n = 20 * int(d["mocap_frame_rate"])
np.savez(work + "/capture.npz", poses=d["poses"][:n], expressions=d["expressions"][:n], trans=d["trans"][:n],
         betas=d["betas"], mocap_frame_rate=d["mocap_frame_rate"])
wave, rate = soundfile.read(take + ".wav")
soundfile.write(work + "/speech.wav", wave[: 20 * rate], rate)
PY
B=.venv-blender-50/bin/python
$B asynfusion_blender/batch.py --motion "$WORK/capture.npz" --out "$WORK/capture.blend" --preview "$WORK/capture.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$1" --out "$WORK/v54.blend" --preview "$WORK/v54.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$2" --out "$WORK/v55.blend" --preview "$WORK/v55.png"
rows=""
for pair in "capture:capture (held-out take 2_scott_0_1_1, first 20 s)" \
            "v54:the shipped recipe as v5.4 sampled it, fold B (never heard this take)" \
            "v55:--phonetic 1 --frication 1 (not shipped), with the mouth range, fold B"; do
  name=${pair%%:*}
  convert "$WORK/$name.png" -gravity south -crop 100%x50%+0+0 +repage \
    \( -size "$(identify -format %w "$WORK/$name.png")x28" xc:'#1e1e1e' -fill '#ebebeb' -pointsize 16 \
       -gravity west -annotate +8+0 "${pair#*:}" \) +swap -append "$WORK/$name-face.png"
  rows="$rows $WORK/$name-face.png"
done
convert $rows -append -resize 66.7% -quality 82 docs/mouth_fold_b.webp
