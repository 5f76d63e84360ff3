"""The Discussion pages' tables and Readings, written from the runs' numbers so a page's words cannot drift from its
tables: the modes side by side (``modes_table``, ``modes_reading``), the λ sweep (``lambda_table``,
``lambda_reading``), the report's findings on both networks (``claims_by_network``, ``networks_reading``) and how a
rerun would move the verdicts (``rerun_summary``); the network × task-family grid is ``ewc.block_reading``'s.

Runs are ``{seed: results dict}`` (``ewc.results``), grouped by a label: a mode (``none``, ``ewc-all``, ...) or a
network. Accuracies are printed in percent, differences in percentage points, each as the mean over the seeds given
(± their sample sd where there are several). Every function returns Markdown (``ewc.markdown``).
"""

from __future__ import annotations

from collections.abc import Callable

from ewc import claims, forecast, stats
from ewc.claims import seed_mean
from ewc.markdown import joined, markdown, markdown_table, number, printed_gap, seeds_text, signed
from ewc.plots import MODE_TITLES

Runs = dict[int, dict]
Metric = Callable[[dict], float]


# ---------------------------------------------------------------------------------------------------------------
# Small pieces of text


def _lam(x: float) -> str:
    """λ as a reader reads it: 1000.0 -> '1,000', 0.01 -> '0.01'."""
    return f"{x:,.0f}" if x >= 1 and x == int(x) else f"{x:g}"


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
    best = max(penalties, key=lambda m: seed_mean(penalties[m], claims.acc))
    others = sorted((m for m in penalties if m != best), key=lambda m: -seed_mean(penalties[m], claims.acc))
    jl_best, jl_none = seed_mean(runs[best], claims.just_learned), seed_mean(none, claims.just_learned)
    text = (
        f"**Reading.** Without a penalty task 1 falls from {number(seed_mean(none, task1_learned))} % to "
        f"{number(seed_mean(none, task1_final))} % and ACC ends at {number(seed_mean(none, claims.acc))} %. "
        f"{_named(best, start=True)} keeps task 1 at {number(seed_mean(runs[best], task1_final))} % and ends highest, "
        f"at {number(seed_mean(runs[best], claims.acc))} %"
    )
    if others:
        text += "; " + joined([f"{_named(m)} at {number(seed_mean(runs[m], claims.acc))} %" for m in others])
    if printed_gap(jl_best, jl_none) < 0:
        text += (
            f". The price is plasticity: a task just learned reaches {number(jl_best)} % under {_named(best)}, "
            f"{number(jl_none)} % without a penalty."
        )
    else:
        text += (
            f". It costs no plasticity: a task just learned reaches {number(jl_best)} % against {number(jl_none)} %."
        )
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
        vs = "—" if value == lam else signed(d) if _quiet(d, acc_sd) else f"**{signed(d)}**"
        rows.append([_lam(value), number(claims.acc(r)), number(claims.just_learned(r)), vs])
    bound = stats.Z975 * 2**0.5 * acc_sd
    header = [
        "λ",
        "ACC (%)",
        "just learned (%)",
        f"ACC minus λ = {_lam(lam)}'s (points; bold: beyond ±{number(bound)})",
    ]
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
    none_acc = seed_mean(none, claims.acc)
    text = (
        f"**Reading.** ACC runs from {number(acc[low])} % (λ = {_lam(low)}) to {number(acc[high])} % "
        f"(λ = {_lam(high)}), against {number(none_acc)} % without a penalty ({seeds_text(none)}). "
    )
    smallest = lams[0]
    if stats.against_noise(acc[smallest] - none_acc, acc_sd) == stats.REPRODUCED:
        gain, kept = acc[lam] - none_acc, acc[smallest] - none_acc
        text += (
            f"Even λ = {_lam(smallest)} keeps {100 * kept / gain:.0f} % of the gain λ = {_lam(lam)} "
            f"({number(acc[lam])} %) makes: the no-penalty end lies below this sweep. "
        )
    else:
        text += f"At λ = {_lam(smallest)} ACC is back within seed noise of no penalty. "
    beyond = [v for v in lams if v != lam and stats.against_noise(acc[v] - acc[lam], acc_sd) != stats.UNRESOLVED]
    bound = stats.Z975 * 2**0.5 * acc_sd
    if beyond:
        text += (
            f"ACC differs from λ = {_lam(lam)}'s beyond seed noise (±{number(bound)} points) at λ = "
            + ", ".join(_lam(v) for v in beyond)
            + "; "
        )
    else:
        text += f"No λ's ACC differs from λ = {_lam(lam)}'s beyond seed noise (±{number(bound)} points), "
    largest = lams[-1]
    jl_largest, jl_lam = claims.just_learned(sweep[largest]), claims.just_learned(sweep[lam])
    frozen = stats.against_noise(jl_largest - jl_lam, just_learned_sd, direction=-1) == stats.REPRODUCED
    text += (
        ("and the stiffest penalty costs plasticity" if frozen else "and the stiffest does not freeze the network")
        + f": tasks just learned reach {number(jl_largest)} % at λ = {_lam(largest)}, "
        + f"{number(jl_lam)} % at λ = {_lam(lam)}."
    )
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
                cell = f"**{j.verdict}**: {signed(d.mean)}"
                cell += "" if d.n < 2 else f" [{signed(d.low)}, {signed(d.high)}]"
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
    jl = {n: seed_mean(runs[n]["none"], claims.just_learned) for n in runs}
    kept = {n: seed_mean(runs[n]["none"], task1_final) for n in runs}
    acc0 = {n: seed_mean(runs[n]["none"], claims.acc) for n in runs}
    acc1 = {n: seed_mean(runs[n]["ewc-all"], claims.acc) for n in runs}
    text = (
        f"**Reading.** Without a penalty the {b} learns a task to {number(jl[b])} % ({a}: {number(jl[a])} %) and "
        f"keeps task 1 at {number(kept[b])} % ({a}: {number(kept[a])} %), so it ends "
        f"{'higher' if acc0[b] > acc0[a] else 'lower'}: ACC {number(acc0[b])} % against {number(acc0[a])} %; "
        f"with EWC on every task, {number(acc1[b])} % against {number(acc1[a])} %. "
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
    the last rerun check's ``report``, how many it changed and whether it passes (``forecast.judge_rerun``)."""
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
        judged = forecast.judge_rerun(judgements, report.get("line_differences", []), f)
        primary, exploratory = len(judged["primary_changed"]), len(judged["exploratory_changed"])
        verdict = "passes" if judged["verdicts_pass"] else "fails"
        short = {j.claim.text: j.claim.short for j in judgements}
        named = "; ".join(f"*{short.get(t, t)}*" for t in judged["primary_changed"])
        text += (
            f" The last rerun check changed {exploratory} exploratory and {primary} primary verdict"
            f"{'s' * (primary != 1)}{f' ({named})' if named else ''}: it {verdict}."
        )
        if report.get("means"):
            inside = sum(r["inside"] for r in report["means"])
            total = len(report["means"])
            text += f" {inside} of its {total} group means lay inside their rerun intervals."
    return markdown(text)
