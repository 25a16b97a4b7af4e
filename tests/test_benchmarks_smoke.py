"""Smoke test of benchmarks/: every row runs once on tiny sizes and reports the right shape.

No timing is asserted: only that the benchmark code runs, returns well-formed results, and
that the hand-written NumPy floor computes the same training step as ember.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"ember_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run():
    return _load("run")


@pytest.fixture(scope="module")
def tiny_report(run):
    return run.run_benchmarks(cfg=run.Config.tiny())


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def test_every_row_reports_each_framework(run, tiny_report):
    keys = [row["key"] for row in tiny_report["rows"]]
    assert keys == ["mlp", "lenet", "cnn", "add_grad", "add_nograd", "chain", "inference",
                    "memory"]
    expected = {"ember", "numpy"} | ({"torch"} if _has_torch() else set())
    assert set(tiny_report["frameworks"]) == expected
    for row in tiny_report["rows"]:
        ember_result = row["results"]["ember"]
        assert "error" not in ember_result, (row["key"], ember_result)
        assert len(ember_result["rounds"]) == 1
        assert ember_result["min"] <= ember_result["median"] <= ember_result["max"]
        if row["key"] != "memory":  # a 1-step RSS growth can be 0 MB on tiny sizes
            assert ember_result["median"] > 0
        if _has_torch():
            assert "error" not in row["results"]["torch"], row["results"]["torch"]
            assert isinstance(row["ratio"], float)
            assert isinstance(row["met"], bool)
        assert row["target"] == run.TARGETS[row["key"]]
    floors = {row["key"]: row["results"]["numpy"] for row in tiny_report["rows"]}
    assert floors["mlp"]["median"] > 0 and floors["add_grad"]["median"] > 0
    assert floors["lenet"] is None and floors["cnn"] is None and floors["memory"] is None


def test_report_is_json_and_table(run, tiny_report):
    again = json.loads(json.dumps(tiny_report))
    assert again["config"]["rounds"] == 1
    assert again["machine"]["numpy"] == np.__version__
    table = run.format_table(tiny_report)
    for row in tiny_report["rows"]:
        assert row["title"] in table
    table_lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(table_lines) == len(tiny_report["rows"]) + 1  # header + one line per row


def test_inference_ratio_is_a_cost(run):
    # images/s: a higher rate is better, so the ratio is torch's rate over ember's
    results = {"ember": run.summarize([40.0, 50.0, 80.0]),
               "torch": run.summarize([100.0, 100.0, 120.0])}
    entry = run._entry("inference", "t", "images/s", results, higher_is_better=True)
    assert entry["ratio"] == 2.0 and entry["met"] is False
    assert entry["ratio_best"] == 1.5  # best rounds: 120 / 80


def test_mlp_floor_matches_ember_training_step():
    bench = _load("run")  # puts benchmarks/ on sys.path for _models
    models = sys.modules["_models"]
    sizes = models.Sizes.tiny()
    ember.manual_seed(0)
    model = models.mlp(ember, sizes)
    x, y = models.make_data(models.input_shape("mlp", sizes), sizes.classes)
    floor = models.MLPFloor(np, models.state_arrays(model), x, y)
    opt = models.optimizer(ember, "mlp", model.parameters())
    step = models.train_step(ember, model, opt, ember.from_numpy(x), ember.from_numpy(y))
    for _ in range(3):
        step()
        floor.step()
    for (name, got), want in zip(models.state_arrays(model), floor.params):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    assert bench.ROW_GROUPS[0] == "mlp"


def test_rows_option_accepts_names_and_numbers(run):
    assert run._parse_rows("1,cnn, 4") == ("mlp", "cnn", "overhead")
    with pytest.raises(Exception, match="unknown row 'gpu'"):
        run._parse_rows("gpu")


def test_cuda_without_gpu_fails_clearly(run):
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="--device cuda needs CuPy and an NVIDIA GPU"):
        run.main(["--device", "cuda", "--rows", "mlp"])


def test_cuda_rows_run_on_the_fake_device():
    # EMBER_FAKE_CUDA must be set before ember loads its cuda backend: a fresh process
    code = (f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); import run; "
            "rep = run.run_benchmarks(('mlp', 'inference', 'memory'), run.Config.tiny(), "
            "'cuda', ('ember',)); print(json.dumps(rep))")
    env = dict(os.environ, EMBER_FAKE_CUDA="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["device"] == "cuda" and report["frameworks"] == ["ember"]
    for row in report["rows"]:
        assert "error" not in row["results"]["ember"], row
    assert "GPU memory" in report["rows"][-1]["title"]


def test_matmul_backends_runs_and_checks_results():
    matmul = _load("matmul_backends")
    result = matmul.run([8, 33], repeats=1, only=["numpy", "ember cpu", "torch cpu"],
                        settle=0.0)
    names = {row["backend"] for row in result["rows"]}
    assert {"numpy", "ember cpu"} <= names
    for row in result["rows"]:
        assert row["ok"], row
        assert row["gflops"] > 0 and row["h2d_ms"] is None
    assert "| 33 | ember cpu |" in matmul.format_table(result)
