"""Failing calls raise FlpError subclasses carrying the status and libflp's message."""
import numpy as np
import pytest

import flp


def test_wrong_count_surfaces_the_c_message(model):
    out = np.empty(5, dtype=np.float32)
    with pytest.raises(flp.ShapeError) as info:
        model.net.get_param(0, flp.Param.WEIGHT, out=out)
    e = info.value
    assert e.status == flp.Status.ERR_SHAPE and e.name == "ERR_SHAPE"
    # libflp's own thread-local message, naming the function and the argument
    assert e.message.startswith("flp_net_get_param:")
    assert "count = 5" in e.message and "88 floats" in e.message
    assert e.message == flp.last_error()
    assert isinstance(e, ValueError) and isinstance(e, flp.FlpError)
    assert "ERR_SHAPE" in str(e)


def test_out_of_range_setting(model):
    with pytest.raises(flp.RangeError, match=r"flp_rule_set"):
        model.rule.set(flp.RuleKey.PLASTIC_LAST, -1)


def test_episode_that_does_not_fit_the_network(model):
    ep = flp.Episode().set_regression(np.zeros((2, 3, 5)), np.zeros((2, 3, 1)),
                                      np.zeros((4, 5)), np.zeros((4, 1)))
    with pytest.raises(flp.ShapeError, match=r"^flp_lifetime_run"):
        model.lt.run(ep)


def test_missing_checkpoint_is_an_oserror(model, tmp_path):
    with pytest.raises(flp.FileIOError) as info:
        model.meta.load(tmp_path / "absent.ckpt")
    assert isinstance(info.value, OSError) and "absent.ckpt" in info.value.message


def test_bad_rank(rng):
    with pytest.raises(flp.RangeError, match="flp_net_create"):
        flp.Net((2, 3))


def test_binding_checks_shapes_the_c_call_cannot(model):
    # flp_net_forward takes a pointer and a batch only: the binding checks columns
    with pytest.raises(flp.ShapeError, match=r"flp_net_forward: x has shape \(4, 12\)"):
        model.net.forward(np.zeros((4, 12), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        model.net.forward(np.zeros((4, 11), np.float32), out=np.zeros((4, 1)))


def test_nonfinite_parameter_refused(model):
    w = model.net.get_param(4)
    w[0, 0] = np.nan
    with pytest.raises(flp.NonFiniteError):
        model.net.set_param(4, flp.Param.WEIGHT, w)


def test_schedule_exception_propagates(model):
    def bad(group, step, base):
        raise KeyError("schedule broke")
    model.meta.set_schedule(bad)
    with pytest.raises(KeyError, match="schedule broke"):
        model.meta.get_lr(flp.Group.WEIGHTS)
    model.meta.set_schedule(None)
    assert model.meta.get_lr(flp.Group.WEIGHTS) == pytest.approx(1e-3)


def test_status_helpers():
    assert flp.strerror(flp.Status.ERR_SHAPE) == "array shape does not match"
    assert flp.status_name(-3) == "ERR_SHAPE"
    assert flp.strerror(-999) == "unknown status"
    assert flp.error_for_status(-999) is flp.FlpError
    flp.clear_error()
    assert flp.last_error() == ""
