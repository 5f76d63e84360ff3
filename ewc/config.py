"""One typed run configuration shared by the CLI, the profiles and the notebooks; validated in one place."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from importlib import resources

import yaml

from ewc.errors import ConfigError

MODES = ("none", "l2", "ewc-all", "ewc-previous", "ewc-online")
ARCHS = ("cnn", "mlp")
PERMUTATIONS = ("pixel", "block")
FISHER_KINDS = ("empirical", "expected", "sampled")
PROFILES = ("smoke", "quick", "paper")
MNIST_TRAIN, MNIST_TEST = 60000, 10000


@dataclass(frozen=True)
class RunConfig:
    """Every knob of one sequential-training run. Profiles (``ewc/profiles/*.yaml``) give all but ``mode``."""

    profile: str = field(
        default="quick",
        metadata={"help": "Name of the profile these values came from (recorded in results and figure titles)."},
    )
    mode: str = field(
        default="ewc-all",
        metadata={
            "help": "Penalty: none (Exp 1), ewc-all (Exp 2), ewc-previous (Exp 3), ewc-online (running sum), "
            "l2 (Fig 1)."
        },
    )
    arch: str = field(
        default="cnn", metadata={"help": "cnn: the report's Appendix A network; mlp: fully connected 784-hidden-10."}
    )
    mlp_hidden: tuple[int, ...] = field(
        default=(400, 400), metadata={"help": "Hidden layer widths of the MLP (ignored for the CNN)."}
    )
    tasks: int = field(
        default=5, metadata={"help": "Number of tasks: the original MNIST, then tasks-1 permuted versions."}
    )
    epochs: int = field(default=30, metadata={"help": "Training epochs per task (the report: 30)."})
    batch_size: int = field(default=64, metadata={"help": "Minibatch size (the report: 64)."})
    lr: float = field(default=1e-4, metadata={"help": "Adam learning rate (the report: 1e-4)."})
    lam: float = field(
        default=200.0,
        metadata={
            "help": "Penalty strength lambda in (lambda/2) sum_K sum_i F_K,i (theta_i - theta_K,i)^2 (the report: 200)."
        },
    )
    permutation: str = field(
        default="pixel",
        metadata={"help": "How tasks 2..N are made: pixel (all 784 pixels shuffled) or block (b x b blocks shuffled)."},
    )
    block_size: int = field(default=7, metadata={"help": "Side of the blocks for block permutations; must divide 28."})
    train_size: int = field(
        default=60000, metadata={"help": "Training images per task (the first N of MNIST's 60,000)."}
    )
    test_size: int = field(
        default=10000,
        metadata={"help": "Test images per task used for the accuracy curves (the first N of MNIST's 10,000)."},
    )
    fisher_samples: int = field(
        default=1000,
        metadata={"help": "Training images of a task used for its Fisher diagonal (the report does not say how many)."},
    )
    fisher_kind: str = field(
        default="empirical",
        metadata={
            "help": "empirical (true labels, the report's), expected (exact, sum over classes) or "
            "sampled (label drawn from p)."
        },
    )
    seed: int = field(
        default=0, metadata={"help": "Seeds the permutations, the initial weights, the shuffling and dropout."}
    )

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "mlp_hidden",
            tuple(self.mlp_hidden) if isinstance(self.mlp_hidden, (list, tuple)) else (self.mlp_hidden,),
        )
        validate(self)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["mlp_hidden"] = list(self.mlp_hidden)
        return d


def _check_int(name: str, value, low: int, high: int | None = None, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{name} must be {bound}{why}, got {value}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")


def validate(c: RunConfig) -> None:
    """Raise ConfigError with one clear sentence for the first invalid field."""
    _check_choice("mode", c.mode, MODES)
    _check_choice("arch", c.arch, ARCHS)
    _check_choice("permutation", c.permutation, PERMUTATIONS)
    _check_choice("fisher kind", c.fisher_kind, FISHER_KINDS)
    _check_int("tasks", c.tasks, 1)
    _check_int("epochs", c.epochs, 1)
    _check_int("batch size", c.batch_size, 1)
    _check_int("block size", c.block_size, 1, 28)
    if 28 % c.block_size:
        raise ConfigError(f"block size must divide 28 (1, 2, 4, 7, 14, 28), got {c.block_size}")
    _check_int("train size", c.train_size, 1, MNIST_TRAIN, " (MNIST has 60000 training images)")
    _check_int("test size", c.test_size, 1, MNIST_TEST, " (MNIST has 10000 test images)")
    _check_int("fisher samples", c.fisher_samples, 1, c.train_size, " (at most the train size)")
    _check_int("seed", c.seed, 0)
    for h in c.mlp_hidden:
        _check_int("mlp hidden width", h, 1)
    for name in ("lr", "lam"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if c.lr <= 0:
        raise ConfigError(f"lr must be > 0, got {c.lr}")
    if c.lam < 0:
        raise ConfigError(f"lam must be >= 0, got {c.lam}")


PARAMETERS = tuple(f.name for f in fields(RunConfig))


def load_profile(name: str) -> dict:
    """The profile's values as a dict (``ewc/profiles/<name>.yaml``)."""
    _check_choice("profile", name, PROFILES)
    text = resources.files("ewc").joinpath("profiles", f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def profile_path(name: str) -> str:
    """Filesystem path of a profile's YAML (usable as ``papermill -f``)."""
    _check_choice("profile", name, PROFILES)
    return str(resources.files("ewc").joinpath("profiles", f"{name}.yaml"))


def make_config(profile: str = "quick", **overrides) -> RunConfig:
    """The profile's values with ``overrides`` on top (None means 'keep the profile's value').

    Raises:
        ConfigError: unknown profile, unknown parameter, or an invalid value.
    """
    values = load_profile(profile)
    unknown = sorted(set(overrides) - set(PARAMETERS))
    if unknown:
        raise ConfigError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(PARAMETERS)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["profile"] = profile
    return RunConfig(**values)
