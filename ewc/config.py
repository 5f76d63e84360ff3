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
IMAGE_SIZES = (28, 32)
MNIST_TRAIN, MNIST_TEST = 60000, 10000


@dataclass(frozen=True)
class RunConfig:
    """Every knob of one sequential-training run. Profiles (``ewc/profiles/*.yaml``) give all but ``mode`` and the
    ``LATER_FIELDS``, whose defaults train as the runs did before those fields existed."""

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
        default="cnn", metadata={"help": "cnn: the report's Appendix A network; mlp: fully connected pixels-hidden-10."}
    )
    mlp_hidden: tuple[int, ...] = field(
        default=(400, 400), metadata={"help": "Hidden layer widths of the MLP (ignored for the CNN)."}
    )
    tasks: int = field(
        default=5,
        metadata={
            "help": "Number of tasks: the original MNIST (permuted too with permute_first), then tasks-1 permuted "
            "versions."
        },
    )
    epochs: int = field(
        default=30,
        metadata={
            "help": "Training epochs per task (the report: 30); with --iterations, the number of accuracy rows per "
            "task instead (the iterations split evenly between them)."
        },
    )
    iterations: int = field(
        default=0,
        metadata={
            "help": "Minibatch steps per task; 0 trains whole epochs instead. The steps walk through reshuffled passes "
            "over the training images, and test accuracy is recorded after each of 'epochs' equal shares of them."
        },
    )
    batch_size: int = field(default=64, metadata={"help": "Minibatch size (the report: 64)."})
    lr: float = field(default=1e-4, metadata={"help": "Adam learning rate (the report: 1e-4)."})
    lam: float = field(
        default=200.0,
        metadata={
            "help": "Penalty strength lambda in (lambda/2) sum_K sum_i F_K,i (theta_i - theta_K,i)^2 (the report: 200)."
        },
    )
    gamma: float = field(
        default=1.0,
        metadata={
            "help": "Decay of ewc-online's running importance, S <- gamma S + F_K, in (0, 1] (Schwarz et al. 2018); "
            "1 keeps every task at full weight. Only ewc-online takes a value other than 1."
        },
    )
    permutation: str = field(
        default="pixel",
        metadata={"help": "How tasks 2..N are made: pixel (all pixels shuffled) or block (b x b blocks shuffled)."},
    )
    block_size: int = field(
        default=7, metadata={"help": "Side of the blocks for block permutations; must divide the image size."}
    )
    permute_first: bool = field(
        default=False,
        metadata={
            "help": "Permute task 1 too (van de Ven & Tolias' protocol) instead of keeping it the original MNIST."
        },
    )
    image_size: int = field(
        default=28,
        metadata={
            "help": "Side of the images the network sees: 28, or 32 (each MNIST image zero-padded by 2 pixels on "
            "every side before permuting, as van de Ven's code does)."
        },
    )
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
    fresh_optimizer: bool = field(
        default=False,
        metadata={
            "help": "Start every task with a fresh Adam (step count and moments zero), as the report's code does by "
            "recompiling the model after each task; otherwise one Adam is carried across all tasks."
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

    @property
    def train_images_per_task(self) -> int:
        """Training images one task's training passes over (with repeats): ``iterations x batch_size`` where
        ``iterations`` > 0, else ``epochs x train_size``."""
        return self.iterations * self.batch_size if self.iterations else self.epochs * self.train_size

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
    _check_int("iterations", c.iterations, 0)
    if 0 < c.iterations < c.epochs:
        raise ConfigError(
            f"iterations must be 0 or at least epochs ({c.epochs}, one accuracy row per share of the "
            f"steps), got {c.iterations}"
        )
    _check_int("batch size", c.batch_size, 1)
    if isinstance(c.image_size, bool) or not isinstance(c.image_size, int) or c.image_size not in IMAGE_SIZES:
        raise ConfigError(f"image size must be 28 or 32, got {c.image_size!r}")
    _check_int("block size", c.block_size, 1, c.image_size)
    if c.permutation == "block" and c.image_size % c.block_size:
        divisors = ", ".join(str(d) for d in range(1, c.image_size + 1) if c.image_size % d == 0)
        raise ConfigError(f"block size must divide {c.image_size} ({divisors}), got {c.block_size}")
    for name in ("permute_first", "fresh_optimizer"):
        if not isinstance(getattr(c, name), bool):
            raise ConfigError(f"{name.replace('_', ' ')} must be true or false, got {getattr(c, name)!r}")
    _check_int("train size", c.train_size, 1, MNIST_TRAIN, " (MNIST has 60000 training images)")
    _check_int("test size", c.test_size, 1, MNIST_TEST, " (MNIST has 10000 test images)")
    _check_int("fisher samples", c.fisher_samples, 1, c.train_size, " (at most the train size)")
    _check_int("seed", c.seed, 0)
    for h in c.mlp_hidden:
        _check_int("mlp hidden width", h, 1)
    for name in ("lr", "lam", "gamma"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if c.lr <= 0:
        raise ConfigError(f"lr must be > 0, got {c.lr}")
    if c.lam < 0:
        raise ConfigError(f"lam must be >= 0, got {c.lam}")
    if not 0 < c.gamma <= 1:
        raise ConfigError(f"gamma must be in (0, 1], got {c.gamma}")
    if c.gamma != 1 and c.mode != "ewc-online":
        raise ConfigError(
            f"gamma decays ewc-online's running importance; mode {c.mode} takes only gamma 1, got {c.gamma}"
        )


PARAMETERS = tuple(f.name for f in fields(RunConfig))
# Fields added after results files and checkpoints were first written; their defaults reproduce the runs from before
# they existed, so a stored config that lacks them means those defaults.
LATER_FIELDS = ("iterations", "gamma", "permute_first", "image_size", "fresh_optimizer")
DEFAULTS = {f.name: f.default for f in fields(RunConfig)}


def normalize_stored(d: dict | None) -> dict | None:
    """A config dict read from a results file or checkpoint, with every field of ``LATER_FIELDS`` it lacks set to its
    default: comparable with ``==`` to ``RunConfig.to_dict()`` whichever version of ewc wrote it. None stays None."""
    if d is None:
        return None
    return {**{k: DEFAULTS[k] for k in LATER_FIELDS if k not in d}, **d}


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
