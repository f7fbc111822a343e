"""Joint positions from the ``smplx`` package (run with the backend Python, which has torch).

    python smplx_reference.py MODEL.npz MOTION.npz OUT.npy FRAME [FRAME ...]
writes (len(frames), 55, 3) joints of SMPLX with the motion's betas, expressions,
full pose (no hand PCA, flat hand mean) and translation.
"""

import sys

import numpy as np
import smplx
import torch

model_path, motion_path, out_path = sys.argv[1:4]
frames = [int(f) for f in sys.argv[4:]]
with np.load(motion_path) as d:
    poses = torch.tensor(d["poses"][frames], dtype=torch.float32)
    expr = torch.tensor(d["expressions"][frames], dtype=torch.float32)
    trans = torch.tensor(d["trans"][frames], dtype=torch.float32)
    betas = torch.tensor(d["betas"][None].repeat(len(frames), 0), dtype=torch.float32)
model = smplx.SMPLX(model_path, num_betas=300, num_expression_coeffs=100, use_pca=False,
                    flat_hand_mean=True, batch_size=len(frames))
out = model(betas=betas, expression=expr, transl=trans, global_orient=poses[:, :3],
            body_pose=poses[:, 3:66], jaw_pose=poses[:, 66:69], leye_pose=poses[:, 69:72],
            reye_pose=poses[:, 72:75], left_hand_pose=poses[:, 75:120], right_hand_pose=poses[:, 120:165])
np.save(out_path, out.joints[:, :55].detach().double().numpy())
