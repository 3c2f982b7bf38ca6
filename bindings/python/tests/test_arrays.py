"""NumPy arrays cross the ABI without copies where they can."""
import numpy as np
import pytest

import flp
from flp._base import as_input


def test_conforming_input_is_passed_as_is():
    a = np.ones((3, 11), np.float32)
    assert as_input(a) is a                       # no conversion, no copy
    b = np.ones((3, 11))                          # float64: converted once
    assert as_input(b).dtype == np.float32 and not np.shares_memory(as_input(b), b)
    c = np.ones((11, 3), np.float32).T            # Fortran order: made contiguous
    assert as_input(c).flags.c_contiguous


def test_predict_writes_into_the_callers_array(model):
    model.lt.run(model.ep)
    x = model.ep.xq
    out = np.full((x.shape[0], 1), np.nan, np.float32)
    y = model.lt.predict(x, out=out)
    assert y is out and np.shares_memory(y, out)  # libflp wrote in place
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, model.lt.predict(x))


def test_round_trip_through_caller_memory(model):
    w = np.arange(88, dtype=np.float32).reshape(8, 11) / 100
    model.net.set_param(0, flp.Param.WEIGHT, w)
    buf = np.empty((8, 11), np.float32)
    addr = buf.ctypes.data
    got = model.net.get_param(0, out=buf)
    assert got is buf and got.ctypes.data == addr
    np.testing.assert_array_equal(buf, w)
    # forward into a preallocated output, with a non-copied input
    x = np.random.default_rng(0).standard_normal((5, 11)).astype(np.float32)
    y = np.empty((5, 1), np.float32)
    assert model.net.forward(x, out=y) is y
    np.testing.assert_allclose(y, model.net.forward(x.astype(np.float64)), rtol=1e-6)


def test_rng_fills_in_place(rng):
    a = np.zeros(1000, np.float32)
    assert rng.uniform(lo=2, hi=3, out=a) is a
    assert a.min() >= 2 and a.max() < 3
    s = rng.state
    n1 = rng.normal((4,))
    rng.state = s
    np.testing.assert_array_equal(n1, rng.normal((4,)))


def test_episode_views_are_read_only(model):
    view = model.ep.array(flp.EpisodeArray.X, copy=False)
    copy = model.ep.x
    assert not view.flags.writeable and not np.shares_memory(view, copy)
    np.testing.assert_array_equal(view, copy)
    s = model.ep.shape
    assert view.shape == (s.steps, s.batch, 11) and not s.classification
    with pytest.raises(ValueError):
        view[0, 0, 0] = 1


def test_episode_round_trip():
    r = np.random.default_rng(1)
    x, y = r.standard_normal((2, 3, 4)), r.standard_normal((2, 3, 1))
    xq, yq = r.standard_normal((5, 4)), r.standard_normal((5, 1))
    with flp.Episode().set_regression(x, y, xq, yq) as ep:
        np.testing.assert_array_equal(ep.x, x.astype(np.float32))
        np.testing.assert_array_equal(ep.yq, yq.astype(np.float32))
    labels = np.array([[0, 1, 2], [2, 1, 0]])
    with flp.Episode().set_classes(x, labels, xq, np.arange(5) % 3, 3) as ep:
        assert ep.shape.classification
        np.testing.assert_array_equal(ep.labels, labels)
