"""Reference suites: named, declared sets of runs (run name -> RunConfig) that ``python -m ewc suite NAME`` trains
through Snakemake (``ewc/workflow/Snakefile``), one job per run, each writing ``<results>/<suite>/<run>.json``.

A run's name is ``<mode>[_lam-<lambda>]/seed-<k>`` (the ``_lam`` part where a suite runs a mode at more than one
lambda, or at another lambda than its profile's); ``<results>`` is ``results/`` in the checkout unless
``$EWC_RESULTS_DIR`` or ``--results-dir`` says otherwise. A run whose results file is complete and was made from
exactly its config is done and never rerun; anything else is trained, resuming from the checkpoint an interrupted
job left beside its results file.

Suites (built when asked for, so that a suite needing fields this version of RunConfig lacks fails alone, on use):

* ``tiny``: four tiny MLP runs (modes none and ewc-all, seeds 0-1) for the tests of the suite runner.
* ``smoke`` and ``quick``: every run the book renders at that profile (``_book``): the report's three experiments
  over 2 / 5 seeds, online EWC and the L2 pull, the other network, block permutations and the λ sweep.
* ``report-scale``: the report's network and optimiser (profile paper: batch 64, Adam 1e-4) on all 60,000 images
  for 5 epochs per task; none, ewc-all, ewc-previous, ewc-online at the report's lambda 200, seeds 0-1. The second
  lambda is calibrated as van de Ven's are chosen: ewc-all on the grid ``REPORT_SCALE_LAM_GRID`` (the report's 200
  and two decades above it) at seed 0, and at seed 1 the grid's best ACC, ``REPORT_SCALE_CALIBRATED_LAM`` once
  the grid is complete (a test checks it against the grid's results; until then that run is not declared).
* ``vandeven2019``: van de Ven & Tolias's domain-incremental permuted MNIST (below); none, EWC and online EWC.
* ``calibration``: candidates for the ``quick`` profile (``CALIBRATION_CANDIDATES``), each over the book's five
  seeds at the same cost per task: the profile's values before the calibration (4,000 images x 4 epochs per task,
  λ 1,000) with the report's three experiments; other λ with EWC on every task (its floors are the ones that
  failed); 16,000 distinct images seen once, with the three experiments. The book's Appendix B
  (``book/appendix_calibration.md``) counts the floors each meets. Run names carry λ and the images
  (``ewc-all_lam-500/seed-2``, ``none_images-16000/seed-0``), and configs pin the values the calibration was about,
  so neither changes when the profile does.
* ``paper``: the report's exact protocol (profile paper: 30 epochs x 60,000 images per task, lambda 200, a fresh
  Adam for every task and the Fisher over all training images, as the report's code does), modes none, ewc-all,
  ewc-previous, seed 0; the three share task 1.
* ``confirmation``: the ``quick`` profile's three experiments on fresh seeds, as ``CONFIRMATION_RULE`` sets them.
* ``forgetting``: the dose-response of forgetting without a penalty at that protocol (``_forgetting``): 2 tasks,
  seeds 0-2, a fresh or a carried Adam for task 2.

The vandeven2019 protocol, as their code (GMvandeVen/continual-learning) sets it. Their README at commit 86802a8
says the results of arXiv 1809.10635 came from commit 9c0ca78, whose permuted-MNIST settings were passed on the
command line and are not recorded; commit 9945f84 (December 2019) added ``param_values.py`` with the defaults of
their comparisons "based on chosen experiment and scenario". File:line references are to 9945f84 unless named:

* 10 tasks, 5000 iterations (minibatches) per task, Adam lr 1e-4: ``param_values.py:4-6`` (permMNIST); batch 128:
  ``main.py:57``; Adam betas (0.9, 0.999): ``main.py:216`` (ours: the same betas, epsilon 1e-7 instead of 1e-8).
* MLP with two hidden layers of 1000 ReLU units: ``param_values.py:7`` (fc_units) and ``main.py:45`` (fc_layers 3
  = two hidden + output), no dropout or batch norm (``main.py:47-48`` defaults). Domain-IL: one 10-way softmax
  shared by all tasks, as ours.
* Images zero-padded to 32 x 32 (``data.py:134`` ``transforms.Pad(2)``, ``data.py:144`` size 32) and permuted over
  all 1024 pixels, task 1 included (``data.py:166-169``): only ``--seed 0`` leaves task 1 unpermuted ("for
  visualization", ``main.py:186``), and their comparisons start at seed 1 (``_compare.py:13``). So
  ``image_size=32, permute_first=True``.
* Fisher: ``emp_FI`` defaults to False, which uses the *predicted* label (``continual_learner.py:31, 100-109``),
  one example at a time over the whole training set (``fisher_n`` None: ``continual_learner.py:30, 94``), divided
  by the last index, n - 1 (``continual_learner.py:125``). The predicted label equals the true one on every
  training image the network classifies correctly, so our ``empirical`` Fisher (true labels) differs from theirs
  only on misclassified training images; ``fisher_samples`` = all 60,000. (Their 2022 rewrite renames the option
  ``--fisher-labels`` with choices all/sample/pred/true and default ``all``, the expected Fisher:
  ``params/options.py:238`` at HEAD.)
* Penalty: ``ewc_lambda * (1/2) sum F (theta - theta*)^2`` added to the mean cross-entropy
  (``continual_learner.py:148-165``, ``encoder.py:207``): the same form and scale as ours. Online EWC keeps one
  running sum ``F_new + gamma F_old`` anchored at the latest task (``continual_learner.py:135-139``).
* Lambda: their permuted-MNIST grid is 1, 10, ..., 1e7 (``compare_hyperParams.py:17`` at HEAD; the grid script
  runs one seed by default, ``params/options.py:23`` at HEAD), and the values they chose for domain-IL permuted
  MNIST are lambda 500 for EWC and 1000 for online EWC, with gamma 0.9 (``param_values.py:24-31``). We run the
  three decades of their grid around those choices, 100 to 10,000, at seed 0 for EWC and online EWC (a grid point
  costs a full run; the rest of their grid, five more runs per mode, belongs here only if the best of these three
  is at an edge), and the chosen lambdas at seeds 0-2, with gamma 1.0 (their default before ``param_values.py``:
  ``main.py:83`` at 86802a8, whose README's example is ``--ewc --online --lambda=5000
  --gamma=1``). With gamma 1 their online penalty, ``gamma F`` in the loss (``continual_learner.py:161``), is our
  running sum.
* Not matched: weight initialisation (PyTorch's default vs Keras' Glorot uniform); they evaluate at the end of each
  task, we as ``iterations`` mode does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ewc import fingerprint, results
from ewc.config import RunConfig, make_config, normalize_stored
from ewc.errors import ConfigError
from ewc.paths import results_root

REPORT_SCALE_LAM_GRID = (200.0, 2000.0, 20000.0)  # report-scale's ewc-all at seed 0: the report's λ, two decades up
REPORT_SCALE_CALIBRATED_LAM: float | None = 2000.0  # the grid's best ACC at seed 0; None until the grid is complete
VANDEVEN_LAM_GRID = (100.0, 1000.0, 1e4)  # the middle of compare_hyperParams.py:17's 1 ... 1e7 (permMNIST)
VANDEVEN_EWC_LAM = 500.0  # param_values.py:24-26, domain-IL permMNIST
VANDEVEN_ONLINE_LAM = 1000.0  # param_values.py:28-30, domain-IL permMNIST


@dataclass(frozen=True)
class Suite:
    """A named set of runs: ``runs`` maps a run name (``ewc-all/seed-3``) to its config, in a fixed order."""

    name: str
    description: str
    runs: dict[str, RunConfig]

    def path(self, run: str, root: str | os.PathLike | None = None) -> Path:
        """Where ``run``'s results go: ``<root>/<suite>/<run>.json`` (root: ``results_root()`` by default)."""
        if run not in self.runs:
            raise ConfigError(f"suite {self.name} has no run {run!r}")
        return Path(root or results_root()) / self.name / f"{run}.json"


def run_name(config: RunConfig, lam_in_name: bool = False) -> str:
    """``<mode>[_lam-<lambda>]/seed-<k>``."""
    lam = f"_lam-{config.lam:g}" if lam_in_name else ""
    return f"{config.mode}{lam}/seed-{config.seed}"


def split_run_name(run: str) -> tuple[str, int]:
    """A run's name ``<group>/seed-<k>`` (as every suite names its runs) split into its group and its seed."""
    group, _, seed = run.rpartition("/seed-")
    return group, int(seed)


def _runs(configs: list[RunConfig], lam_in_name: Callable[[RunConfig], bool] = lambda c: False) -> dict:
    runs = {}
    for c in configs:
        runs.setdefault(run_name(c, lam_in_name(c)), c)  # a grid point that is also a chosen run is one run
    return runs


def _tiny() -> dict:
    return _runs([make_config("smoke", mode=m, seed=s) for m in ("none", "ewc-all") for s in range(2)])


def group_name(config: RunConfig) -> str:
    """The book's name for a group of runs that differ only in their seed: the mode, then ``_<field>-<value>`` for
    every field that differs from the profile's (``ewc-all``, ``l2_lam-0.01``, ``none_arch-mlp_permutation-block``)."""
    base = make_config(config.profile, mode=config.mode).to_dict()
    changed = [(k, v) for k, v in config.to_dict().items() if k not in ("profile", "mode", "seed") and v != base[k]]
    return config.mode + "".join(f"_{k}-{_slug(v)}" for k, v in changed)


def _slug(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Seeds of the book's runs per profile: (the report's three experiments, everything else). The smoke book, plumbing
#: only, trains the rest once: its other network's runs cost most of its time.
BOOK_SEEDS = {"smoke": (2, 1), "quick": (5, 3)}
BOOK_LAMBDA_FACTORS = (0.01, 0.1, 1.0, 10.0, 100.0)  # the λ sweep: multiples of the profile's λ
L2_LAM = 0.01  # the L2 pull's own λ: its importance is 1 on every weight, not a Fisher


def _book(profile: str) -> dict:
    """Every run the book's chapters render at ``profile``: the three experiments over several seeds; online EWC and
    the L2 pull; the other network (MLP or CNN) on the same tasks; both networks on block permutations (seed 0); and
    the λ sweep of EWC on every task with the MLP (seed 0)."""
    main, extra = BOOK_SEEDS[profile]
    base = make_config(profile)
    other = "mlp" if base.arch == "cnn" else "cnn"
    configs = [make_config(profile, mode=m, seed=s) for m in ("none", "ewc-all", "ewc-previous") for s in range(main)]
    configs += [make_config(profile, mode="ewc-online", seed=s) for s in range(extra)]
    configs += [make_config(profile, mode="l2", lam=L2_LAM, seed=s) for s in range(extra)]
    configs += [
        make_config(profile, mode=m, arch=other, seed=s)
        for m in ("none", "ewc-all", "ewc-previous")
        for s in range(extra)
    ]
    configs += [
        make_config(profile, mode=m, arch=a, permutation="block", seed=0)
        for a in ("cnn", "mlp")
        for m in ("none", "ewc-all")
    ]
    configs += [make_config(profile, mode="ewc-all", arch="mlp", lam=base.lam * f, seed=0) for f in BOOK_LAMBDA_FACTORS]
    runs = {}
    for c in configs:
        runs.setdefault(f"{group_name(c)}/seed-{c.seed}", c)
    return runs


def _report_scale() -> dict:
    def config(mode: str, seed: int, lam: float = 200.0) -> RunConfig:
        return make_config(
            "paper",
            mode=mode,
            seed=seed,
            lam=lam,
            epochs=5,
            train_size=60000,
            test_size=10000,
            batch_size=64,
            lr=1e-4,
            fisher_samples=1000,  # as this suite was run, before the paper profile took the report's code's values
            fresh_optimizer=False,
        )

    configs = [config(m, s) for m in ("none", "ewc-all", "ewc-previous", "ewc-online") for s in range(2)]
    configs += [config("ewc-all", 0, lam) for lam in REPORT_SCALE_LAM_GRID]
    if REPORT_SCALE_CALIBRATED_LAM is not None:
        configs += [config("ewc-all", 1, REPORT_SCALE_CALIBRATED_LAM)]
    return _runs(configs, lambda c: c.lam != 200.0)


def _vandeven2019() -> dict:
    def config(mode: str, seed: int, lam: float | None = None) -> RunConfig:
        return make_config(
            "paper",
            mode=mode,
            seed=seed,
            lam=lam,
            arch="mlp",
            mlp_hidden=(1000, 1000),
            tasks=10,
            epochs=1,
            iterations=5000,
            batch_size=128,
            lr=1e-4,
            train_size=60000,
            test_size=10000,
            image_size=32,
            permute_first=True,
            gamma=1.0,
            fisher_kind="empirical",
            fisher_samples=60000,
            fresh_optimizer=False,
        )

    seeds = range(3)
    configs = [config("none", s) for s in seeds]
    for mode, chosen in (("ewc-all", VANDEVEN_EWC_LAM), ("ewc-online", VANDEVEN_ONLINE_LAM)):
        configs += [config(mode, 0, lam) for lam in VANDEVEN_LAM_GRID]
        configs += [config(mode, s, chosen) for s in seeds]
    return _runs(configs, lambda c: c.mode != "none")


@dataclass(frozen=True)
class CalibrationCandidate:
    """One candidate of the ``quick`` profile's calibration: the report's experiments in ``modes`` over the book's
    five seeds, at λ ``lam`` with ``images`` distinct training images per task seen for ``passes`` passes. Every
    candidate takes the same 250 Adam steps of 64 images per task (``iterations``: 16,000 images' worth), so they
    cost the same, with the Appendix A CNN, 5 tasks, Adam 3.5e-3, 500 Fisher images and 1,000 test images pinned;
    the rest (permutations, Fisher kind) is the profile's."""

    lam: float
    modes: tuple[str, ...]
    images: int = 4000
    passes: int = 4
    BATCH = 64  # images per step (a class constant, not a field)

    @property
    def label(self) -> str:
        """The candidate's column title: '4,000 images × 4, λ = 1,000'."""
        return f"{self.images:,} images × {self.passes}, λ = {self.lam:,.0f}"

    def group(self, mode: str) -> str:
        """``ewc-all_lam-500``; ``none`` (no penalty does not depend on λ); ``_images-16000`` appended for a
        candidate with other than the first calibration's 4,000 images (names stay as the first candidates had them)."""
        base = mode if mode == "none" else f"{mode}_lam-{self.lam:g}"
        return base + ("" if self.images == 4000 else f"_images-{self.images}")

    def config(self, mode: str, seed: int) -> RunConfig:
        # four passes are four epochs (one accuracy row each); other passes take the same 250 steps as iterations,
        # still with four accuracy rows per task
        iterations = 0 if self.passes == 4 else self.images * self.passes // self.BATCH
        return make_config(
            "quick",
            mode=mode,
            seed=seed,
            lam=self.lam,
            train_size=self.images,
            epochs=4,
            iterations=iterations,
            batch_size=self.BATCH,
            arch="cnn",
            tasks=5,
            lr=0.0035,
            fisher_samples=500,
            test_size=1000,
        )


#: The candidates of the ``quick`` profile's calibration, in the order they were tried: the profile's values before
#: the calibration (4,000 images x 4 epochs, λ 1,000) with the report's three experiments; λ 500 and 2,000 with EWC
#: on every task, whose floors are the ones that failed; 16,000 distinct images seen once, at the same cost (the
#: profile since); and with those, λ 2,000 for EWC on every task, whose task-4 floor is the one the profile misses.
CALIBRATION_CANDIDATES = (
    CalibrationCandidate(1000.0, ("none", "ewc-all", "ewc-previous")),
    CalibrationCandidate(500.0, ("ewc-all",)),
    CalibrationCandidate(2000.0, ("ewc-all",)),
    CalibrationCandidate(1000.0, ("none", "ewc-all", "ewc-previous"), images=16000, passes=1),
    CalibrationCandidate(2000.0, ("ewc-all",), images=16000, passes=1),
)


def _calibration() -> dict:
    runs = {}
    for candidate in CALIBRATION_CANDIDATES:
        for mode in candidate.modes:
            for seed in range(BOOK_SEEDS["quick"][0]):
                runs[f"{candidate.group(mode)}/seed-{seed}"] = candidate.config(mode, seed)
    return runs


def _paper() -> dict:
    return _runs([make_config("paper", mode=m, seed=0) for m in ("none", "ewc-all", "ewc-previous")])


@dataclass(frozen=True)
class ConfirmationRule:
    """How many fresh seeds confirm the quick profile's verdicts, fixed before they were trained: blocks of ``block``
    seeds from ``first`` on, one more while the joint bootstrap (``ewc.forecast``) keeps every primary verdict in
    fewer than ``keep`` of its draws, ``max_blocks`` at most. ``blocks``: where the rule stopped, set by hand
    (``confirmation.confirmation_trace`` replays it; a test checks it)."""

    first: int = 5
    block: int = 10
    keep: float = 0.95
    max_blocks: int = 3
    blocks: int = 3

    def seeds(self, blocks: int | None = None) -> range:
        """The seeds of the first ``blocks`` blocks (default: the blocks the rule reached)."""
        return range(self.first, self.first + self.block * (self.blocks if blocks is None else blocks))


CONFIRMATION_RULE = ConfirmationRule()
CONFIRMATION_SEEDS = CONFIRMATION_RULE.seeds()


def _confirmation() -> dict:
    """The report's three experiments at ``quick`` on seeds its calibration never saw: they judge its verdicts."""
    return _runs(
        [make_config("quick", mode=m, seed=s) for m in ("none", "ewc-all", "ewc-previous") for s in CONFIRMATION_SEEDS]
    )


FORGETTING_SEEDS = range(3)


def _forgetting() -> dict:
    """Two tasks without a penalty at the report's protocol, to see what sets the size of forgetting: task 1's
    accuracy after each of task 2's 30 epochs, with a fresh Adam for task 2 (the report's code) and with one Adam
    carried over from task 1. ``none_fresh-adam/seed-0`` is not declared: it is the first two tasks of the ``paper``
    suite's ``none/seed-0`` (the same task 1, task-2 permutation, shuffling and dropout stream; ``forgetting_curve``
    reads it from there)."""
    runs = {}
    for fresh in (True, False):
        for seed in FORGETTING_SEEDS:
            if fresh and seed == 0:
                continue
            group = "none_fresh-adam" if fresh else "none_carried-adam"
            runs[f"{group}/seed-{seed}"] = make_config("paper", mode="none", tasks=2, seed=seed, fresh_optimizer=fresh)
    return runs


SUITES: dict[str, tuple[str, Callable[[], dict]]] = {
    "tiny": ("four tiny MLP runs, for the tests of the suite runner", _tiny),
    "smoke": ("the book's runs at the smoke profile (seconds each)", lambda: _book("smoke")),
    "quick": ("the book's runs at the default profile, several seeds", lambda: _book("quick")),
    "report-scale": ("the report's network and optimiser on all 60,000 images, 5 epochs per task", _report_scale),
    "vandeven2019": ("van de Ven & Tolias 2019, domain-incremental permuted MNIST", _vandeven2019),
    "calibration": ("candidates for the quick profile's λ, over the book's five seeds", _calibration),
    "paper": ("the report's exact protocol, 30 epochs x 60,000 images per task", _paper),
    "confirmation": (
        "the quick profile's three experiments on fresh seeds from 5 on, to confirm its verdicts",
        _confirmation,
    ),
    "forgetting": ("the report's protocol without a penalty on 2 tasks, with a fresh or a carried Adam", _forgetting),
}


def suite(name: str) -> Suite:
    """The suite ``name`` with its runs built now.

    Raises:
        ConfigError: unknown name, or a run this version of RunConfig cannot express.
    """
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    description, build = SUITES[name]
    try:
        runs = build()
    except ConfigError as exc:
        raise ConfigError(f"suite {name} cannot be built with this version of ewc: {exc}") from None
    return Suite(name, description, runs)


def status(config: RunConfig, path: Path, current_fingerprint: dict | None = None) -> str:
    """``done`` (complete results of exactly ``config``), ``missing``, ``partial`` (an unfinished run's results) or
    ``other`` (results of another config, or not ewc results at all). Given this checkout's ``current_fingerprint``
    (``ewc.fingerprint``), complete results made by code that computes differently are ``other`` too."""
    if not path.is_file():
        return "missing"
    try:
        found = results.load_results(path, require_complete=False)
    except ConfigError:
        return "other"
    if normalize_stored(found.get("config") or {}) != config.to_dict():
        return "other"
    if not found.get("complete"):
        return "partial"
    if current_fingerprint is not None and fingerprint.differences(found.get("fingerprint"), current_fingerprint):
        return "other"
    return "done"
