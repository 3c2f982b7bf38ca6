"""A tiny lifetime with gradient, and meta-steps."""
import numpy as np
import pytest

import flp


def test_lifetime_gradient_and_meta_step(model):
    m = model
    m.meta.zero_grad()
    loss = m.lt.run(m.ep, gradient=True)
    assert np.isfinite(loss) and loss > 0
    assert np.abs(m.net.get_grad(0)).sum() > 0
    assert np.abs(m.rule.get_alpha_grad(4)).sum() > 0
    assert np.abs(m.fb.get_grad(4, flp.FeedbackTensor.B)).sum() > 0
    assert m.meta.grad_norm() > 0
    assert m.rule.get_alpha(4).shape == (1, 8) and m.fb.get_param(2).shape == (8, 1)
    assert m.lt.final_weight(4).shape == (1, 8)
    assert m.lt.stats().workspace_bytes > 0
    assert m.lt.work() > 0

    w0 = m.net.get_param(0)
    m.meta.step()
    assert m.meta.step_count == 1
    assert not np.array_equal(w0, m.net.get_param(0))

    # the same episode gives the same loss: deterministic
    assert m.lt.run(m.ep) == m.lt.run(m.ep)


def test_train_steps_reduce_the_loss_on_one_episode(model):
    m = model
    first = m.lt.run(m.ep)
    for _ in range(30):
        m.meta.train_step(m.lt, m.ep)
    assert m.meta.step_count == 30
    assert m.lt.run(m.ep) < first


def test_learning_rate_schedule_and_decay(model):
    m = model
    m.meta.set_step_decay(flp.Group.WEIGHTS, 0.5, [1])
    m.meta.train_step(m.lt, m.ep)
    assert m.meta.get_lr(flp.Group.WEIGHTS) == pytest.approx(5e-4)
    seen = []

    def sched(group, step, base):
        seen.append(group)
        return base / (1 + step)
    m.meta.set_schedule(sched)
    assert m.meta.get_lr(flp.Group.PLASTICITY) == pytest.approx(1e-4 / 2)
    assert flp.Group.PLASTICITY in seen


def test_settings_round_trip(model):
    m = model
    m.lt.memory_budget = 1 << 20
    assert m.lt.memory_budget == 1 << 20
    assert m.rule.kind == flp.RuleKind.OJA
    assert m.rule.plastic_layers == [2, 4]
    assert m.tasks.get(flp.SineKey.TASKS) == 10
    assert m.tasks.io_size() == (11, 1, False)
    lo, hi = flp.Rule.bounds(flp.RuleKey.GRANULARITY)
    assert lo == 0 and hi == 2
    m.meta.set(flp.MetaKey.BETA1, 0.8)
    assert m.meta.get(flp.MetaKey.BETA1) == pytest.approx(0.8)


def test_gradient_rule(model):
    """The gradient-based baseline: biases learn, bias learning rates get a
    gradient, second order is a setting, the feedback is unused."""
    m = model
    with flp.Rule(m.net, flp.RuleKind.GRADIENT, plastic_last=2) as rule:
        rule.set(flp.RuleKey.ALPHA_INIT, 0.05)
        assert rule.kind == flp.RuleKind.GRADIENT
        assert rule.lr_bias_count(4) == 1 and rule.lr_bias_count(2) == 8
        rule.set_lr_bias(2, np.full(8, 0.1, dtype=np.float32))
        assert np.all(rule.get_lr_bias(2) == np.float32(0.1))
        with flp.Lifetime(m.net, m.fb, rule) as lt:
            for order in (0, 1):
                rule.set(flp.RuleKey.SECOND_ORDER, order)
                m.net.zero_grad()
                m.fb.zero_grad()
                rule.zero_grad()
                loss = lt.run(m.ep, gradient=True)
                assert np.isfinite(loss)
                assert np.abs(rule.get_lr_bias_grad(2)).sum() > 0
                assert np.abs(m.fb.get_grad(4, flp.FeedbackTensor.B)).sum() == 0
            assert not np.array_equal(lt.final_bias(4), m.net.get_param(4, flp.Param.BIAS))
    with pytest.raises(flp.FlpError):
        m.rule.lr_bias_count(4)  # an Oja rule has none
