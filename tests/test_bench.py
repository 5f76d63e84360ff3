"""The benchmarks at smoke size: every key present, positive finite figures, ratios the quotients of the reported
raw figures, verdicts consistent with the targets; and the slow baseline computes the same Fisher as the fast one.
No timing thresholds: the figures depend on the machine and its load."""

import json
import math

import numpy as np
import pytest
from helpers import run_cli

from ewc import bench

RAW = {
    "fisher": ["fast_samples_per_s", "loop_samples_per_s", "train_samples_per_s"],
    "penalty": ["step_ms_none"] + [f"step_ms_{m}_k{k}" for m in ("online", "all") for k in (1, 5, 20)],
    "train": ["fit_samples_per_s", "fit_bfc_samples_per_s", "trainer_samples_per_s", "trainer_online_k5_samples_per_s",
              "trainer_all_k5_samples_per_s"],
}
RATIOS = {  # ratio key -> (numerator, denominator), both raw keys
    "fisher": {"speedup_vs_loop": ("fast_samples_per_s", "loop_samples_per_s"),
               "cost_vs_train_pass": ("train_samples_per_s", "fast_samples_per_s")},  # = fisher s / train s
    "penalty": {f"ratio_{m}_k{k}": (f"step_ms_{m}_k{k}", "step_ms_none")
                for m in ("online", "all") for k in (1, 5, 20)},
    "train": {"speedup_vs_fit": ("trainer_samples_per_s", "fit_samples_per_s"),
              "speedup_vs_fit_bfc": ("trainer_samples_per_s", "fit_bfc_samples_per_s"),
              "online_k5_vs_plain": ("trainer_online_k5_samples_per_s", "trainer_samples_per_s")},
}


def check(result: dict, name: str) -> None:
    assert result["bench"] == name and result["size"] == "smoke"
    for key in RAW[name] + list(RATIOS[name]):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    for key, (num, den) in RATIOS[name].items():
        assert result[key] == pytest.approx(result[num] / result[den], rel=1e-12), key
    assert set(result["targets"]) == set(result["meets_targets"]) == set(bench.TARGETS[name])
    for key, (op, bound) in bench.TARGETS[name].items():
        assert result["meets_targets"][key] == (result[key] >= bound if op == ">=" else result[key] <= bound)
    assert result["all_targets_met"] == all(result["meets_targets"].values())
    assert result["batch_size"] == 64 and result["arch"].startswith("mlp")
    for variant, seconds in result["round_seconds"].items():  # the penalty bench times no penalty once per K
        groups = len(result["ks"]) if name == "penalty" and variant == "none" else 1
        assert len(seconds) == result["rounds"] * groups, variant
    json.dumps(result, allow_nan=False)  # one valid JSON object
    assert name in bench.format_table(result)


@pytest.mark.parametrize("name", list(bench.BENCHES))
def test_bench_function_at_smoke_size(name, mnist):
    check(bench.BENCHES[name]("smoke", mnist), name)


@pytest.mark.parametrize("name", list(bench.BENCHES))
def test_bench_cli_prints_one_json_object(name):
    proc = run_cli("bench", name, "--json", "--size", "smoke")
    assert proc.returncode == 0, proc.stderr
    check(json.loads(proc.stdout), name)


def test_per_example_loop_matches_fast_fisher(mnist):
    """The slow baseline and the fast path compute the same empirical Fisher: the speedup compares like with like."""
    from ewc.fisher import fisher_diagonal
    from ewc.model import build_model
    from ewc.train import as_model_input

    model = build_model("mlp", (16,))
    x, y = as_model_input(mnist.x_train[:12]), mnist.y_train[:12]
    for slow, fast in zip(bench.per_example_fisher(model)(x, y), fisher_diagonal(model, x, y, kind="empirical")):
        np.testing.assert_allclose(slow, fast, rtol=1e-4, atol=1e-9)


def test_isolated_penalty_bench_at_chosen_ks_reports_only_those():
    """The book times K = 1, 8 in a process of its own (memory): the figures, facts and targets follow ``ks``."""
    result = bench.run_isolated("penalty", "smoke", ks=(1, 3))
    assert result["ks"] == [1, 3]
    assert {k for k in result if k.startswith("step_ms_")} == {"step_ms_none"} | {
        f"step_ms_{m}_k{k}" for m in ("online", "all") for k in (1, 3)}
    assert set(result["targets"]) == {"ratio_online_k1"}  # the targets at K = 5 and 20 were not measured
    assert len(result["round_seconds"]["none"]) == 2 * result["rounds"]  # no penalty is timed with each K


@pytest.mark.parametrize("args", [["train", "--ks", "2"], ["penalty", "--ks", "0"]])
def test_bench_ks_refused_where_it_means_nothing(args):
    proc = run_cli("bench", *args, "--size", "smoke")
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "--ks" in proc.stderr


def test_fit_process_failure_is_one_clear_error():
    """The child that times Keras fit dies on images it cannot train on: the bench raises EwcError with its last
    line, instead of hanging or printing a traceback."""
    from ewc.errors import EwcError

    with pytest.raises(EwcError, match="Keras fit process stopped: ValueError: .+"):
        with bench.FitProcess("smoke", np.zeros((8, 5, 5), np.uint8), np.zeros(8, np.int32)) as fit:
            fit.epoch()
