"""The Reading of the network × task-family grid (the Discussion's block page): does EWC still help on block
permutations, is the CNN handicapped by pixel permutations, and which network forgets less, each answered from the
runs' numbers (``block_reading``), with the verdicts as data (``group_verdict``).

Runs are ``{seed: results dict}`` (``ewc.results``). Accuracies are printed in percent, differences in percentage
points. Every function returns Markdown (``ewc.markdown``) or data.
"""

from __future__ import annotations

from dataclasses import dataclass

from ewc import claims, stats
from ewc.claims import Metric, seed_mean
from ewc.markdown import joined, markdown, number, printed_gap, seeds_text, signed
from ewc.tables import permuted_just_learned_pct

Runs = dict[int, dict]


def mean_forgetting(result: dict) -> float:
    """Mean forgetting (points): each earlier task's best accuracy minus its final accuracy, averaged."""
    return 100 * result["metrics"]["mean_forgetting"]


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
    mean_a, mean_b = seed_mean(a, metric), seed_mean(b, metric)
    if len(common) >= 3:
        c = stats.paired([metric(a[s]) for s in common], [metric(b[s]) for s in common], direction)
        return GroupVerdict(c.verdict, mean_a, mean_b, common)
    return GroupVerdict(stats.against_noise(mean_a - mean_b, noise_sd, direction), mean_a, mean_b, ())


def _how(v: GroupVerdict, a: Runs, b: Runs) -> str:
    if v.paired:
        return f"paired over {seeds_text(v.seeds)}"
    return f"{seeds_text(set(a) | set(b))}, judged against the seed spread of the pixel runs"


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
        n: printed_gap(
            seed_mean(grid[(n, "pixel", "ewc-all")], claims.acc), seed_mean(grid[(n, "pixel", "none")], claims.acc)
        )
        for n in nets
    }
    how = _how(gains[cnn], grid[(cnn, "block", "ewc-all")], grid[(cnn, "block", "none")])
    q1 = (
        f"*Does EWC still help when tasks share local structure?* {word}: on {block_label} EWC on every task takes "
        + joined(
            [
                f"the {n}'s ACC from {number(v.mean_b)} to {number(v.mean_a)} % "
                f"({signed(printed_gap(v.mean_a, v.mean_b))} points: {v.verdict})"
                for n, v in gains.items()
            ]
        )
        + f", {how}. On pixel tasks it adds "
        + joined([f"{signed(pixel_gain[n])} points ({n})" for n in nets])
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
        f"{number(learned[n].mean_b)} % on pixel permutations and {number(learned[n].mean_a)} % on {block_label} "
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
            lead, numbers = f"the {mlp} beats the {cnn}", f"{number(v.mean_b)} against {number(v.mean_a)} %"
        elif v.verdict == stats.REPRODUCED:
            lead, numbers = f"the {cnn} beats the {mlp}", f"{number(v.mean_a)} against {number(v.mean_b)} %"
        else:
            lead, numbers = "neither network is ahead", f"{cnn} {number(v.mean_a)} %, {mlp} {number(v.mean_b)} %"
        where = "without a penalty" if mode == "none" else "with EWC"
        who.setdefault(lead, []).append(f"{where} (ACC {numbers}, {_how(v, a, b)})")
    q2 += ". On pixel tasks " + "; ".join(f"{lead} {' and '.join(cases)}" for lead, cases in who.items()) + "."

    parts, leaders = [], []
    for family in ("pixel", "block"):
        f = {n: seed_mean(grid[(n, family, "none")], mean_forgetting) for n in nets}
        less, more = sorted(nets, key=f.get)
        leaders.append(less)
        v = group_verdict(grid[(cnn, family, "none")], grid[(mlp, family, "none")], claims.acc, worst_noise)
        parts.append(
            f"on {'pixel tasks' if family == 'pixel' else block_label} the {less} forgets less "
            f"({number(f[less])} against {number(f[more])} points of mean forgetting; {cnn} above {mlp} in ACC: "
            f"{v.verdict})"
        )
    word = f"The {leaders[0]}" if len(set(leaders)) == 1 else "It depends on the task family"
    with_ewc = [seed_mean(grid[(n, fam, "ewc-all")], mean_forgetting) for n in nets for fam in ("pixel", "block")]
    q3 = (
        f"*Which network forgets less?* {word}. Without a penalty, "
        + "; ".join(parts)
        + f". With EWC on every task both forget {number(min(with_ewc))} to {number(max(with_ewc))} points."
    )
    return markdown(f"**Reading.**\n\n1. {q1}\n2. {q2}\n3. {q3}")
