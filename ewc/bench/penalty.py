"""``bench penalty``: the trainer's step without a penalty and with ``ewc-online`` / ``ewc-all`` at K tasks."""

from __future__ import annotations

from ewc.bench.common import (
    KS,
    batches,
    consolidate_random,
    images,
    medians,
    report,
    setup,
    timed_rounds,
    train_steps,
    trainer,
)


def bench_penalty(size: str = "full", mnist=None, ks: tuple[int, ...] = KS, all_up_to: int | None = None) -> dict:
    """Train-step time without a penalty and with ``ewc-online`` at K in ``ks`` consolidated tasks, and with
    ``ewc-all`` at the K up to ``all_up_to`` (default: every K; random non-negative Fishers and anchors).

    Steady state: a round is ``penalty_steps`` compiled steps (as many images as a round of ``bench train``), after a
    warm-up round, so that a round's fixed costs (the first call's dispatch, the final wait) weigh little. One K at a
    time: no penalty, online and per-task sum at K are interleaved in random order; ``step_ms_none`` is the median
    over the no-penalty rounds of every K. A K's trainers are dropped before the next K's are built, so memory
    follows the largest K timed with ``ewc-all``: each of its consolidated tasks holds a Fisher and an anchor, two
    float32 arrays the size of the network.

    Returns the JSON dict: ``step_ms_none``, ``step_ms_online_k{K}``, ``step_ms_all_k{K}`` (ms per compiled train
    step), ``ratio_online_k{K}`` / ``ratio_all_k{K}`` (= step_ms_... / step_ms_none); plus the run's facts, ``targets``
    and ``meets_targets``.
    """
    s, config, mnist, load = setup(size, mnist)
    x, y = images(mnist, s.penalty_steps * config.batch_size)
    steps = batches(x, y, config.batch_size)
    none = trainer(config)
    rounds = {"none": []}
    for k in ks:  # ewc-all holds tasks - 1 slots, so it is built for k + 1 tasks
        group = {f"online_k{k}": trainer(config, "ewc-online")}
        if all_up_to is None or k <= all_up_to:
            group[f"all_k{k}"] = trainer(config, "ewc-all", tasks=k + 1)
        consolidate_random({t: k for t in group.values()})
        variants = {"none": none} | group
        timed = timed_rounds({name: _steps_of(t, steps) for name, t in variants.items()}, s.rounds)
        rounds["none"] += timed.pop("none")
        rounds.update(timed)
        del group, variants
    ms = {name: 1000 * sec / len(steps) for name, sec in medians(rounds).items()}
    figures = {f"step_ms_{name}": v for name, v in ms.items()}
    figures.update({f"ratio_{name}": v / ms["none"] for name, v in ms.items() if name != "none"})
    all_ks = [k for k in ks if all_up_to is None or k <= all_up_to]
    facts = {"steps_per_round": len(steps), "ks": list(ks), "all_ks": all_ks}
    return report("penalty", size, config, figures, facts, load, rounds)


def _steps_of(t, steps):
    return lambda: train_steps(t, steps)
