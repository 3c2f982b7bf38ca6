"""Create/free lifecycles: close(), with-blocks, finalisers, dependent handles."""
import gc
import weakref

import pytest

import flp


def test_every_handle_creates_and_closes(model):
    handles = [model.rng, model.net, model.fb, model.rule, model.lt, model.meta, model.tasks,
               model.ep]
    for h in handles:
        assert not h.closed and "closed" not in repr(h)
    model.close()
    for h in handles:
        assert h.closed and "closed" in repr(h)
    model.close()  # twice is harmless


def test_with_block_closes():
    with flp.Rng(1) as rng, flp.Episode() as ep:
        assert rng.next() != rng.next()
    assert rng.closed and ep.closed


def test_closed_handle_raises_state_error():
    net = flp.Net(3)
    net.close()
    with pytest.raises(flp.StateError, match="Net is closed"):
        net.add_linear(2)


def test_closing_a_network_closes_what_refers_to_it():
    net = flp.Net(4).add_linear(2)
    fb = flp.Feedback(net)
    rule = flp.Rule(net)
    lt = flp.Lifetime(net, fb, rule)
    net.close()
    assert fb.closed and rule.closed and lt.closed and net.closed


def test_finaliser_frees_on_garbage_collection():
    net = flp.Net(4).add_linear(2)
    fin = net._finalizer
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None and not fin.alive


def test_dependents_keep_their_network_alive():
    net = flp.Net(4).add_linear(2)
    rule = flp.Rule(net)
    fin = net._finalizer
    del net
    gc.collect()
    assert fin.alive            # the rule still holds it
    assert rule.alpha_count(0) == 8
    del rule
    gc.collect()
    assert not fin.alive


def test_net_building_and_queries():
    with flp.Net((1, 6, 6)) as net:
        net.add_conv2d(2, (3, 3), padding=1).add_relu().add_flatten().add_linear(5)
        assert len(net) == 4
        assert net.layer_kind(0) == flp.LayerKind.CONV2D
        assert net.layer_shape(0) == (2, 6, 6)
        assert net.param_shape(0) == (2, 1, 3, 3)
        assert net.param_shape(3) == (5, 72)
        assert net.param_shape(3, flp.Param.BIAS) == (5,)
        assert net.io_size() == (36, 5)
