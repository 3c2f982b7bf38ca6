"""Shared fixtures. The tests run against the library in FLP_LIBRARY, by
default the repository's build/lib/libflp.so (set before flp is imported)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..")))
os.environ.setdefault("FLP_LIBRARY", os.path.join(REPO, "build", "lib", "libflp.so"))

import flp  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    flp.set_num_threads(1)  # results do not depend on it; keeps the tests gentle


@pytest.fixture
def rng():
    with flp.Rng(7) as r:
        yield r


class Model:
    """A tiny sine model: 11-8-8-1, Oja in the last 2 layers."""

    def __init__(self, seed=3, width=8):
        self.rng = flp.Rng(seed)
        self.net = flp.Net(11).add_linear(width).add_relu().add_linear(width).add_relu()
        self.net.add_linear(1).init(flp.Init.KAIMING_NORMAL, self.rng)
        self.fb = flp.Feedback(self.net).init(self.rng, beta=0.5)
        self.rule = flp.Rule(self.net, flp.RuleKind.OJA, plastic_last=2)
        self.rule.set(flp.RuleKey.ALPHA_INIT, 1e-3)
        self.lt = flp.Lifetime(self.net, self.fb, self.rule)
        self.meta = flp.Meta(self.net, self.fb, self.rule,
                             lr={flp.Group.PLASTICITY: 1e-4, flp.Group.WEIGHTS: 1e-3})
        self.tasks = flp.Sampler.sine(seed, batches_per_task=1, batch=4, query_per_task=4, pool=20)
        self.ep = self.tasks.next(flp.Split.TRAIN)

    def close(self):
        for h in (self.meta, self.lt, self.rule, self.fb, self.net, self.tasks, self.ep, self.rng):
            h.close()


@pytest.fixture
def model():
    m = Model()
    yield m
    m.close()
