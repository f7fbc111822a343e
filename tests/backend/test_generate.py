"""The generation pipeline refuses to report broken motion as a success."""

import pytest

from asynfusion.errors import UserError
from asynfusion.generate import Generator

from .conftest import SPEECH_WAV


def test_random_weights_nan_motion_is_an_error_not_a_file(random_weights, tmp_path):
    out = tmp_path / "nan.npz"
    with pytest.raises(UserError, match="NaN or infinite motion"):
        Generator(random_weights, "cpu").generate(SPEECH_WAV, out, guidance=float("nan"))
    assert list(tmp_path.iterdir()) == []
