"""Per-op overhead: `a + b` on 1-element tensors, and forward+backward of a chain of adds.

    python benchmarks/overhead.py [--rounds 5]

Prints medians (µs per op) for ember and PyTorch (when installed), measured in alternating
rounds, and the ratio ember / PyTorch.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _time_per_op(fn, ops_per_call: int, min_time: float = 0.2) -> float:
    fn()  # warm-up
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / (calls * ops_per_call) * 1e6


def cases(lib):
    a = lib.ones(1, requires_grad=True)
    b = lib.ones(1, requires_grad=True)
    c, d = lib.ones(1), lib.ones(1)
    n = 100

    def add_grad():
        for _ in range(100):
            a + b

    def add_nograd():
        for _ in range(100):
            c + d

    def chain():
        x = a
        for _ in range(n):
            x = x + b
        x.backward()

    return {"add (grad)": (add_grad, 100), "add (no grad)": (add_nograd, 100),
            "chain of 100 adds fwd+bwd": (chain, n)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    import ember
    libs = {"ember": ember}
    try:
        import torch
        torch.set_num_threads(1)
        libs["torch"] = torch
    except ImportError:
        pass
    results = {name: {} for name in libs}
    for _ in range(args.rounds):
        for name, lib in libs.items():
            for case, (fn, ops) in cases(lib).items():
                results[name].setdefault(case, []).append(_time_per_op(fn, ops))
    print(f"{'case':<28}{'ember µs':>10}{'torch µs':>10}{'ratio':>8}")
    for case in results["ember"]:
        e = statistics.median(results["ember"][case])
        t = statistics.median(results["torch"][case]) if "torch" in results else float("nan")
        print(f"{case:<28}{e:>10.2f}{t:>10.2f}{e / t:>8.2f}")


if __name__ == "__main__":
    main()
