"""The auxiliary viseme loss: a frozen readout that rewards the right mouth shape."""

from __future__ import annotations

import pytest
import torch

from asynfusion.training import phones as P
from asynfusion.training.viseme_loss import VisemeReadout, readout_for

CLASSES = len(P.VISEME_NAMES)


def _shapes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Constructed faces: class c moves face dimension c by +3, with noise; a fifth of frames unlabelled."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    centres = torch.zeros(CLASSES, 8)
    centres[torch.arange(CLASSES), torch.arange(CLASSES)] = 3.0
    faces = centres[labels] + 0.5 * torch.randn(n, 8, generator=g)
    labels[torch.rand(n, generator=g) < 0.2] = P.NONE
    return faces, labels, centres


def test_readout_fitted_on_separable_shapes_reads_them_back():
    faces, labels, _ = _shapes(2000, 0)
    readout = VisemeReadout.fit([faces[:1000], faces[1000:]], [labels[:1000], labels[1000:]])
    test_faces, test_labels, _ = _shapes(500, 1)
    assert readout.accuracy(test_faces, test_labels) > 0.97


def test_rare_classes_weigh_as_much_as_common_ones():
    faces, labels, _ = _shapes(3000, 2)
    keep = (labels != 1) | (torch.arange(len(labels)) % 10 == 0)     # class 1 ten times rarer
    readout = VisemeReadout.fit([faces[keep]], [labels[keep]])
    w = readout.class_weight
    assert w[1] > 5 * w[0]
    counts = torch.bincount(labels[keep][labels[keep] >= 0], minlength=CLASSES).float()
    assert torch.allclose((w * counts), (w * counts).mean().expand(CLASSES), rtol=1e-4)


def test_loss_is_lower_for_the_phone_shape_than_for_another_and_its_gradient_points_there():
    faces, labels, centres = _shapes(2000, 3)
    readout = VisemeReadout.fit([faces], [labels])
    visemes = torch.tensor([[0, 0, 2, P.NONE]])
    right = centres[[0, 0, 2, 3]][None].clone()
    wrong = centres[[1, 3, 0, 3]][None].clone()
    assert readout.loss(right, visemes) < 0.1 < 2.0 < readout.loss(wrong, visemes)
    # unlabelled frames do not count
    moved = right.clone()
    moved[0, 3] = centres[1]
    assert torch.equal(readout.loss(moved, visemes), readout.loss(right, visemes))
    face = wrong.clone().requires_grad_(True)
    readout.loss(face, visemes).backward()
    step = face - 0.5 * face.grad
    assert readout.loss(step.detach(), visemes) < readout.loss(wrong, visemes)
    # the readout itself stays frozen: nothing in it is a parameter the optimiser would move
    assert not list(readout.parameters())


def test_loss_is_zero_without_labelled_frames_and_fit_refuses_a_missing_class():
    faces, labels, _ = _shapes(500, 4)
    readout = VisemeReadout.fit([faces], [labels])
    assert readout.loss(faces[None, :5], torch.full((1, 5), P.NONE)) == 0
    with pytest.raises(ValueError, match="every mouth-shape class"):
        VisemeReadout.fit([faces], [torch.where(labels == 2, P.NONE, labels)])


def test_a_run_without_phone_alignments_trains_without_the_loss_and_says_so(capsys):
    faces, labels, _ = _shapes(500, 5)
    assert readout_for([faces], [labels], 0.1) is not None
    assert readout_for([faces], [labels], 0.0) is None
    assert capsys.readouterr().out == ""
    assert readout_for([faces], [torch.full_like(labels, P.NONE)], 0.1) is None
    assert "without the viseme loss" in capsys.readouterr().out
