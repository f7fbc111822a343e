#!/bin/sh
# Makes docs/stance_fold_b.webp: the body row of three contact sheets (asynfusion_blender/preview.py:
# Cycles, CPU, the built-in body; six frames spread over the whole take) of BEAT2 take 2_scott_0_1_1
# — its capture, then a fold-B model that never heard it (trained on 2_scott_0_2_2 only:
# bench/folds.py has the commands) sampled with the posture step on the spine chain alone (v5.5)
# and on the stance too (v5.6: legs, heading, place on the floor; gains calibrated again with it).
#
#   sh docs/stance_fold_b_picture.sh V55_FOLD_B_WEIGHTS V56_FOLD_B_WEIGHTS   # from the repository root
#
# Needs ../shared/data/beat2, the bpy 5.0 wheel (.venv-blender-50), the backend (.venv) and
# ImageMagick. Writes only $WORK and docs/stance_fold_b.webp.
set -eu
WORK=${WORK:-/var/tmp/asynfusion-stance-fold-b}
TAKE=../shared/data/beat2/2_scott_0_1_1
mkdir -p "$WORK"
.venv/bin/python - "$TAKE" "$WORK" <<'PY'
import sys
import numpy as np
import soundfile
take, work = sys.argv[1], sys.argv[2]
d = np.load(take + ".npz")
np.savez(work + "/capture.npz", poses=d["poses"], expressions=d["expressions"], trans=d["trans"],
         betas=d["betas"], mocap_frame_rate=d["mocap_frame_rate"])
wave, rate = soundfile.read(take + ".wav")
soundfile.write(work + "/speech.wav", wave[: len(d["poses"]) * rate // int(d["mocap_frame_rate"])], rate)
PY
B=.venv-blender-50/bin/python
$B asynfusion_blender/batch.py --motion "$WORK/capture.npz" --out "$WORK/capture.blend" --preview "$WORK/capture.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$1" --out "$WORK/v55.blend" --preview "$WORK/v55.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$2" --out "$WORK/v56.blend" --preview "$WORK/v56.png"
rows=""
for pair in "capture:capture (held-out take 2_scott_0_1_1, 63 s)" \
            "v55:fold B, posture from the match for the spine chain only (v5.5)" \
            "v56:fold B, the stance too: legs, heading, place on the floor (v5.6)"; do
  name=${pair%%:*}
  convert "$WORK/$name.png" -gravity north -crop 100%x50%+0+0 +repage \
    \( -size "$(identify -format %w "$WORK/$name.png")x28" xc:'#1e1e1e' -fill '#ebebeb' -pointsize 16 \
       -gravity west -annotate +8+0 "${pair#*:}" \) +swap -append "$WORK/$name-body.png"
  rows="$rows $WORK/$name-body.png"
done
convert $rows -append -resize 66.7% -quality 82 docs/stance_fold_b.webp
