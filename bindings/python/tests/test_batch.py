"""Meta-batches (flp.Batch) and the flat gradient array of flp.Meta."""
import numpy as np
import pytest

import flp


def test_batch_is_the_ordered_sum_of_single_episodes(model):
    m = model
    eps = [m.tasks.next(flp.Split.TRAIN) for _ in range(3)]
    want = np.zeros_like(m.meta.get_grads())
    want_losses = []
    for ep in eps:
        m.meta.zero_grad()
        want_losses.append(m.lt.run(ep, gradient=True))
        want += m.meta.get_grads()
    batch = flp.Batch(m.meta)
    m.meta.zero_grad()
    losses = batch.run(eps)
    assert np.array_equal(losses, np.array(want_losses, dtype=np.float32))
    assert np.array_equal(m.meta.get_grads(), want)

    losses = batch.train_step(eps)
    assert losses.shape == (3,) and m.meta.step_count == 1
    assert np.array_equal(m.meta.get_grads(), want * np.float32(1.0 / 3))
    batch.close()


def test_batch_settings_and_errors(model):
    batch = flp.Batch(model.meta)
    batch.set(flp.BatchKey.THREADS, 2)
    assert batch.get(flp.BatchKey.THREADS) == 2
    with pytest.raises(flp.RangeError):
        batch.set(flp.BatchKey.CHECK_FINITE, 3)
    with pytest.raises(flp.RangeError):
        batch.run([])
    batch.close()


def test_flat_gradients_round_trip(model):
    g = np.arange(model.meta.get_grads().size, dtype=np.float32)
    model.meta.set_grads(g)
    assert np.array_equal(model.meta.get_grads(), g)
    with pytest.raises(flp.ShapeError):
        model.meta.set_grads(g[:-1])
