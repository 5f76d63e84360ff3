"""What the book's chapters call: the profile's configuration, and the runs its suite declares, loaded and checked.

Chapters never train. ``python -m ewc book`` (or ``python -m ewc suite PROFILE``) trains the profile's suite first;
a chapter then reloads those results files and fails loudly, naming the command that makes them, when one is missing,
unfinished, made from another configuration than its suite declares, or made by code whose science fingerprint
(``ewc.fingerprint``) differs from this checkout's. The fingerprint compared against is the record the runner made
(``python -m ewc book``, ``python -m ewc fingerprint``); a chapter never probes it itself.
"""

from __future__ import annotations

import json
import re
from functools import cache

from ewc import claims, findings, fingerprint, plots, results, suites
from ewc.config import RunConfig, make_config, normalize_stored
from ewc.cost_tables import run_minutes
from ewc.errors import EwcError
from ewc.markdown import markdown, markdown_table, seeds_text, signed
from ewc.paths import bench_path, rerun_check_path

BOOK_PROFILES = ("smoke", "quick")


class StaleResultsError(EwcError):
    """A results file the chapter needs is missing or does not belong to this code and configuration."""


def config(profile: str, **overrides) -> RunConfig:
    """The profile's configuration (``ewc/profiles/<profile>.yaml``), with ``overrides``."""
    return make_config(profile, **overrides)


@cache
def book_suite(profile: str) -> suites.Suite:
    if profile not in BOOK_PROFILES:
        raise EwcError(
            f"the book renders the profiles {', '.join(BOOK_PROFILES)}, not {profile!r}; "
            f"the {profile!r} runs are a suite: python -m ewc suite {profile}"
        )
    return suites.suite(profile)


def _remake(profile: str) -> str:
    return f"python -m ewc book --profile {profile}" if profile != "quick" else "python -m ewc book"


def load_run(suite: suites.Suite, name: str) -> dict:
    """The complete results of run ``name`` of ``suite``, checked against its declared config and this code."""
    path = suite.path(name)
    remake = _remake(suite.name) if suite.name in BOOK_PROFILES else f"python -m ewc suite {suite.name}"
    if not path.is_file():
        raise StaleResultsError(f"{path} is missing; make it with: {remake}")
    result = results.load_results(path, require_complete=False)
    if not result.get("complete"):
        raise StaleResultsError(f"{path} is from an unfinished run; finish it with: {remake}")
    declared = suite.runs[name].to_dict()
    stored = normalize_stored(result["config"])
    if stored != declared:
        changed = sorted(k for k in declared if stored.get(k) != declared[k])
        raise StaleResultsError(
            f"{path} was made with other parameters ({', '.join(changed)}) than its suite "
            f"declares; remake it with: {remake}"
        )
    diffs = fingerprint.differences(result.get("fingerprint"), fingerprint.stored_fingerprint())
    if diffs:
        raise StaleResultsError(
            f"{path} was made by code that computes differently ({', '.join(diffs)}); remake it with: {remake}"
        )
    return result


def seed_runs(profile: str, group: str) -> dict[int, dict]:
    """Every run ``<group>/seed-<k>`` of the profile's suite, by seed, e.g. ``seed_runs("quick", "ewc-all")``."""
    suite = book_suite(profile)
    pattern = re.compile(re.escape(group) + r"/seed-(\d+)$")
    found = {int(m.group(1)): name for name in suite.runs if (m := pattern.match(name))}
    if not found:
        raise EwcError(f"suite {profile} declares no runs {group}/seed-*")
    return {seed: load_run(suite, name) for seed, name in sorted(found.items())}


def modes(profile: str, labels) -> dict[str, dict[int, dict]]:
    """``seed_runs`` for several groups at once: ``{group: {seed: result}}``."""
    return {label: seed_runs(profile, label) for label in labels}


#: The book's runs on the profile's own network and tasks, by label: the report's three experiments, online EWC and
#: the L2 pull (whose λ is its own, see the Performance analysis chapter).
THREE = ("none", "ewc-all", "ewc-previous")  # the report's three experiments
MAIN_GROUPS = {
    "none": "none",
    "ewc-all": "ewc-all",
    "ewc-previous": "ewc-previous",
    "ewc-online": "ewc-online",
    "l2": f"l2_lam-{suites.L2_LAM:g}",
}


def book_runs(profile: str, groups: dict[str, str] | None = None) -> dict[str, dict[int, dict]]:
    """``{label: {seed: result}}`` for ``groups`` (label -> run group; default ``MAIN_GROUPS``)."""
    return {label: seed_runs(profile, group) for label, group in (groups or MAIN_GROUPS).items()}


def confirmation_blocks() -> tuple[dict[str, dict[int, dict]], int]:
    """The ``confirmation`` suite's complete runs (``{mode: {seed: result}}``) and how many of the stopping rule's
    blocks (``suites.CONFIRMATION_RULE``) they fill, counted from the first: a block counts once all three
    experiments of all its seeds are in, and only after the blocks before it."""
    confirmed, _ = suite_progress("confirmation")
    rule = suites.CONFIRMATION_RULE
    full = 0
    while full < rule.blocks and all(s in confirmed.get(m, {}) for m in THREE for s in rule.seeds(full + 1)):
        full += 1
    return confirmed, full


def _first_blocks(confirmed: dict[str, dict[int, dict]], blocks: int) -> dict[str, dict[int, dict]]:
    seeds = suites.CONFIRMATION_RULE.seeds(blocks)
    return {m: {s: confirmed[m][s] for s in seeds} for m in THREE}


def verdict_runs(profile: str, blocks: int | None = None) -> tuple[dict[str, dict[int, dict]], str]:
    """The runs the profile's verdicts on the report's findings come from, and what they are: at ``quick``, the
    ``confirmation`` suite's fresh seeds, as many whole blocks of its stopping rule as are trained (or the first
    ``blocks``); with none trained, and at other profiles, the book's own runs (the quick profile was calibrated on
    seeds 0-4, so those cannot confirm it)."""
    if profile == "quick":
        confirmed, full = confirmation_blocks()
        if full:
            runs = _first_blocks(confirmed, full if blocks is None else min(blocks, full))
            return runs, seeds_text(sorted(runs["none"]), "confirmation seed")
    runs = book_runs(profile, {m: m for m in THREE})
    seeds = sorted(runs["none"])
    what = "calibration seed" if profile == "quick" else "seed"
    return runs, seeds_text(seeds, what) if seeds else what + "s"


def judged_claims(profile: str, blocks: int | None = None) -> tuple[list, list]:
    """The book's claims judged on the profile's runs: the report's findings (the primary family) on
    ``verdict_runs`` (``blocks``: its first blocks of confirmation seeds), and the book's comparisons on the book's
    runs; and the report's findings repeated on the other network (exploratory, ``findings.on_network``). The
    chapters show them; the rerun check forecasts and judges them."""
    c = config(profile)
    runs, _ = verdict_runs(profile, blocks)
    main = claims.judge_all(findings.report_findings(c.tasks), runs)
    main += claims.judge_all(findings.book_comparisons(), book_runs(profile))
    other = "mlp" if c.arch == "cnn" else "cnn"
    groups = {m: group(profile, m, arch=other) for m in THREE}
    repeated = claims.judge_all(
        findings.on_network(findings.report_findings(c.tasks), other.upper()), book_runs(profile, groups)
    )
    return main, repeated


SHORT_VERDICTS = {  # a table cell's word for each verdict (the chapters print them in full)
    "holds at the report's size": "holds",
    "same direction, smaller than the report": "smaller",
    "not resolved": "not resolved",
    "contradicted": "contradicted",
    "no runs": "not run yet",
}


def glance_columns(profile: str) -> dict[str, list]:
    """The report's findings (``findings.report_findings``) judged wherever the book has runs, one list of
    judgements per column: the profile's runs, the ``report-scale`` suite at λ 200, the report's protocol (the
    ``paper`` suite, seed 0) and the profile's runs of the other network."""
    report = findings.report_findings(min(config(profile).tasks, 5))
    main, repeated = judged_claims(profile)
    label = f"{profile} profile, {verdict_runs(profile)[1]}"
    scale, _ = suite_progress("report-scale")
    paper, _ = suite_progress("paper")
    return {
        label: main[: len(report)],
        "report-scale, 2 seeds": claims.judge_all(report, {m: scale.get(m, {}) for m in THREE}),
        "the report's protocol, seed 0": claims.judge_all(report, {m: paper.get(m, {}) for m in THREE}),
        _network_label(profile, repeated[0].seeds): repeated[: len(report)],
    }


def _network_label(profile: str, seeds) -> str:
    other = "MLP" if config(profile).arch == "cnn" else "CNN"
    return f"{other}, {seeds_text(seeds)}" if seeds else other


def _cell(j) -> str:
    """'holds (+29.6)': the verdict's short word and the mean effect (points; a level in %)."""
    if j.comparison is None:
        return "not run yet"
    word = SHORT_VERDICTS.get(j.verdict.removesuffix(" (one run)"), j.verdict)
    mean = sum(j.effects) / len(j.effects)
    value = f"{mean:.1f} %" if j.claim.level else signed(mean)
    return f"{word} ({value})"


def glance_summary(profile: str) -> str:
    """Page 1's answer in one paragraph, counted from ``glance_columns``: per column, how many of the report's primary
    findings hold at the report's size, are smaller, are not resolved or are contradicted (Markdown)."""
    columns = glance_columns(profile)
    primary = [i for i, c in enumerate(findings.report_findings(5)) if c.primary]  # the MLP's repeats: exploratory
    parts = []
    for name, judged in columns.items():
        rows = [judged[i] for i in primary]
        if all(j.comparison is None for j in rows):
            parts.append(f"*{name}*: not run yet")
            continue
        counts: dict[str, int] = {}
        for j in rows:
            word = SHORT_VERDICTS.get(j.verdict.removesuffix(" (one run)"), j.verdict)
            counts[word] = counts.get(word, 0) + 1
        order = ["holds", "smaller", "not resolved", "contradicted", "not run yet"]
        parts.append(f"*{name}*: " + ", ".join(f"{counts[w]} {w}" for w in order if w in counts))
    return markdown(
        f"Of the report's {len(primary)} primary findings, judged at the size the report states: "
        + "; ".join(parts)
        + "."
    )


def findings_at_a_glance(profile: str):
    """One row per finding of the report: the report's value, the verdict with the mean effect (points, in the
    claimed direction) in each column of ``glance_columns``, and where the finding holds at the report's size."""
    columns = glance_columns(profile)
    names = list(columns)
    rows = []
    for i, first in enumerate(columns[names[0]]):
        c = first.claim
        where = [n.split(",")[0] for n in names if columns[n][i].verdict.startswith("holds")]
        rows.append(
            [
                f"{c.short}{'' if c.primary else ' (exploratory)'}",
                c.report,
                *[_cell(columns[n][i]) for n in names],
                ("holds: " + ", ".join(where)) if where else "holds nowhere yet",
            ]
        )
    header = ["the report's finding", "the report", *names, "at the report's size"]
    return markdown(markdown_table(header, rows, "ll" + "l" * len(names) + "l"))


def bench(profile: str, name: str) -> dict:
    """The stored measurement ``results/<profile>/bench-<name>-<size>.json`` that the book runner made (size
    ``smoke`` for the smoke profile, else ``full``)."""
    path = bench_path(profile, name)
    if not path.is_file():
        raise StaleResultsError(f"{path} is missing; make it with: {_remake(profile)}")
    return json.loads(path.read_text())


def group(profile: str, mode: str, **overrides) -> str:
    """The name of the group of runs of ``mode`` with ``overrides`` at ``profile`` (e.g. ``none_arch-mlp``)."""
    return suites.group_name(make_config(profile, mode=mode, **overrides))


def lambda_sweep(profile: str) -> dict[float, dict]:
    """EWC on every task with the MLP at each multiple of the profile's λ (seed 0): ``{λ: result}``."""
    lam = config(profile).lam
    return {
        lam * f: seed_runs(profile, group(profile, "ewc-all", arch="mlp", lam=lam * f))[0]
        for f in suites.BOOK_LAMBDA_FACTORS
    }


def suite_progress(name: str) -> tuple[dict[str, dict[int, dict]], list[str]]:
    """The complete, checked runs of suite ``name`` by group and seed, and the names of the runs still missing
    (a reference suite is long: its chapter shows what exists and says which command makes the rest)."""
    suite = suites.suite(name)
    groups: dict[str, dict[int, dict]] = {}
    missing = []
    current = fingerprint.stored_fingerprint()
    for run, config in suite.runs.items():
        path = suite.path(run)
        if suites.status(config, path, current) != "done":
            missing.append(run)
            continue
        group, seed = suites.split_run_name(run)
        groups.setdefault(group, {})[seed] = results.load_results(path)
    return groups, missing


def suite_lambda_grid(
    name: str, runs: dict[str, dict[int, dict]], mode: str, seed: int = 0
) -> dict[float, dict | None]:
    """``{λ: result}`` of every run suite ``name`` declares for ``mode`` at ``seed`` (its λ grid, with any chosen λ
    run at that seed), taken from its complete ``runs`` (``suite_progress``); None for a run not made yet. The
    suite's own run names say where each λ's run lives, so no chapter repeats its naming rule."""
    grid = {}
    for run, config in suites.suite(name).runs.items():
        if config.mode == mode and config.seed == seed:
            grid[config.lam] = runs.get(suites.split_run_name(run)[0], {}).get(seed)
    return grid


def suite_runs_at(name: str, runs: dict[str, dict[int, dict]], mode: str, lam: float) -> dict[int, dict]:
    """``{seed: result}`` of the complete ``runs`` (``suite_progress``) that suite ``name`` declares for ``mode`` at
    ``lam``, over every seed. The suite's own run names say where each seed's run lives (report-scale names its
    λ-200 runs without λ), so no chapter repeats its naming rule."""
    seeds = {}
    for run, config in suites.suite(name).runs.items():
        group, seed = suites.split_run_name(run)
        if config.mode == mode and config.lam == lam and seed in runs.get(group, {}):
            seeds[seed] = runs[group][seed]
    return seeds


def calibration_candidates() -> tuple[dict[str, dict[str, dict[int, dict]]], list[str]]:
    """The ``calibration`` suite's runs as ``{candidate label: {mode: {seed: result}}}`` (no penalty, which does not
    depend on λ, shared by the candidates with the same images), and the names of its runs still missing."""
    groups, missing = suite_progress("calibration")
    candidates = {}
    for candidate in suites.CALIBRATION_CANDIDATES:
        modes = ("none", *(m for m in ("ewc-all", "ewc-previous") if m in candidate.modes))
        candidates[candidate.label] = {m: groups.get(candidate.group(m), {}) for m in modes}
    return candidates, missing


def calibration_choice(profile: str = "quick") -> str | None:
    """The label of the ``calibration`` candidate that the profile is (its runs are that candidate's runs, seed for
    seed), or None when the profile is none of them."""
    for candidate in suites.CALIBRATION_CANDIDATES:
        if all(candidate.config(m, s) == config(profile, mode=m, seed=s) for m in candidate.modes for s in (0, 1)):
            return candidate.label
    return None


def rerun_check(profile: str, current_only: bool = False) -> dict | None:
    """The last ``--check-against-published`` report of ``profile``, or None. Its ``current`` says whether it checked
    the profile's present values (a report made before the profile changed, or one too old to record them, did
    not); with ``current_only`` such a report is None."""
    path = rerun_check_path(profile)
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    report["current"] = normalize_stored(report.get("profile_config")) == config(profile).to_dict()
    return None if current_only and not report["current"] else report


#: How the reader is told a run's settings where they differ from its profile's (``run_label``).
FIELD_WORDS = {
    "lam": lambda v: f"λ = {v:g}",
    "arch": lambda v: "MLP" if v == "mlp" else "CNN",
    "permutation": lambda v: f"{v} permutations",
    "fresh_optimizer": lambda v: "a fresh Adam per task" if v else "one Adam carried across tasks",
    "tasks": lambda v: f"{v} tasks",
    "epochs": lambda v: f"{v} epochs per task",
    "train_size": lambda v: f"{v:,} training images",
    "gamma": lambda v: f"γ = {v:g}",
}


def run_label(suite_name: str, run: str) -> str:
    """A run of a suite in the reader's words: 'No penalty, one Adam carried across tasks, seed 1' (its mode, each
    setting in which the suite's runs differ, its seed), never its file name."""
    configs = [c.to_dict() for c in suites.suite(suite_name).runs.values()]
    config = suites.suite(suite_name).runs[run].to_dict()
    moot = {"lam", "gamma", "fisher_samples", "fisher_kind"} if config["mode"] == "none" else set()  # no penalty
    varying = [
        f for f in config if f not in ("profile", "mode", "seed", *moot) and len({str(c[f]) for c in configs}) > 1
    ]
    words = [plots.MODE_TITLES.get(config["mode"], config["mode"])]
    words += [FIELD_WORDS.get(f, lambda v, f=f: f"{f.replace('_', ' ')} {v}")(config[f]) for f in varying]
    return ", ".join(words + [f"seed {config['seed']}"])


def suite_status(name: str, missing: list[str], runs: dict[str, dict[int, dict]] | None = None):
    """A line saying how much of suite ``name`` has been run, and the command that runs the rest; with its complete
    ``runs`` (``suite_progress``), also how long each took where it was trained (Markdown)."""
    total = len(suites.suite(name).runs)
    cost = f" ({run_minutes(runs)})" if runs else ""
    if not missing:
        return markdown(f"All {total} runs of suite `{name}` are complete{cost}.")
    return markdown(
        f"**{total - len(missing)} of {total} runs of suite `{name}` are complete**{cost}; the rest are made by "
        f"`python -m ewc suite {name}` (resumable; `--dry-run` lists them with a time estimate). Missing: "
        + "; ".join(_inside_a_sentence(run_label(name, m)) for m in missing[:12])
        + (" …" if len(missing) > 12 else ".")
    )


def _inside_a_sentence(label: str) -> str:
    """``label`` with its capital dropped, for the middle of a sentence ('no penalty, seed 1'); an acronym keeps it
    ('EWC on every task, seed 0')."""
    return label[0].lower() + label[1:] if label[1:2].islower() else label
