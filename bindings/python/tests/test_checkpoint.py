"""Checkpoints: save, continue, load, and get the saved state back bit for bit."""
import numpy as np
import pytest

import flp


def test_checkpoint_round_trip(model, tmp_path):
    m = model
    for _ in range(3):
        m.meta.train_step(m.lt, m.tasks.next(flp.Split.TRAIN, m.ep))
    path = tmp_path / "run.ckpt"
    m.meta.save(path, m.tasks)
    saved_w = m.net.get_param(0)
    saved_alpha = m.rule.get_alpha(4)
    next_x = m.tasks.next(flp.Split.TRAIN).x   # what the sampler draws after the save

    for _ in range(2):
        m.meta.train_step(m.lt, m.tasks.next(flp.Split.TRAIN, m.ep))
    assert not np.array_equal(saved_w, m.net.get_param(0))

    m.meta.load(path, m.tasks)
    assert m.meta.step_count == 3
    np.testing.assert_array_equal(saved_w, m.net.get_param(0))
    np.testing.assert_array_equal(saved_alpha, m.rule.get_alpha(4))
    np.testing.assert_array_equal(next_x, m.tasks.next(flp.Split.TRAIN).x)


def test_corrupt_checkpoint_is_refused(model, tmp_path):
    path = tmp_path / "bad.ckpt"
    flp.checkpoint_save(str(path), model.meta)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    w = model.net.get_param(0)
    with pytest.raises((flp.FormatError, flp.VersionError)):
        flp.checkpoint_load(path, model.meta)
    np.testing.assert_array_equal(w, model.net.get_param(0))  # untouched


@pytest.mark.parametrize("cut", ["str", "bytes"])
def test_path_with_a_nul_is_refused(model, tmp_path, cut):
    """C would see the path up to its NUL: "run.ckpt\\0.bak" would save to and
    load from run.ckpt. The binding refuses it before calling libflp."""
    path = str(tmp_path / "run.ckpt") + "\0.bak"
    arg = path if cut == "str" else path.encode()
    with pytest.raises(flp.InvalidArgumentError) as e:
        flp.checkpoint_save(arg, model.meta)
    assert "NUL" in str(e.value)
    assert not (tmp_path / "run.ckpt").exists()
    flp.checkpoint_save(tmp_path / "run.ckpt", model.meta)
    with pytest.raises(flp.InvalidArgumentError):
        model.meta.load(arg)
