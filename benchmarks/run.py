"""ember against PyTorch and the hand-written NumPy floor, measured side by side.

    python benchmarks/run.py [--quick] [--rounds N] [--rows mlp,cnn,...] [--json]
                             [--device cuda] [--frameworks ember,torch,numpy] [--profile]

Rows: (1) mlp, (2) lenet, (3) cnn: ms per training step (zero_grad, forward, loss, backward,
optimizer step); (4) overhead: µs per op for ``a + b`` on 1-element tensors with and without
gradient recording and for forward+backward through a chain of 100 adds; (5) inference: the
CNN under no_grad, images/s; (6) memory: peak RSS growth of 3 CNN training steps, each
framework in a fresh process.

Frameworks run in alternating rounds (ember, torch, numpy, ember, ...), each round after a
0.3 s pause (for the previous framework's spinning worker threads to park) and one untimed
warm-up step. A round's value is the mean over its timed steps (so garbage-collection
pauses count); the table shows the median over rounds, the min-max over rounds, and the
ratio ember / PyTorch of the medians as a cost (for images/s it is torch's rate over
ember's); "best rounds" is the same ratio of each framework's best round, the steadier
figure when other work shares the machine.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import _models  # noqa: E402
from _models import Sizes  # noqa: E402

ROW_GROUPS = ("mlp", "lenet", "cnn", "overhead", "inference", "memory")
ROW_NUMBERS = {str(i + 1): name for i, name in enumerate(ROW_GROUPS)}

# The targets: ember / PyTorch at most this (and, for the MLP, ember / floor).
TARGETS = {"mlp": 1.0, "lenet": 1.5, "cnn": 1.3, "add_grad": 1.5, "add_nograd": 1.5,
           "chain": 1.5, "inference": 1.3, "memory": 1.5}
FLOOR_TARGETS = {"mlp": 1.1}


@dataclasses.dataclass
class Config:
    """How long to measure. ``min_time`` is seconds per framework per round."""

    rounds: int = 5
    min_time: float = 1.0
    min_steps: int = 3
    warmup: int = 3
    overhead_time: float = 0.3
    # Seconds of sleep before each round: the previous framework's worker threads (OpenBLAS,
    # OpenMP) spin for up to ~0.1 s after their last job and, on 2 cores, would take the
    # next framework's cores for whole scheduler slices.
    settle: float = 0.3
    memory_steps: int = 3
    memory_rounds: int | None = None  # None: as many as ``rounds``
    sizes: Sizes = dataclasses.field(default_factory=Sizes)

    @classmethod
    def quick(cls, rounds: int | None = None) -> Config:
        # memory is not timed, so one fresh process per framework is enough for a quick look
        return cls(rounds=rounds or 3, min_time=0.3, min_steps=2, warmup=1, overhead_time=0.1,
                   memory_rounds=1)

    @classmethod
    def tiny(cls) -> Config:
        """One short round on tiny sizes: for the smoke test, not for numbers."""
        return cls(rounds=1, min_time=0.0, min_steps=1, warmup=1, overhead_time=0.0,
                   settle=0.0, memory_steps=1, sizes=Sizes.tiny())


@dataclasses.dataclass
class Framework:
    """One contestant: its name, its module (None for the floor), device and sync."""

    name: str
    lib: object
    device: str
    sync: Callable[[], None]


# -- frameworks ---------------------------------------------------------------------------

def _no_sync() -> None:
    pass


def frameworks(device: str = "cpu", include: tuple[str, ...] = ("ember", "torch", "numpy")
               ) -> tuple[list[Framework], list[str]]:
    """The frameworks to run on ``device``, and notes on those skipped.

    Raises SystemExit with a clear message when ``device`` is cuda and there is no GPU.
    """
    import ember
    notes = []
    fws = []
    gpu_sync = _no_sync
    if device.startswith("cuda"):
        _check_cuda(ember, device)
        gpu_sync = ember.cuda.synchronize
    if "ember" in include:
        fws.append(Framework("ember", ember, device, gpu_sync))
    if "torch" in include:
        try:
            import torch
        except ImportError:
            notes.append("torch: not installed, skipped")
        else:
            if device.startswith("cuda") and not torch.cuda.is_available():
                notes.append("torch: no CUDA build or no GPU, skipped")
            else:
                sync = torch.cuda.synchronize if device.startswith("cuda") else _no_sync
                fws.append(Framework("torch", torch, device, sync))
    if "numpy" in include:
        if device.startswith("cuda"):
            try:
                import cupy
            except ImportError:
                notes.append("cupy: not installed, so no floor on cuda")
            else:
                fws.append(Framework("cupy", cupy, device, gpu_sync))
        else:
            fws.append(Framework("numpy", np, device, _no_sync))
    return fws, notes


def _check_cuda(ember, device: str) -> None:
    """SystemExit with the reason when ember cannot put a tensor on ``device``."""
    try:
        ember.zeros(1, device=device)
    except Exception as exc:  # RuntimeError naming what is missing (CuPy, a GPU, ...)
        raise SystemExit(f"run.py: --device {device} needs CuPy and an NVIDIA GPU, but "
                         f"ember cannot use one: {type(exc).__name__}: {exc}\nRun on the "
                         "CPU (the default), or install cupy-cuda12x on a GPU machine.") from None


# -- timing -------------------------------------------------------------------------------

def time_round(step: Callable[[], object], sync: Callable[[], None], cfg: Config) -> float:
    """Mean seconds per call of ``step`` over one round (after one untimed warm-up call)."""
    step()
    sync()
    gc.collect()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        sync()
        steps += 1
        elapsed = time.perf_counter() - start
        if steps >= cfg.min_steps and elapsed >= cfg.min_time:
            return elapsed / steps


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "rounds": values}


def _alternate(setups: dict[str, Callable[[], float] | None], cfg: Config,
               progress: str) -> dict[str, dict | None]:
    """Runs each framework's round function in turn, ``rounds`` times; None means n/a."""
    values: dict[str, list[float]] = {name: [] for name, fn in setups.items() if fn}
    errors: dict[str, str] = {}
    rounds = cfg.rounds
    for r in range(rounds):
        for name, fn in setups.items():
            if fn is None or name in errors:
                continue
            time.sleep(cfg.settle)
            try:
                values[name].append(fn())
            except Exception as exc:  # report the failure in the table, keep the other rows
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            _log(f"{progress} round {r + 1}/{rounds} {name}: {values[name][-1]:.6g}")
    out: dict[str, dict | None] = {}
    for name, fn in setups.items():
        if fn is None:
            out[name] = None
        elif name in errors:
            out[name] = {"error": errors[name]}
        else:
            out[name] = summarize(values[name])
    return out


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _guarded(build: Callable[[], Callable[[], float] | None]):
    """``build()``, or a round function that raises the build's error (shown in the table)."""
    try:
        return build()
    except Exception as exc:
        err = exc

        def failing():
            raise err
        return failing


# -- rows ---------------------------------------------------------------------------------

def _setup_train(fw: Framework, model_name: str, cfg: Config,
                 reference) -> Callable[[], None] | None:
    """A warmed-up training step of ``model_name`` in ``fw`` from ``reference``'s weights.

    None where ``fw`` is the floor and the model has no hand-written version (n/a).
    """
    sizes = cfg.sizes
    x_np, y_np = _models.make_data(_models.input_shape(model_name, sizes), sizes.classes)
    if fw.lib is np or fw.name == "cupy":
        if model_name != "mlp":
            return None
        xp = fw.lib
        step = _models.MLPFloor(xp, _models.state_arrays(reference), xp.asarray(x_np),
                                xp.asarray(y_np)).step
    else:
        lib = fw.lib
        lib.manual_seed(0)
        model = _models.MODELS[model_name](lib, sizes).to(fw.device)
        if reference is not None:
            _models.copy_weights(reference, lib, model)
        opt = _models.optimizer(lib, model_name, model.parameters())
        x, y = _models.to_lib(lib, x_np, fw.device), _models.to_lib(lib, y_np, fw.device)
        step = _models.train_step(lib, model, opt, x, y)
    for _ in range(cfg.warmup):
        step()
    fw.sync()
    return step


def _reference_model(fws: list[Framework], model_name: str, cfg: Config):
    """A freshly initialised model on the CPU (ember's, else torch's): everyone's weights."""
    import ember
    libs = [ember] + [fw.lib for fw in fws if fw.name == "torch"]
    for lib in libs:
        try:
            lib.manual_seed(0)
            return _models.MODELS[model_name](lib, cfg.sizes)
        except Exception:  # this framework cannot build it; its row shows the error
            continue
    return None


def row_train(model_name: str, fws: list[Framework], cfg: Config) -> list[dict]:
    """Rows 1-3: ms per training step."""
    titles = {"mlp": "MLP {0} b{1}, SGD momentum",
              "lenet": "LeNet-5 1x28x28 b{2}, Adam",
              "cnn": "CNN 3x{3}x{3} b{4}, SGD momentum"}
    s = cfg.sizes
    title = titles[model_name].format("-".join(map(str, s.mlp)), s.mlp_batch, s.lenet_batch,
                                      s.cnn_hw, s.cnn_batch)
    reference = _reference_model(fws, model_name, cfg)
    setups = {}
    for fw in fws:
        def build(fw=fw):
            step = _setup_train(fw, model_name, cfg, reference)
            if step is None:
                return None
            return lambda: time_round(step, fw.sync, cfg) * 1e3
        setups[fw.name] = _guarded(build)
    results = _alternate(setups, cfg, model_name)
    return [_entry(model_name, title, "ms/step", results, higher_is_better=False)]


def row_overhead(fws: list[Framework], cfg: Config) -> list[dict]:
    """Row 4: µs per op, reusing benchmarks/overhead.py's cases (CPU tensors)."""
    import overhead
    keys = {"add (grad)": ("add_grad", "a + b, 1 element, grad recorded"),
            "add (no grad)": ("add_nograd", "a + b, 1 element, no grad"),
            "chain of 100 adds fwd+bwd": ("chain", "chain of 100 adds, fwd+bwd")}
    per_case: dict[str, dict] = {case: {} for case in keys}
    for fw in fws:
        if fw.lib is np:
            cases = _numpy_overhead_cases()
        elif fw.name == "cupy":
            cases = {}
        else:
            cases = overhead.cases(fw.lib)
        for case in keys:
            fn_ops = cases.get(case)
            per_case[case][fw.name] = None if fn_ops is None else (
                lambda fn_ops=fn_ops: overhead._time_per_op(*fn_ops, min_time=cfg.overhead_time))
    rows = []
    on_cpu = " (cpu tensors)" if any(fw.device != "cpu" for fw in fws) else ""
    for case, (key, title) in keys.items():
        title += on_cpu
        results = _alternate(per_case[case], cfg, key)
        rows.append(_entry(key, title, "µs/op", results, higher_is_better=False))
    return rows


def _numpy_overhead_cases() -> dict:
    """The floor for ``a + b``: NumPy adding two 1-element arrays (no autograd to record)."""
    a, b = np.ones(1, np.float32), np.ones(1, np.float32)

    def add():
        for _ in range(100):
            a + b
    return {"add (grad)": (add, 100), "add (no grad)": (add, 100)}


def row_inference(fws: list[Framework], cfg: Config) -> list[dict]:
    """Row 5: the CNN under no_grad, eval mode, images/s."""
    s = cfg.sizes
    reference = _reference_model(fws, "cnn", cfg)
    setups = {}
    for fw in fws:
        if fw.lib is np or fw.name == "cupy":
            setups[fw.name] = None
            continue

        def build(fw=fw):
            lib = fw.lib
            lib.manual_seed(0)
            model = _models.cnn(lib, s).to(fw.device)
            if reference is not None:
                _models.copy_weights(reference, lib, model)
            model.eval()
            x_np, _ = _models.make_data(_models.input_shape("cnn", s, s.infer_batch), s.classes)
            x = _models.to_lib(lib, x_np, fw.device)

            def forward():
                with lib.no_grad():
                    model(x)
            for _ in range(cfg.warmup):
                forward()
            return lambda: s.infer_batch / time_round(forward, fw.sync, cfg)
        setups[fw.name] = _guarded(build)
    results = _alternate(setups, cfg, "inference")
    title = f"CNN inference b{s.infer_batch}, no_grad"
    return [_entry("inference", title, "images/s", results, higher_is_better=True)]


def row_memory(fws: list[Framework], cfg: Config) -> list[dict]:
    """Row 6: peak RSS growth of the CNN's training steps, each run in a fresh process."""
    setups = {}
    for fw in fws:
        if fw.lib is np or fw.name == "cupy":
            setups[fw.name] = None
            continue
        setups[fw.name] = lambda fw=fw: _memory_in_subprocess(fw, cfg)
    rounds = cfg.memory_rounds or cfg.rounds
    results = _alternate(setups, dataclasses.replace(cfg, rounds=rounds, settle=0.0), "memory")
    gpu = any(fw.device.startswith("cuda") for fw in fws)
    title = (f"CNN train step peak {'GPU memory' if gpu else 'RSS'} "
             f"({cfg.memory_steps} steps, fresh process)")
    return [_entry("memory", title, "MB", results, higher_is_better=False)]


def _memory_in_subprocess(fw: Framework, cfg: Config) -> float:
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import _models; "
            "print(json.dumps(_models.memory_child(sys.argv[2], sys.argv[3], sys.argv[4], "
            "int(sys.argv[5]))))")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), fw.name, fw.device, cfg.sizes.to_json(),
         str(cfg.memory_steps)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory child for {fw.name} failed: {last}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result.get("gpu_delta_mb", result["delta_mb"])


def _entry(key: str, title: str, unit: str, results: dict, higher_is_better: bool) -> dict:
    def med(name):
        r = results.get(name)
        return r["median"] if r and "median" in r else None

    def cost_ratio(a, b):
        if a is None or b is None or a == 0 or b == 0:
            return None
        return b / a if higher_is_better else a / b

    def best(name):  # the best round: on a busy machine, closer to a quiet machine's median
        r = results.get(name)
        if not r or "median" not in r:
            return None
        return r["max"] if higher_is_better else r["min"]

    ember, torch = med("ember"), med("torch")
    floor = med("numpy") if "numpy" in results else med("cupy")
    ratio = cost_ratio(ember, torch)
    ratio_floor = cost_ratio(ember, floor)
    ratio_best = cost_ratio(best("ember"), best("torch"))
    target, floor_target = TARGETS.get(key), FLOOR_TARGETS.get(key)
    met = None
    if ratio is not None and target is not None:
        met = ratio <= target
        if floor_target is not None and ratio_floor is not None:
            met = met and ratio_floor <= floor_target
    return {"key": key, "title": title, "unit": unit, "higher_is_better": higher_is_better,
            "results": results, "ratio": ratio, "ratio_floor": ratio_floor,
            "ratio_best": ratio_best,
            "target": target, "floor_target": floor_target, "met": met}


ROW_FUNCTIONS = {
    "mlp": lambda fws, cfg: row_train("mlp", fws, cfg),
    "lenet": lambda fws, cfg: row_train("lenet", fws, cfg),
    "cnn": lambda fws, cfg: row_train("cnn", fws, cfg),
    "overhead": row_overhead,
    "inference": row_inference,
    "memory": row_memory,
}


def run_benchmarks(rows: tuple[str, ...] = ROW_GROUPS, cfg: Config | None = None,
                   device: str = "cpu",
                   include: tuple[str, ...] = ("ember", "torch", "numpy")) -> dict:
    """Runs the selected row groups and returns the results (what ``--json`` prints).

    Args:
        rows: row groups by name (``ROW_GROUPS``).
        cfg: rounds, time per round and sizes; ``Config.tiny()`` for a smoke run.
        device: "cpu" or "cuda".
        include: which frameworks to run (those not installed are skipped with a note).
    """
    cfg = cfg or Config()
    fws, notes = frameworks(device, include)
    out_rows = []
    for name in rows:
        out_rows.extend(ROW_FUNCTIONS[name](fws, cfg))
        gc.collect()
    return {"machine": machine_info(), "device": device, "notes": notes,
            "config": dataclasses.asdict(cfg), "frameworks": [fw.name for fw in fws],
            "rows": out_rows}


# -- machine ------------------------------------------------------------------------------

def machine_info() -> dict:
    """CPU, cores, versions, thread counts and the BLAS each library runs."""
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                    "MKL_NUM_THREADS")}}
    import ember
    info["ember"] = ember.__version__
    info["ember_commit"] = _git_commit()
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                   "num_threads", "threading_layer", "prefix")}
            for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


def _cpu_model() -> str:
    """'model name (family F model M)' from /proc/cpuinfo: VMs often hide the full name."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    return (f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')})")


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                              capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() or None


# -- output -------------------------------------------------------------------------------

def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _cell(result: dict | None) -> str:
    if result is None:
        return "n/a"
    if "error" in result:
        return "error"
    return f"{_fmt(result['median'])} [{_fmt(result['min'])}-{_fmt(result['max'])}]"


def format_table(report: dict) -> str:
    """The report as a Markdown table (medians, [min-max] over rounds)."""
    floor_name = "cupy" if report["device"].startswith("cuda") else "numpy"
    head = ["row", "unit", "ember", "torch", floor_name, "ember/torch", "target", "met",
            "best rounds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    errors = []
    for row in report["rows"]:
        res = row["results"]
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        target = "" if row["target"] is None else f"<= {row['target']}x"
        if row["ratio_floor"] is not None:
            ratio += f" (floor {row['ratio_floor']:.2f}x)"
            if row["floor_target"]:
                target += f", floor <= {row['floor_target']}x"
        met = {True: "met", False: "missed", None: "-"}[row["met"]]
        best = "n/a" if row["ratio_best"] is None else f"{row['ratio_best']:.2f}x"
        cells = [row["title"], row["unit"], _cell(res.get("ember")), _cell(res.get("torch")),
                 _cell(res.get(floor_name)), ratio, target, met, best]
        lines.append("| " + " | ".join(cells) + " |")
        errors += [f"{row['key']} {name}: {r['error']}" for name, r in res.items()
                   if r and "error" in r]
    m = report["machine"]
    lines.append("")
    lines.append(f"{m['cpu']}, {m['cores']} cores; numpy {m['numpy']}, torch {m['torch']} "
                 f"({m.get('torch_threads')} threads); device {report['device']}; "
                 f"{report['config']['rounds']} rounds")
    if isinstance(m["threadpools"], list):
        for p in m["threadpools"]:
            kernel = f" {p['version']} kernel {p['architecture']}" if p["version"] else ""
            lines.append(f"threadpool: {p['internal_api']}{kernel}, {p['num_threads']} "
                         f"threads ({p['prefix']})")
    lines += [f"note: {n}" for n in report["notes"]]
    lines += [f"error: {e}" for e in errors]
    return "\n".join(lines)


# -- profiling ----------------------------------------------------------------------------

def profile_rows(rows: tuple[str, ...], cfg: Config, device: str = "cpu", top: int = 15,
                 steps: int = 10) -> str:
    """cProfile of ember's step for each training/inference row: top functions by tottime."""
    fws, _ = frameworks(device, ("ember",))
    fw = fws[0]
    out = []
    for name in rows:
        if name in ("mlp", "lenet", "cnn"):
            step = _setup_train(fw, name, cfg, None)
        elif name == "inference":
            model = _models.cnn(fw.lib, cfg.sizes).to(device).eval()
            x_np, _ = _models.make_data(_models.input_shape("cnn", cfg.sizes), 10)
            x = _models.to_lib(fw.lib, x_np, device)

            def step(model=model, x=x):
                with fw.lib.no_grad():
                    model(x)
            step()
        else:
            continue
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            step()
        fw.sync()
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).sort_stats("tottime")
        buf.write(f"== ember {name}: {steps} steps ==\n")
        stats.print_stats(top)
        out.append(buf.getvalue())
    return "\n".join(out)


# -- command line -------------------------------------------------------------------------

def _parse_rows(text: str) -> tuple[str, ...]:
    rows = []
    for part in text.split(","):
        part = part.strip().lower()
        name = ROW_NUMBERS.get(part, part)
        if name not in ROW_GROUPS:
            raise argparse.ArgumentTypeError(
                f"unknown row {part!r}; choose from {', '.join(ROW_GROUPS)} or 1-6")
        rows.append(name)
    return tuple(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per row (default 5, or 3 with --quick; at least 3 "
                             "for published numbers)")
    parser.add_argument("--quick", action="store_true", help="shorter rounds, all rows")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--rows", type=_parse_rows, default=ROW_GROUPS,
                        help=f"comma-separated subset of {','.join(ROW_GROUPS)} (or 1-6)")
    parser.add_argument("--frameworks", default="ember,torch,numpy",
                        help="comma-separated subset of ember,torch,numpy (numpy: the floor)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, print cProfile's top 15 functions of "
                             "ember's step for the selected rows")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    cfg = Config.quick(args.rounds) if args.quick else Config(rounds=args.rounds or 5)
    if args.profile:
        print(profile_rows(args.rows, cfg, args.device))
        return 0
    include = tuple(name.strip() for name in args.frameworks.split(","))
    report = run_benchmarks(args.rows, cfg, args.device, include)
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
