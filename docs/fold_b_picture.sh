#!/bin/sh
# Makes a picture of fold B's held-out BEAT2 take 2_scott_0_1_1 from contact sheets
# (asynfusion_blender/preview.py: Cycles, CPU, the built-in character): its capture, then two
# fold-B models that never heard it (trained on 2_scott_0_2_2 only: bench/folds.py has the
# commands), one row each, labelled.
#
#   sh docs/fold_b_picture.sh mouth WEIGHTS_1 WEIGHTS_2   # docs/mouth_fold_b.webp: the face row, first 20 s
#   sh docs/fold_b_picture.sh stance WEIGHTS_1 WEIGHTS_2  # docs/stance_fold_b.webp: the body row, whole take
#
# (from the repository root). The pictures in docs/ were made with, for mouth, v5.7's recipe's
# fold-B model (training seed 0, calibrated: gains and mouth range) and v5.8's (the same recipe
# with dropout 0.2 in the face branch, trained and calibrated the same way), both sampled with the
# sampler settings their config.json carries; for stance, the shipped recipe's fold-B model with
# the posture step on the spine chain only (v5.5) and on the stance too (v5.6: legs, heading, place
# on the floor; gains calibrated again with it). Needs ../shared/data/beat2, the bpy 5.0 wheel
# (.venv-blender-50), the backend (.venv) and ImageMagick. Writes only $WORK and the picture.
set -eu
[ $# -eq 3 ] || { echo "usage: sh docs/fold_b_picture.sh mouth|stance WEIGHTS_1 WEIGHTS_2" >&2; exit 2; }
MODE=$1
case "$MODE" in
  mouth) SECONDS_KEPT=20; HALF=south; LENGTH="first 20 s"
         LABEL1="fold B (never heard this take), v5.7's recipe"
         LABEL2="fold B, v5.8's recipe: dropout 0.2 in the face branch while training" ;;
  stance) SECONDS_KEPT=0; HALF=north; LENGTH="63 s"
          LABEL1="fold B, posture from the match for the spine chain only (v5.5)"
          LABEL2="fold B, the stance too: legs, heading, place on the floor (v5.6)" ;;
  *) echo "the first argument is mouth or stance" >&2; exit 2 ;;
esac
WORK=${WORK:-/var/tmp/asynfusion-$MODE-fold-b}
TAKE=../shared/data/beat2/2_scott_0_1_1
mkdir -p "$WORK"
.venv/bin/python - "$TAKE" "$WORK" "$SECONDS_KEPT" <<'PY'
import sys
import numpy as np
import soundfile
take, work, kept = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = np.load(take + ".npz")
fps = int(d["mocap_frame_rate"])
n = kept * fps if kept else len(d["poses"])          # 0: the whole take
np.savez(work + "/capture.npz", poses=d["poses"][:n], expressions=d["expressions"][:n], trans=d["trans"][:n],
         betas=d["betas"], mocap_frame_rate=d["mocap_frame_rate"])
wave, rate = soundfile.read(take + ".wav")
soundfile.write(work + "/speech.wav", wave[: n * rate // fps], rate)
PY
B=.venv-blender-50/bin/python
$B asynfusion_blender/batch.py --motion "$WORK/capture.npz" --out "$WORK/capture.blend" --preview "$WORK/capture.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$2" --out "$WORK/one.blend" --preview "$WORK/one.png"
$B asynfusion_blender/batch.py --audio "$WORK/speech.wav" --weights "$3" --out "$WORK/two.blend" --preview "$WORK/two.png"
rows=""
for pair in "capture:capture (held-out take 2_scott_0_1_1, $LENGTH)" "one:$LABEL1" "two:$LABEL2"; do
  name=${pair%%:*}
  convert "$WORK/$name.png" -gravity "$HALF" -crop 100%x50%+0+0 +repage \
    \( -size "$(identify -format %w "$WORK/$name.png")x28" xc:'#1e1e1e' -fill '#ebebeb' -pointsize 16 \
       -gravity west -annotate +8+0 "${pair#*:}" \) +swap -append "$WORK/$name-row.png"
  rows="$rows $WORK/$name-row.png"
done
convert $rows -append -resize 66.7% -quality 82 "docs/${MODE}_fold_b.webp"
