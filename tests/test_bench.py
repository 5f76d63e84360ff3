"""The benchmarks at smoke size: every key present, positive finite figures, ratios the quotients of the reported
raw figures, verdicts consistent with the targets, the machine recorded; the slow baseline computes the same Fisher as
the fast one; ``fit`` is timed from its epoch's start to its end. No timing thresholds: the figures depend on the
machine and its load."""

import json
import math
import os
import time

import numpy as np
import pytest
from helpers import run_cli

from ewc import bench

RAW = {
    "fisher": ["fast_samples_per_s", "loop_samples_per_s", "train_samples_per_s"],
    "penalty": ["step_ms_none"] + [f"step_ms_{m}_k{k}" for m in ("online", "all") for k in (1, 5, 20)],
    "train": [
        "fit_samples_per_s",
        "fit_bfc_samples_per_s",
        "fit_xla_samples_per_s",
        "trainer_samples_per_s",
        "trainer_online_k5_samples_per_s",
        "trainer_all_k5_samples_per_s",
    ],
    "step": ["ms_forward", "ms_gradient", "ms_update", "ms_step", "ms_online"],
}
FITS = ["fit_samples_per_s", "fit_bfc_samples_per_s", "fit_xla_samples_per_s"]  # the stock-Keras variants
RATIOS = {  # ratio key -> (numerator, denominator), both raw keys
    "fisher": {
        "speedup_vs_loop": ("fast_samples_per_s", "loop_samples_per_s"),
        "cost_vs_train_pass": ("train_samples_per_s", "fast_samples_per_s"),
    },  # = fisher s / train s
    "penalty": {
        f"ratio_{m}_k{k}": (f"step_ms_{m}_k{k}", "step_ms_none") for m in ("online", "all") for k in (1, 5, 20)
    },
    "train": {
        "speedup_vs_fit": ("trainer_samples_per_s", "fit_samples_per_s"),
        "speedup_vs_fit_bfc": ("trainer_samples_per_s", "fit_bfc_samples_per_s"),
        "speedup_vs_fit_xla": ("trainer_samples_per_s", "fit_xla_samples_per_s"),
        "online_k5_vs_plain": ("trainer_online_k5_samples_per_s", "trainer_samples_per_s"),
    },
    "step": {},
}


def check(result: dict, name: str) -> None:
    assert result["bench"] == name and result["size"] == "smoke"
    for key in RAW[name] + list(RATIOS[name]):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    for key, (num, den) in RATIOS[name].items():
        assert result[key] == pytest.approx(result[num] / result[den], rel=1e-12), key
    if name == "train":  # against the fastest stock-Keras variant of the same run
        fastest = max(FITS, key=result.get)
        assert result["best_fit"] + "_samples_per_s" == fastest
        assert result["speedup_vs_best_fit"] == pytest.approx(result["trainer_samples_per_s"] / result[fastest])
        assert result["speedup_vs_best_fit"] <= min(result[f"speedup_vs_{f}"] for f in ("fit", "fit_bfc", "fit_xla"))
    if name == "step":  # the parts are differences of the raw medians, the shares fractions of the step
        assert result["ms_backward"] == pytest.approx(result["ms_gradient"] - result["ms_forward"])
        assert result["ms_step_rest"] == pytest.approx(result["ms_step"] - result["ms_gradient"])
        assert result["ms_penalty"] == pytest.approx(result["ms_online"] - result["ms_step"])
        shares = [result[f"share_{p}"] for p in ("forward", "backward", "step_rest")]
        assert sum(shares) == pytest.approx(1.0)
    assert set(result["targets"]) == set(result["meets_targets"]) == set(bench.TARGETS[name])
    for key, (op, bound) in bench.TARGETS[name].items():
        assert result["meets_targets"][key] == (result[key] >= bound if op == ">=" else result[key] <= bound)
    assert result["all_targets_met"] == all(result["meets_targets"].values())
    assert result["batch_size"] == 64 and result["arch"].startswith("mlp")
    machine = result["machine"]
    assert machine["cpu_model"] and machine["cores"] == os.cpu_count() == result["cpu_count"]
    assert 1 <= machine["cores_usable"] <= machine["cores"] and machine["tensorflow"] == result["tensorflow"]
    for variant, seconds in result["round_seconds"].items():  # the penalty bench times no penalty once per K
        groups = len(result["ks"]) if name == "penalty" and variant == "none" else 1
        assert len(seconds) == result["rounds"] * groups, variant
    json.dumps(result, allow_nan=False)  # one valid JSON object
    assert name in bench.format_table(result)


@pytest.mark.slow
def test_penalty_bench_at_smoke_size_times_every_k(mnist):
    """The other benches are checked where the smoke book measured them (test_smoke_book), the penalty bench here at
    its default Ks, the per-task sum at each."""
    check(bench.BENCHES["penalty"]("smoke", mnist), "penalty")


@pytest.mark.slow
def test_bench_cli_prints_one_json_object():
    """The command end to end for one bench (the others share its printing; their results are checked above and in
    test_smoke_book)."""
    proc = run_cli("bench", "fisher", "--json", "--size", "smoke")
    assert proc.returncode == 0, proc.stderr
    check(json.loads(proc.stdout), "fisher")


def test_per_example_loop_matches_fast_fisher(mnist):
    """The slow baseline and the fast path compute the same empirical Fisher: the speedup compares like with like."""
    from ewc.fisher import fisher_diagonal
    from ewc.model import build_model
    from ewc.train import as_model_input

    model = build_model("mlp", (16,))
    x, y = as_model_input(mnist.x_train[:12]), mnist.y_train[:12]
    for slow, fast in zip(bench.per_example_fisher(model)(x, y), fisher_diagonal(model, x, y, kind="empirical")):
        np.testing.assert_allclose(slow, fast, rtol=1e-4, atol=1e-9)


@pytest.mark.slow
def test_isolated_penalty_bench_at_chosen_ks_reports_only_those():
    """The book times its Ks in a process of its own (memory), the per-task sum only up to a K: the figures, facts
    and targets follow ``ks`` and ``all_up_to``."""
    result = bench.run_isolated("penalty", "smoke", ks=(1, 3), all_up_to=1)
    assert result["ks"] == [1, 3] and result["all_ks"] == [1]
    assert {k for k in result if k.startswith("step_ms_")} == {"step_ms_none", "step_ms_all_k1"} | {
        f"step_ms_online_k{k}" for k in (1, 3)
    }
    assert set(result["targets"]) == {"ratio_online_k1"}  # the targets at K = 5 and 20 were not measured
    assert len(result["round_seconds"]["none"]) == 2 * result["rounds"]  # no penalty is timed with each K


@pytest.mark.parametrize("args", [["train", "--ks", "2"], ["penalty", "--ks", "0"]])
def test_bench_ks_refused_where_it_means_nothing(args, capsys):
    from ewc import cli

    assert cli.main(["bench", *args, "--size", "smoke"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "--ks" in err


@pytest.mark.slow
def test_fit_process_failure_is_one_clear_error():
    """The child that times Keras fit dies on images it cannot train on: the bench raises EwcError with its last
    line, instead of hanging or printing a traceback."""
    from ewc.errors import EwcError

    with pytest.raises(EwcError, match="Keras fit process stopped: ValueError: .+"):
        with bench.FitProcess("smoke", np.zeros((8, 5, 5), np.uint8), np.zeros(8, np.int32)) as fit:
            fit.epoch()


@pytest.mark.slow
def test_fit_process_answers_each_epochs_seconds(mnist):
    """The child reports the seconds of the epoch it ran: positive, less than the parent waited for it."""
    x, y = mnist.x_train[:128], mnist.y_train[:128].astype(np.int32)
    with bench.FitProcess("smoke", x, y) as fit:
        for _ in range(2):
            t0 = time.perf_counter()
            seconds = fit.epoch()
            assert isinstance(seconds, float) and 0 < seconds < time.perf_counter() - t0


def test_machine_names_the_cpu_and_the_xla_flags(monkeypatch):
    """The CPU model is /proc/cpuinfo's (where there is one); XLA_FLAGS is recorded as set, None when unset."""
    import tensorflow as tf

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    facts = bench.machine()
    assert facts["xla_flags"] == "--xla_cpu_enable_fast_math=false" and facts["tensorflow"] == tf.__version__
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            assert f"model name\t: {facts['cpu_model']}\n" in f.read()
    monkeypatch.delenv("XLA_FLAGS")
    assert bench.machine()["xla_flags"] is None


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_is_timed_from_its_epochs_start_to_its_end(jit_compile, mnist, monkeypatch):
    """A ``fit`` variant returns its epoch's seconds, without the ``fit`` call's set-up and tear-down: here made to
    take a known 0.3 s each (the callbacks' ``on_train_begin`` / ``on_train_end``, which run outside the epoch)."""
    import keras

    from ewc.config import make_config

    pause = 0.3
    for hook in ("on_train_begin", "on_train_end"):
        original = getattr(keras.callbacks.CallbackList, hook)
        monkeypatch.setattr(
            keras.callbacks.CallbackList,
            hook,
            lambda self, logs=None, original=original: time.sleep(pause) or original(self, logs),
        )
    x, y = mnist.x_train[:256], mnist.y_train[:256].astype(np.int32)
    epoch = bench.keras_fit(make_config("smoke", mode="none"), x, y, jit_compile=jit_compile)
    for _ in range(2):  # the first call also traces (and compiles) the train step, inside its epoch
        t0 = time.perf_counter()
        seconds = epoch()
        assert 0 < seconds < time.perf_counter() - t0 - 2 * pause
