"""The confirmation seeds' stopping rule (``suites.CONFIRMATION_RULE``) replayed on the results files, and the
Experiments chapter's sentence on which seeds judge the report's findings."""

from __future__ import annotations

from ewc import chapter, forecast, suites
from ewc.markdown import markdown


def confirmation_trace(profile: str = "quick") -> list[tuple[range, float | None]]:
    """The stopping rule replayed on the results files: for each whole block trained, the seeds up to it and the
    share of the joint bootstrap's draws (``forecast.forecast`` over ``judged_claims``, as the Discussion's rerun
    sentence computes it) that keep every primary verdict."""
    _, full = chapter.confirmation_blocks()
    trace = []
    for k in range(1, full + 1):
        main, repeated = chapter.judged_claims(profile, blocks=k)
        trace.append((suites.CONFIRMATION_RULE.seeds(k), forecast.forecast(main + repeated).primary_kept))
    return trace


def _seed_range(seeds) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def seed_plan(profile: str):
    """Which seeds the report's findings are judged on, in Markdown (``chapter.verdict_runs``'s rule): at ``quick``, the
    confirmation seeds, with the stopping rule that set their number and its trace (``confirmation_trace``), and
    which seeds judge until all are trained; at another profile, its own seeds."""
    own = _seed_range(range(suites.BOOK_SEEDS[profile][0]))
    if profile != "quick":
        return markdown(f"At the `{profile}` profile the report's findings are judged on its seeds {own}.")
    rule = suites.CONFIRMATION_RULE
    total = len(suites.suite("confirmation").runs)
    _, missing = chapter.suite_progress("confirmation")
    trace = confirmation_trace(profile)
    fresh, done = _seed_range(suites.CONFIRMATION_SEEDS), total - len(missing)
    if not missing:
        text = f"The report's findings are judged on seeds {fresh}, which the calibration on seeds {own} never saw."
    elif trace:
        text = (
            f"The report's findings are judged on seeds {_seed_range(trace[-1][0])}, which the calibration on seeds "
            f"{own} never saw ({done} of the {total} runs of seeds {fresh} are trained)."
        )
    else:
        text = (
            f"The report's findings will be judged on seeds {fresh}, which the calibration on seeds {own} never saw, "
            f"once their {total} runs are trained ({done} so far); until then on seeds {own}."
        )
    text += (
        f" Seeds {_seed_range(rule.seeds(1))} came first; after a rerun changed a primary verdict, a rule fixed "
        f"before more were trained added blocks of {rule.block} until a rerun is forecast (Discussion) to keep every "
        f"primary verdict in {100 * rule.keep:.0f} % of draws, {rule.max_blocks} at most: it weighs stability, not "
        "direction."
    )
    kept = [f"{100 * kept:.0f} % on {_seed_range(seeds)}" for seeds, kept in trace if kept is not None]
    if kept:
        text += " A rerun keeps them all in " + ", ".join(kept).replace(" % on ", " % of draws on seeds ", 1) + "."
    if not missing and trace and trace[-1][1] is not None and trace[-1][1] < rule.keep:
        text += (
            f" The cap stopped it: about {100 * (1 - trace[-1][1]):.0f} % of reruns should change a primary verdict."
        )
    return markdown(text)
