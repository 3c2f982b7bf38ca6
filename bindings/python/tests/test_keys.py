"""Settings: every key enum member is a key the library knows, with bounds,
and foreign sampler keys are refused (the C enums share their values)."""
import pytest

import flp

HANDLE_KEYS = [(flp.Feedback.bounds, flp.FeedbackKey), (flp.Rule.bounds, flp.RuleKey),
               (flp.Lifetime.bounds, flp.LifetimeKey), (flp.Meta.bounds, flp.MetaKey),
               (flp.Batch.bounds, flp.BatchKey)]


@pytest.mark.parametrize("bounds,keys", HANDLE_KEYS, ids=lambda x: getattr(x, "__name__", ""))
def test_every_key_has_bounds_and_unknown_keys_are_invalid(bounds, keys):
    for key in keys:
        lo, hi = bounds(key)
        assert lo <= hi
    with pytest.raises(flp.InvalidArgumentError, match=r"key 999 is not a flp_\w+_key"):
        bounds(999)


def test_sampler_keys(model):
    for key in flp.SineKey:
        lo, hi = model.tasks.bounds(key)
        assert lo <= model.tasks.get(key) <= hi
    with pytest.raises(flp.RangeError, match=r"flp_sampler_set: FLP_SINE_TASKS takes an integer in \[1, 4096\], got 0"):
        model.tasks.set(flp.SineKey.TASKS, 0)


def test_a_few_shot_key_is_refused_by_a_sine_sampler(model):
    before = model.tasks.get(flp.SineKey.TASKS)
    with pytest.raises(flp.InvalidArgumentError,
                       match="FLP_FEWSHOT_WAYS is a key of few-shot samplers, this is a sine sampler"):
        model.tasks.set(flp.FewshotKey.WAYS, 3)
    with pytest.raises(flp.InvalidArgumentError, match="FLP_FEWSHOT_BATCH is a key of few-shot"):
        model.tasks.get(flp.FewshotKey.BATCH)
    with pytest.raises(flp.InvalidArgumentError):
        model.tasks.bounds(flp.FewshotKey.SHOTS)
    assert model.tasks.get(flp.SineKey.TASKS) == before


def test_messages_name_the_key(model):
    with pytest.raises(flp.RangeError, match=r"FLP_META_BETA1 takes a value in \[0, 1\), got 1"):
        model.meta.set(flp.MetaKey.BETA1, 1.0)
    assert flp.Meta.bounds(flp.MetaKey.BETA1)[1] < 1.0
