"""The later run options: validation, and configs stored before they existed still match (results, checkpoints,
the shared task-1 cache)."""

import json

import numpy as np
import pytest
from helpers import ROOT

from ewc.cli import _config_from_args, build_parser
from ewc.config import LATER_FIELDS, PARAMETERS, RunConfig, make_config, normalize_stored
from ewc.errors import ConfigError

# what task1_key kept before the later fields existed, written out here as the reference
OLD_TASK1_FIELDS = ("arch", "mlp_hidden", "epochs", "batch_size", "lr", "train_size", "test_size", "seed")


def old_style(config: RunConfig) -> dict:
    """``config.to_dict()`` as a version of ewc without the later fields wrote it."""
    return {k: v for k, v in config.to_dict().items() if k not in LATER_FIELDS}


def test_defaults_are_the_behaviour_from_before():
    c = make_config("smoke")
    assert (c.gamma, c.iterations, c.permute_first, c.image_size) == (1.0, 0, False, 28)


def test_normalize_stored_fills_only_missing_later_fields():
    c = make_config("smoke", mode="ewc-online")
    old = old_style(c)
    assert old != c.to_dict() and normalize_stored(old) == c.to_dict()
    assert normalize_stored(c.to_dict()) == c.to_dict()
    stored_other = {**old, "gamma": 0.5}  # a stored value wins over the default
    assert normalize_stored(stored_other) != c.to_dict()
    assert normalize_stored({**old, "lam": 1.0}) != c.to_dict()  # other differences are kept
    assert normalize_stored(None) is None
    assert old == old_style(c)  # the argument is not modified


def _old_style_results() -> list[str]:
    """The committed results files written before the later fields existed (format ewc-results/1, no later field),
    in any suite: since the quick profile was retrained, the calibration's first candidates hold them."""
    found = []
    for p in (ROOT / "results").rglob("seed-*.json"):
        stored = json.loads(p.read_text())
        old = stored.get("format") == "ewc-results/1" and not set(LATER_FIELDS) & set(stored.get("config", {}))
        if old and stored.get("complete"):
            found.append(str(p.relative_to(ROOT)))
    return sorted(found)


COMMITTED_RESULTS = _old_style_results()


def test_the_repository_still_holds_old_style_results():
    """The test below needs such files; if none is left it would pass by running nothing (as it did for a while
    after the quick profile was retrained, when it looked only in results/quick)."""
    assert COMMITTED_RESULTS


@pytest.mark.parametrize("path", COMMITTED_RESULTS)
def test_committed_results_are_still_reused(path, monkeypatch):
    """Every results file in the repository was written before the later fields; the config it records must still
    count as 'exactly this config' so the book reuses it instead of training."""
    import ewc.experiment

    stored = json.loads((ROOT / path).read_text())

    def no_training(*args, **kwargs):
        raise AssertionError("reuse failed: the run would retrain")

    monkeypatch.setattr(ewc.experiment, "run", no_training)
    config = RunConfig(**{k: v for k, v in stored["config"].items() if k in PARAMETERS})
    assert ewc.experiment.run_experiment(config, ROOT / path, reuse=True)["accuracy"] == stored["accuracy"]


def test_old_checkpoint_resumes_and_a_changed_later_field_is_refused(mnist, tmp_path):
    from ewc.experiment import run_resumable

    config = make_config("smoke", mode="ewc-online", tasks=2, epochs=1)
    path = tmp_path / "c.npz"
    first = run_resumable(config, mnist, checkpoint=path)
    with np.load(path) as npz:  # rewrite its metadata as an older ewc wrote it
        arrays = dict(npz)
    meta = json.loads(arrays["meta"].tobytes())
    meta["config"] = old_style(config)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    resumed = run_resumable(config, mnist, checkpoint=path)
    assert resumed["resumed_from_task"] == 2 and resumed["accuracy"] == first["accuracy"]
    with pytest.raises(ConfigError, match=r"other parameters \(gamma\)"):
        run_resumable(make_config("smoke", mode="ewc-online", tasks=2, epochs=1, gamma=0.5), mnist, checkpoint=path)


def test_task1_key_keeps_old_keys_and_names_later_fields_only_when_set():
    from ewc.experiment import task1_key

    base = make_config("smoke", mode="none")
    assert task1_key(base)["config"] == {k: base.to_dict()[k] for k in OLD_TASK1_FIELDS}
    assert task1_key(make_config("smoke", mode="ewc-online", gamma=0.3)) == task1_key(base)  # penalty only
    assert task1_key(make_config("smoke", mode="none", permutation="block")) == task1_key(base)  # task 1 unpermuted
    changed = {
        "iterations": make_config("smoke", mode="none", iterations=40),
        "image_size": make_config("smoke", mode="none", image_size=32),
        "permute_first": make_config("smoke", mode="none", permute_first=True),
    }
    for name, config in changed.items():
        assert name in task1_key(config)["config"] and task1_key(config) != task1_key(base)
    # with task 1 permuted, how it is permuted matters too
    pixel, block = changed["permute_first"], make_config("smoke", mode="none", permute_first=True, permutation="block")
    assert task1_key(pixel)["config"]["permutation"] == "pixel" and task1_key(pixel) != task1_key(block)
    assert task1_key(block) != task1_key(
        make_config("smoke", mode="none", permute_first=True, permutation="block", block_size=14)
    )


BAD = {
    "gamma outside online": ({"mode": "ewc-all", "gamma": 0.5}, "mode ewc-all takes only gamma 1"),
    "gamma zero": ({"mode": "ewc-online", "gamma": 0.0}, "gamma must be in (0, 1]"),
    "gamma above one": ({"mode": "ewc-online", "gamma": 1.5}, "gamma must be in (0, 1]"),
    "gamma nan": ({"mode": "ewc-online", "gamma": float("nan")}, "gamma must be a finite number"),
    "negative iterations": ({"iterations": -1}, "iterations must be >= 0"),
    "fewer iterations than rows": ({"epochs": 3, "iterations": 2}, "iterations must be 0 or at least epochs (3"),
    "fractional iterations": ({"iterations": 2.5}, "iterations must be an integer"),
    "image size 30": ({"image_size": 30}, "image size must be 28 or 32"),
    "block 7 on 32": ({"image_size": 32, "permutation": "block", "block_size": 7}, "block size must divide 32"),
    "permute first not a bool": ({"permute_first": "yes"}, "permute first must be true or false"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_later_fields_are_refused(case):
    overrides, message = BAD[case]
    with pytest.raises(ConfigError) as info:
        make_config("smoke", **overrides)
    assert message in str(info.value)


def test_good_later_fields():
    make_config("smoke", mode="ewc-online", gamma=0.9)
    make_config("smoke", epochs=3, iterations=3)
    make_config("smoke", image_size=32)  # pixel permutations: the default block size does not matter
    make_config("smoke", image_size=32, permutation="block", block_size=8)


def parsed(*argv):
    return _config_from_args(build_parser().parse_args(["run", "--profile", "smoke", *argv]))


def test_cli_parses_bool_float_and_int_options():
    c = parsed("--mode", "ewc-online", "--gamma", "0.25", "--permute-first", "--iterations", "40", "--image-size", "32")
    assert (c.gamma, c.permute_first, c.iterations, c.image_size) == (0.25, True, 40, 32)
    assert type(c.gamma) is float and type(c.permute_first) is bool and type(c.iterations) is int
    assert parsed().permute_first is False and parsed().gamma == 1.0
    assert parsed("--permute-first", "--no-permute-first").permute_first is False  # the last one wins
