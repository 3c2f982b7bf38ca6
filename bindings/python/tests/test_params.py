"""Named meta-parameter tensors (flp_params.h) through Meta.tensors/tensor/set_tensor."""
import numpy as np
import pytest

import flp


def test_every_tensor_by_name(model):
    m = model
    infos = m.meta.tensors()
    names = [t.name for t in infos]
    assert names[:2] == ["net.0.weight", "net.0.bias"]
    assert "feedback.4.B" in names and "rule.4.alpha" in names
    assert sum(int(np.prod(t.shape)) for t in infos) == m.meta.get_grads().size
    w = m.meta.tensor("net.0.weight")
    assert infos[0].shape == (8, 11) and infos[0].group == flp.Group.WEIGHTS
    np.testing.assert_array_equal(w, m.net.get_param(0))
    np.testing.assert_array_equal(m.meta.tensor(0), w)  # by index too
    beta = [t for t in infos if t.name == "feedback.2.beta"][0]
    assert beta.shape == (1,) and beta.group == flp.Group.STRENGTH


def test_values_round_trip_and_gradients_match(model):
    m = model
    new = np.full((8, 11), 0.25, dtype=np.float32)
    m.meta.set_tensor("net.0.weight", new)
    np.testing.assert_array_equal(m.net.get_param(0), new)
    m.meta.zero_grad()
    m.lt.run(m.ep, gradient=True)
    np.testing.assert_array_equal(m.meta.tensor("rule.4.alpha", flp.TensorArray.GRAD),
                                  m.rule.get_alpha_grad(4))
    np.testing.assert_array_equal(m.meta.tensor("feedback.2.B", flp.TensorArray.GRAD).ravel(),
                                  m.fb.get_grad(2, flp.FeedbackTensor.B).ravel())


def test_moments_follow_the_steps(model):
    m = model
    assert not m.meta.tensor("net.4.weight", flp.TensorArray.MOMENT2).any()
    for _ in range(2):
        m.meta.train_step(m.lt, m.ep)
    v = m.meta.tensor("net.4.weight", flp.TensorArray.MOMENT2)
    assert (v > 0).any() and (v >= 0).all()
    out = np.empty_like(v)
    assert m.meta.tensor("net.4.weight", flp.TensorArray.MOMENT2, out=out) is out


def test_errors_name_the_tensor(model):
    with pytest.raises(flp.InvalidArgumentError, match="net.1.weight"):
        model.meta.tensor("net.1.weight")  # a relu has no weight
    with pytest.raises(flp.ShapeError, match=r"net.0.weight \[8, 11\] has 88 values"):
        model.meta.set_tensor("net.0.weight", np.zeros(87, dtype=np.float32))
    with pytest.raises(flp.RangeError, match="second moment"):
        model.meta.set_tensor("net.0.bias", -np.ones(8, dtype=np.float32), flp.TensorArray.MOMENT2)
