"""The Discussion pages' tables and Readings, written from the runs' numbers so a page's words cannot drift from its
tables: the modes side by side (``modes_table``, ``modes_reading``), the λ sweep (``lambda_table``,
``lambda_reading``), the report's findings on both networks (``claims_by_network``, ``networks_reading``), how a rerun
would move the verdicts (``rerun_summary``) and the network × task-family grid (``block_reading``).

Runs are ``{seed: results dict}`` (``ewc.results``), grouped by a label: a mode (``none``, ``ewc-all``, ...) or a
network. Accuracies are printed in percent, differences in percentage points, each as the mean over the seeds given
(± their sample sd where there are several). Every function returns Markdown (``ewc.markdown``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ewc import claims, forecast, stats
from ewc.markdown import markdown, markdown_table, seeds_text
from ewc.plots import MODE_TITLES
from ewc.tables import permuted_just_learned_pct

Runs = dict[int, dict]
Metric = Callable[[dict], float]


# ---------------------------------------------------------------------------------------------------------------
# Small pieces of text


def _num(x: float) -> str:
    return f"{x:.1f}".replace("-", "−")


def _signed(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def _gap(a: float, b: float) -> float:
    """a - b as a reader computes it from the two numbers printed beside it (each rounded to 0.1)."""
    return round(a, 1) - round(b, 1)


def _lam(x: float) -> str:
    """λ as a reader reads it: 1000.0 -> '1,000', 0.01 -> '0.01'."""
    return f"{x:,.0f}" if x >= 1 and x == int(x) else f"{x:g}"


def _mean(runs: Runs, metric: Metric) -> float:
    return stats.summarize([metric(r) for r in runs.values()]).mean


def _mean_sd(runs: Runs, metric: Metric) -> str:
    return stats.mean_sd([metric(r) for r in runs.values()])


def _title(mode: str) -> str:
    return MODE_TITLES.get(mode, mode)


#: A mode's name inside a sentence (the tables use ``MODE_TITLES``).
IN_TEXT = {
    "none": "no penalty",
    "ewc-all": "EWC on every previous task",
    "ewc-previous": "EWC on the previous task only",
    "ewc-online": "online EWC",
    "l2": "the L2 pull",
}


def _named(mode: str, start: bool = False) -> str:
    name = IN_TEXT.get(mode, mode)
    return name[0].upper() + name[1:] if start else name


def task1_final(result: dict) -> float:
    """Task 1's final accuracy (%)."""
    return 100 * result["metrics"]["final"][0]


def task1_learned(result: dict) -> float:
    """Task 1's accuracy (%) right after it was learned."""
    return 100 * result["task_matrix"][0][0]


def mean_forgetting(result: dict) -> float:
    """Mean forgetting (points): each earlier task's best accuracy minus its final accuracy, averaged."""
    return 100 * result["metrics"]["mean_forgetting"]


# ---------------------------------------------------------------------------------------------------------------
# The modes side by side


MODES_COLUMNS: dict[str, Metric] = {
    "ACC (%)": claims.acc,
    "task 1 at the end (%)": task1_final,
    "just learned (%)": claims.just_learned,
}


def modes_table(runs: dict[str, Runs]):
    """One row per mode (``{mode: {seed: result}}``): its seeds, then ACC, task 1's final accuracy and the
    accuracy on each task right after learning it, each as mean ± sd over the seeds."""
    rows = [
        [
            _title(mode),
            seeds_text(r).removeprefix("seeds ").removeprefix("seed "),
            *[_mean_sd(r, m) for m in MODES_COLUMNS.values()],
        ]
        for mode, r in runs.items()
    ]
    return markdown(markdown_table(["", "seeds", *MODES_COLUMNS], rows))


def modes_reading(runs: dict[str, Runs]):
    """The Reading of the modes side by side: what no penalty does to task 1 and ACC, where the penalty with the
    highest mean ACC keeps them, every other penalty's ACC, and what the best penalty costs in accuracy on each task
    right after learning it (its plasticity). ``runs`` needs ``none`` and at least one penalty."""
    none = runs["none"]
    penalties = {m: r for m, r in runs.items() if m != "none"}
    best = max(penalties, key=lambda m: _mean(penalties[m], claims.acc))
    others = sorted((m for m in penalties if m != best), key=lambda m: -_mean(penalties[m], claims.acc))
    jl_best, jl_none = _mean(runs[best], claims.just_learned), _mean(none, claims.just_learned)
    text = (
        f"**Reading.** Without a penalty task 1 falls from {_num(_mean(none, task1_learned))} % to "
        f"{_num(_mean(none, task1_final))} % and ACC ends at {_num(_mean(none, claims.acc))} %. "
        f"{_named(best, start=True)} keeps task 1 at {_num(_mean(runs[best], task1_final))} % and ends highest, "
        f"at {_num(_mean(runs[best], claims.acc))} %"
    )
    if others:
        text += "; " + _joined([f"{_named(m)} at {_num(_mean(runs[m], claims.acc))} %" for m in others])
    if _gap(jl_best, jl_none) < 0:
        text += (
            f". The price is plasticity: a task just learned reaches {_num(jl_best)} % under {_named(best)}, "
            f"{_num(jl_none)} % without a penalty."
        )
    else:
        text += f". It costs no plasticity: a task just learned reaches {_num(jl_best)} % against {_num(jl_none)} %."
    return markdown(text)


# ---------------------------------------------------------------------------------------------------------------
# The λ sweep: one run per λ, judged against the seed spread of the repeated runs at the profile's λ


def _quiet(difference: float, noise_sd: float) -> bool:
    """Whether a difference of two single runs is within seed noise (``stats.against_noise``)."""
    return stats.against_noise(difference, noise_sd) == stats.UNRESOLVED


def lambda_table(sweep: dict[float, dict], lam: float, acc_sd: float):
    """One row per λ of ``sweep`` (``{λ: result}``, one run each): ACC, accuracy right after learning, and its
    ACC minus the ACC at the profile's ``lam`` (points), in bold when beyond seed noise (``stats.against_noise``
    with ``acc_sd``, the sd of one run's ACC over seeds at ``lam``: beyond 1.96·√2·``acc_sd``)."""
    base = claims.acc(sweep[lam])
    rows = []
    for value in sorted(sweep):
        r = sweep[value]
        d = claims.acc(r) - base
        vs = "—" if value == lam else _signed(d) if _quiet(d, acc_sd) else f"**{_signed(d)}**"
        rows.append([_lam(value), _num(claims.acc(r)), _num(claims.just_learned(r)), vs])
    bound = stats.Z975 * 2**0.5 * acc_sd
    header = ["λ", "ACC (%)", "just learned (%)", f"ACC minus λ = {_lam(lam)}'s (points; bold: beyond ±{_num(bound)})"]
    return markdown(markdown_table(header, rows))


def lambda_reading(sweep: dict[float, dict], lam: float, acc_sd: float, just_learned_sd: float, none: Runs):
    """The Reading of the λ sweep, from its numbers: the range of ACC against the same network without a penalty
    (``none``, over its seeds); how much of the gain at the profile's ``lam`` the smallest λ keeps, or that it is
    back within seed noise of no penalty; which λ differ from ``lam`` beyond seed noise (``acc_sd``, as in
    ``lambda_table``); and whether the largest λ costs plasticity (its accuracy right after learning against
    ``lam``'s, judged against ``just_learned_sd``)."""
    lams = sorted(sweep)
    acc = {v: claims.acc(sweep[v]) for v in lams}
    low, high = min(lams, key=acc.get), max(lams, key=acc.get)
    none_acc = _mean(none, claims.acc)
    text = (
        f"**Reading.** ACC runs from {_num(acc[low])} % (λ = {_lam(low)}) to {_num(acc[high])} % "
        f"(λ = {_lam(high)}), against {_num(none_acc)} % without a penalty ({seeds_text(none)}). "
    )
    smallest = lams[0]
    if stats.against_noise(acc[smallest] - none_acc, acc_sd) == stats.REPRODUCED:
        gain, kept = acc[lam] - none_acc, acc[smallest] - none_acc
        text += (
            f"Even λ = {_lam(smallest)} keeps {100 * kept / gain:.0f} % of the gain λ = {_lam(lam)} "
            f"({_num(acc[lam])} %) makes: the no-penalty end lies below this sweep. "
        )
    else:
        text += f"At λ = {_lam(smallest)} ACC is back within seed noise of no penalty. "
    beyond = [v for v in lams if v != lam and stats.against_noise(acc[v] - acc[lam], acc_sd) != stats.UNRESOLVED]
    bound = stats.Z975 * 2**0.5 * acc_sd
    if beyond:
        text += (
            f"ACC differs from λ = {_lam(lam)}'s beyond seed noise (±{_num(bound)} points) at λ = "
            + ", ".join(_lam(v) for v in beyond)
            + "; "
        )
    else:
        text += f"No λ's ACC differs from λ = {_lam(lam)}'s beyond seed noise (±{_num(bound)} points), "
    largest = lams[-1]
    jl_largest, jl_lam = claims.just_learned(sweep[largest]), claims.just_learned(sweep[lam])
    frozen = stats.against_noise(jl_largest - jl_lam, just_learned_sd, direction=-1) == stats.REPRODUCED
    text += (
        "and the stiffest penalty costs plasticity" if frozen else "and the stiffest does not freeze the network"
    ) + f": tasks just learned reach {_num(jl_largest)} % at λ = {_lam(largest)}, {_num(jl_lam)} % at λ = {_lam(lam)}."
    return markdown(text)


# ---------------------------------------------------------------------------------------------------------------
# The report's findings on two networks


def _unprefixed(j: claims.Judgement, network: str) -> str:
    return j.claim.short.removeprefix(f"{network}: ")


def claims_by_network(columns: dict[str, list[claims.Judgement]]):
    """One claims table over every claim judged on any network (``{network: judgements}``, e.g. "CNN", "MLP"; a
    claim repeated on a network carries the network's name as a prefix, ``findings.on_network``): the claim's short
    form (which states its size), its family where first judged, and per network the verdict
    (``claims.Judgement.verdict``) with the mean effect and its 95 % interval (points); "—" where a network's runs do
    not judge it. A network's header names the seeds most of its claims rest on; a cell on other seeds names its own."""
    rows: dict[str, list] = {}
    cells: dict[str, dict[str, str]] = {}
    heads = {}
    for network, judged in columns.items():
        seed_sets = [j.seeds for j in judged if j.comparison is not None]
        usual = max(set(seed_sets), key=seed_sets.count) if seed_sets else ()
        heads[network] = f"{network}, {seeds_text(usual)}" if usual else network
        for j in judged:
            key = _unprefixed(j, network)
            if key not in rows:
                rows[key] = [key, "primary" if j.claim.primary else "exploratory"]
            if j.comparison is None:
                cell = j.verdict
            else:
                d = j.comparison.diff
                cell = f"**{j.verdict}**: {_signed(d.mean)}"
                cell += "" if d.n < 2 else f" [{_signed(d.low)}, {_signed(d.high)}]"
                cell += "" if j.seeds == usual else f" ({seeds_text(j.seeds)})"
            cells.setdefault(key, {})[network] = cell
    table = [[*row, *[cells[key].get(n, "—") for n in columns]] for key, row in rows.items()]
    return markdown(markdown_table(["claim", "family", *[heads[n] for n in columns]], table, "ll" + "l" * len(columns)))


def networks_reading(runs: dict[str, dict[str, Runs]], judged: dict[str, list[claims.Judgement]]):
    """The Reading of the report's experiments on two networks (``runs``: ``{network: {mode: {seed: result}}}``,
    with ``none`` and ``ewc-all``; ``judged``: ``{network: judgements}`` as ``claims_by_network`` takes them, the
    report's findings first and in the same order): how well each network learns a task and how much of task 1 it
    keeps without a penalty, its ACC with and without EWC on every task, and on which of the report's findings the two
    networks' verdicts agree (those that differ named; the claims table gives each verdict)."""
    a, b = list(runs)
    jl = {n: _mean(runs[n]["none"], claims.just_learned) for n in runs}
    kept = {n: _mean(runs[n]["none"], task1_final) for n in runs}
    acc0 = {n: _mean(runs[n]["none"], claims.acc) for n in runs}
    acc1 = {n: _mean(runs[n]["ewc-all"], claims.acc) for n in runs}
    text = (
        f"**Reading.** Without a penalty the {b} learns a task to {_num(jl[b])} % ({a}: {_num(jl[a])} %) and keeps "
        f"task 1 at {_num(kept[b])} % ({a}: {_num(kept[a])} %), so it ends {'higher' if acc0[b] > acc0[a] else 'lower'}"
        f": ACC {_num(acc0[b])} % against {_num(acc0[a])} %; with EWC on every task, {_num(acc1[b])} % against "
        f"{_num(acc1[a])} %. "
    )
    first, second = ({_unprefixed(j, n): j.verdict for j in judged[n]} for n in (a, b))
    shared = [key for key in second if key in first]
    differ = [key for key in shared if first[key] != second[key]]
    same = len(shared) - len(differ)
    text += f"Of the report's {len(shared)} findings, {same} get{'s' * (same == 1)} the same verdict on both"
    if differ:
        text += f" and {len(differ)} differ{'s' * (len(differ) == 1)} (the claims table below)"
    return markdown(text + ".")


# ---------------------------------------------------------------------------------------------------------------
# How a rerun would move the verdicts


def rerun_summary(judgements: list[claims.Judgement], report: dict | None = None, shown: int = 0):
    """``forecast.forecast`` in two sentences: how many exploratory verdicts a rerun should change (its mean and 90 %
    range), how often it keeps every primary verdict, the ``shown`` least stable verdicts (short forms), and, given
    the last rerun check's ``report``, how many it changed and whether it passes (``forecast.passes``)."""
    f = forecast.forecast(judgements)
    if not f.draws:
        return markdown(f"Too few seeds (under {forecast.MIN_SEEDS}) to forecast how a rerun changes these verdicts.")
    n_expl = sum(1 for j in judgements if j.comparison is not None and not j.claim.primary)
    text = (
        f"A rerun should change about {f.expected:.1f} of the {n_expl} exploratory verdicts ({f.exploratory[0]} "
        f"to {f.exploratory[1]} in nine reruns of ten; a joint bootstrap over seeds)"
    )
    if f.primary_kept is not None:
        text += f" and keep every primary verdict in {100 * f.primary_kept:.0f} % of reruns"
    shaky = sorted((k, j.claim.short) for k, j in zip(f.keeps, judgements) if k is not None and k < 0.8)[:shown]
    if shaky:
        text += "; least stable: " + "; ".join(f"*{short}* ({100 * k:.0f} % kept)" for k, short in shaky)
    text += "."
    if report is not None:
        changed = forecast.changed_claims(judgements, report)
        verdict = "passes" if forecast.passes(judgements, report) else "fails"
        text += f" The last rerun check changed {len(changed)} of them; by this forecast it {verdict}."
    return markdown(text)


# ---------------------------------------------------------------------------------------------------------------
# Network × task family


@dataclass(frozen=True)
class GroupVerdict:
    """``metric`` of runs ``a`` against runs ``b``: the verdict (``stats``' words), the two means, and how it was
    reached: paired over ``seeds`` (three or more in common), else the difference of the means against a seed spread
    (``seeds`` empty)."""

    verdict: str
    mean_a: float
    mean_b: float
    seeds: tuple[int, ...]

    @property
    def paired(self) -> bool:
        return bool(self.seeds)


def group_verdict(a: Runs, b: Runs, metric: Metric, noise_sd: float, direction: int = 1) -> GroupVerdict:
    """``claims.compare_groups``'s verdict as data: paired over the common seeds when there are at least three,
    otherwise the difference of the means judged against ``noise_sd`` (``stats.against_noise``)."""
    common = tuple(sorted(set(a) & set(b)))
    mean_a, mean_b = _mean(a, metric), _mean(b, metric)
    if len(common) >= 3:
        c = stats.paired([metric(a[s]) for s in common], [metric(b[s]) for s in common], direction)
        return GroupVerdict(c.verdict, mean_a, mean_b, common)
    return GroupVerdict(stats.against_noise(mean_a - mean_b, noise_sd, direction), mean_a, mean_b, ())


def _how(v: GroupVerdict, a: Runs, b: Runs) -> str:
    if v.paired:
        return f"paired over {seeds_text(v.seeds)}"
    return f"{seeds_text(set(a) | set(b))}, judged against the seed spread of the pixel runs"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def block_reading(grid: dict[tuple[str, str, str], Runs], noise: dict[str, float], block_label: str = "blocks"):
    """The Reading of the network × task-family grid: its three questions answered from the numbers.

    ``grid``: ``{(network, family, mode): {seed: result}}`` for two networks (the convolutional one first), the
    families ``pixel`` and ``block`` and the modes ``none`` and ``ewc-all``. ``noise``: per network, the sd of one
    run's ACC over its pixel runs with EWC on every task, against which a comparison of fewer than three common seeds
    is judged, as the chapter's checked lines judge it (``group_verdict``); the accuracy right after learning is
    judged against that number's own sd over the network's pixel runs without a penalty. ``block_label`` names the
    block tasks ("7×7 blocks").

    1. Does EWC still help on block tasks? EWC on every task against no penalty (ACC), per network.
    2. Is the CNN handicapped by pixel permutations? Each network's accuracy on tasks 2..T right after learning
       them (no penalty), block against pixel; and the CNN against the MLP on pixel tasks (ACC, per mode).
    3. Which network forgets less? Mean forgetting per family without a penalty, with the ACC verdict of the
       CNN against the MLP, and the range of forgetting with EWC.
    """
    nets = list(dict.fromkeys(k[0] for k in grid))
    cnn, mlp = nets
    worst_noise = max(noise.values())

    gains = {
        n: group_verdict(grid[(n, "block", "ewc-all")], grid[(n, "block", "none")], claims.acc, noise[n]) for n in nets
    }
    verdicts = {v.verdict for v in gains.values()}
    word = (
        "Yes"
        if verdicts == {stats.REPRODUCED}
        else "Not everywhere"
        if stats.CONTRADICTED in verdicts
        else "Not resolved"
    )
    pixel_gain = {  # as a reader computes it from the two ACCs of the chapter's table
        n: _gap(_mean(grid[(n, "pixel", "ewc-all")], claims.acc), _mean(grid[(n, "pixel", "none")], claims.acc))
        for n in nets
    }
    how = _how(gains[cnn], grid[(cnn, "block", "ewc-all")], grid[(cnn, "block", "none")])
    q1 = (
        f"*Does EWC still help when tasks share local structure?* {word}: on {block_label} EWC on every task takes "
        + _joined(
            [
                f"the {n}'s ACC from {_num(v.mean_b)} to {_num(v.mean_a)} % "
                f"({_signed(_gap(v.mean_a, v.mean_b))} points: {v.verdict})"
                for n, v in gains.items()
            ]
        )
        + f", {how}. On pixel tasks it adds "
        + _joined([f"{_signed(pixel_gain[n])} points ({n})" for n in nets])
        + "."
    )

    def learned_sd(n):
        return stats.summarize([permuted_just_learned_pct(r) for r in grid[(n, "pixel", "none")].values()]).sd

    learned = {
        n: group_verdict(
            grid[(n, "block", "none")], grid[(n, "pixel", "none")], permuted_just_learned_pct, learned_sd(n)
        )
        for n in nets
    }
    worse = {n: learned[n].verdict == stats.REPRODUCED for n in nets}
    word = "Yes" if worse[cnn] and not worse[mlp] else "No" if not worse[cnn] else f"Yes, and so is the {mlp}"
    said = [
        f"{_num(learned[n].mean_b)} % on pixel permutations and {_num(learned[n].mean_a)} % on {block_label} "
        f"({'beyond' if learned[n].verdict != stats.UNRESOLVED else 'within'} seed noise)"
        for n in nets
    ]
    q2 = (
        f"*Is the {cnn} handicapped by pixel permutations?* {word}: without a penalty the {cnn} learns tasks 2 "
        f"onwards to {said[0]}, the {mlp} to {said[1]}"
    )
    who = {}
    for mode in ("none", "ewc-all"):
        a, b = grid[(cnn, "pixel", mode)], grid[(mlp, "pixel", mode)]
        v = group_verdict(a, b, claims.acc, worst_noise)
        if v.verdict == stats.CONTRADICTED:
            lead, numbers = f"the {mlp} beats the {cnn}", f"{_num(v.mean_b)} against {_num(v.mean_a)} %"
        elif v.verdict == stats.REPRODUCED:
            lead, numbers = f"the {cnn} beats the {mlp}", f"{_num(v.mean_a)} against {_num(v.mean_b)} %"
        else:
            lead, numbers = "neither network is ahead", f"{cnn} {_num(v.mean_a)} %, {mlp} {_num(v.mean_b)} %"
        where = "without a penalty" if mode == "none" else "with EWC"
        who.setdefault(lead, []).append(f"{where} (ACC {numbers}, {_how(v, a, b)})")
    q2 += ". On pixel tasks " + "; ".join(f"{lead} {' and '.join(cases)}" for lead, cases in who.items()) + "."

    parts, leaders = [], []
    for family in ("pixel", "block"):
        f = {n: _mean(grid[(n, family, "none")], mean_forgetting) for n in nets}
        less, more = sorted(nets, key=f.get)
        leaders.append(less)
        v = group_verdict(grid[(cnn, family, "none")], grid[(mlp, family, "none")], claims.acc, worst_noise)
        parts.append(
            f"on {'pixel tasks' if family == 'pixel' else block_label} the {less} forgets less "
            f"({_num(f[less])} against {_num(f[more])} points of mean forgetting; {cnn} above {mlp} in ACC: "
            f"{v.verdict})"
        )
    word = f"The {leaders[0]}" if len(set(leaders)) == 1 else "It depends on the task family"
    with_ewc = [_mean(grid[(n, fam, "ewc-all")], mean_forgetting) for n in nets for fam in ("pixel", "block")]
    q3 = (
        f"*Which network forgets less?* {word}. Without a penalty, "
        + "; ".join(parts)
        + f". With EWC on every task both forget {_num(min(with_ewc))} to {_num(max(with_ewc))} points."
    )
    return markdown(f"**Reading.**\n\n1. {q1}\n2. {q2}\n3. {q3}")
