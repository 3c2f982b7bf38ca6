#!/usr/bin/python3
"""Meta-train FLP on incremental sine waves from Python, then evaluate it.

A small version of apps/flp-sine/flp-sine.c (Lindsey & Litwin-Kumar 2020, §4.1):
network 11-W-W-3W-W-1 with ReLU, Oja plasticity in the last 3 layers, error
feedback, Adam at the paper's rates. Prints the query MSE on fresh
sinusoids before and after meta-training.

    FLP_LIBRARY=build/lib/libflp.so /usr/bin/python3 bindings/python/examples/sine.py
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import flp  # noqa: E402


def evaluate(lt, seed, runs):
    """Mean query MSE of lifetimes on `runs` fresh evaluation episodes."""
    with flp.Sampler.sine(seed, batches_per_task=4) as fresh:
        return float(np.mean([lt.run(fresh.next(flp.Split.EVAL)) for _ in range(runs)]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--eval-runs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save", help="write a checkpoint here at the end")
    a = p.parse_args()

    rng = flp.Rng(a.seed)
    net = flp.Net(11)
    for w in (a.width, a.width, 3 * a.width, a.width):
        net.add_linear(w).add_relu()
    net.add_linear(1).init(flp.Init.KAIMING_NORMAL, rng)
    fb = flp.Feedback(net).init(rng, beta=0.5)
    rule = flp.Rule(net, flp.RuleKind.OJA, plastic_last=3)
    lt = flp.Lifetime(net, fb, rule)
    meta = flp.Meta(net, fb, rule, lr={flp.Group.WEIGHTS: 1e-4, flp.Group.FEEDBACK: 1e-4,
                                       flp.Group.PLASTICITY: 1e-8, flp.Group.STRENGTH: 1e-4})
    tasks = flp.Sampler.sine(a.seed, batches_per_task=4)

    print(f"eval_mse_untrained {evaluate(lt, 1000 + a.seed, a.eval_runs):.3f}")
    ep = flp.Episode()
    for step in range(a.episodes):
        try:
            loss = meta.train_step(lt, tasks.next(flp.Split.TRAIN, ep))
        except flp.NonFiniteError as e:  # the step was skipped; carry on
            print(f"step {step}: skipped ({e.message})", file=sys.stderr)
            continue
        if step % 20 == 0:
            print(f"step {step}: meta-loss {loss:.3f}", file=sys.stderr)
    print(f"eval_mse {evaluate(lt, 1000 + a.seed, a.eval_runs):.3f}")
    if a.save:
        meta.save(a.save, tasks)


if __name__ == "__main__":
    main()
