"""An auxiliary viseme loss: the face the model predicts must read back as its phone's mouth shape.

Two minutes of data teach the face *when* to move more easily than *which* shape to make:
the x0 MSE is satisfied by a mouth that opens and closes on the syllables while /f v/
and /p b m/ come out as the same half-open shape. A frozen classifier, fitted once on
the training part's captured faces (multinomial logistic regression on the normalised
face branch, L2-regularised), reads every predicted face frame back into the four
mouth-shape classes of ``phones.py``; the class-balanced cross-entropy against the frame's
phone class is added to the teacher's loss. The classifier never changes during training,
so the only way to lower the loss is to make the shapes the capture makes for those phones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import phones as P

L2 = 1e-3             # on the mean cross-entropy: a readout that stays smooth in face space
FIT_ITERATIONS = 200


class VisemeReadout(torch.nn.Module):
    """Frozen linear map from normalised face-branch frames to viseme logits."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, class_weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.register_buffer("class_weight", class_weight)

    @classmethod
    def fit(cls, faces: list[torch.Tensor], visemes: list[torch.Tensor]) -> "VisemeReadout":
        """faces[k]: (N_k, D) normalised face frames; visemes[k]: (N_k,) classes (NONE = unlabelled)."""
        x = torch.cat(faces).double()
        y = torch.cat(visemes).long()
        x, y = x[y >= 0], y[y >= 0]
        classes = len(P.VISEME_NAMES)
        counts = torch.bincount(y, minlength=classes).double()
        if (counts == 0).any():
            raise ValueError("the viseme loss needs frames of every mouth-shape class in the training takes")
        class_weight = counts.sum() / (classes * counts)          # balanced: rare /f v/ counts as much
        w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=FIT_ITERATIONS, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(x @ w + b, y, weight=class_weight) + L2 * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return cls(w.detach().float(), b.detach().float(), class_weight.float())

    def logits(self, face: torch.Tensor) -> torch.Tensor:
        return face @ self.weight + self.bias

    def loss(self, face: torch.Tensor, visemes: torch.Tensor) -> torch.Tensor:
        """Class-balanced cross-entropy over the labelled frames of (B, T, D) faces; 0 when none is."""
        labelled = visemes >= 0
        if not labelled.any():
            return face.new_zeros(())
        return F.cross_entropy(self.logits(face[labelled]), visemes[labelled].long(), weight=self.class_weight)

    def accuracy(self, face: torch.Tensor, visemes: torch.Tensor) -> float:
        """Balanced accuracy (mean recall over the classes present) of the readout on these frames."""
        labelled = visemes >= 0
        pred = self.logits(face[labelled]).argmax(-1)
        truth = visemes[labelled].long()
        recalls = [(pred[truth == c] == c).float().mean() for c in range(len(P.VISEME_NAMES)) if (truth == c).any()]
        return float(torch.stack(recalls).mean()) if recalls else float("nan")


def readout_for(faces: list[torch.Tensor], visemes: list[torch.Tensor], weight: float) -> VisemeReadout | None:
    """The readout for a run with viseme loss ``weight``, or None (said once) when the takes lack
    the phone alignments it needs: a folder without TextGrids still trains, without this loss."""
    if weight <= 0:
        return None
    try:
        return VisemeReadout.fit(faces, visemes)
    except ValueError:
        print("no phone alignments (TextGrid) with every mouth-shape class beside the takes: "
              "training without the viseme loss")
        return None

