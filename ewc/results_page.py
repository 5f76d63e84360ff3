"""The three results chapters (the report's Experiments 1-3), one page each, built by one helper: the runs of one
mode, its figure, its tables, its judged findings, and a Reading written from those numbers.

A chapter only names its mode (``results_page(profile, "none")``) and calls the page's methods, so the three pages
cannot drift apart, and a Reading can never contradict the tables beside it: every number it cites is computed here
from the same runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ewc import chapter, claims, plots, report_figures, stats, tables
from ewc.findings import REPORT_ACC
from ewc.markdown import signed

#: mode -> (the report's experiment, its figure)
EXPERIMENTS = {"none": ("Exp. 1", 3), "ewc-all": ("Exp. 2", 4), "ewc-previous": ("Exp. 3", 5)}


def final_accuracy(runs: dict[int, dict]) -> list[float]:
    """Each task's accuracy (%) at the end of the last task, mean over the runs (seeds)."""
    return [stats.mean(100 * r["task_matrix"][-1][k] for r in runs.values()) for k in range(_tasks(runs))]


def learned_accuracy(runs: dict[int, dict]) -> list[float]:
    """Each task's accuracy (%) right after it was learned (the task matrix's diagonal), mean over the runs."""
    return [stats.mean(100 * r["task_matrix"][k][k] for r in runs.values()) for k in range(_tasks(runs))]


def mean_acc(runs: dict[int, dict]) -> float:
    """ACC (%): the mean final accuracy over the tasks, mean over the runs."""
    return stats.mean(claims.acc(r) for r in runs.values())


def _tasks(runs: dict[int, dict]) -> int:
    return len(next(iter(runs.values()))["task_matrix"])


def report_matrix(mode: str) -> list[list[float | None]]:
    """The report's end-of-task accuracies (%) for ``mode`` (rows: after task i; columns: task k), digitized."""
    return [[None if v is None else 100 * v for v in row] for row in report_figures.end_of_task_matrix(mode)]


def verdict_sentence(judgement: claims.Judgement, seeds_label: str) -> str:
    """One sentence: the finding in the report's words, its verdict, and the numbers it rests on."""
    c, comparison = judgement.claim, judgement.comparison
    finding = c.text.split(": ", 1)[-1]
    if comparison is None:
        return f"“{finding}” cannot be judged yet: its runs are missing."
    d = comparison.diff
    if c.level:  # an accuracy level, in %
        numbers = f"{d.mean:.1f} %" + ("" if d.n < 2 else f", 95 % interval [{d.low:.1f}, {d.high:.1f}] %")
    else:
        numbers = f"{signed(d.mean)} points"
        numbers += "" if d.n < 2 else f", 95 % interval [{signed(d.low)}, {signed(d.high)}]"
    sentence = f"“{finding}” (needs {claims.size_text(c)}): **{judgement.verdict}** on the {seeds_label} ({numbers})."
    clears = d.n >= 2 and c.direction and min(c.direction * d.low, c.direction * d.high) >= c.size
    if judgement.verdict == claims.UNRESOLVED and clears and judgement.adjusted is not None:
        sentence += (
            f" Its interval clears the bar, but not once the primary findings are judged together: Holm's "
            f"adjusted p = {judgement.adjusted[0]:.3f}, above {stats.ALPHA}."
        )
    return sentence


@dataclass(frozen=True)
class ResultsPage:
    """One results chapter's content. ``runs`` maps each of the report's three modes to its runs by seed (the book's
    runs of the profile); ``judged`` the mode's experiment's judged findings, on ``seeds_label``'s runs."""

    profile: str
    mode: str
    runs: dict[str, dict[int, dict]]
    judged: list
    seeds_label: str

    @property
    def experiment(self) -> str:
        return EXPERIMENTS[self.mode][0]

    @property
    def this(self) -> dict[int, dict]:
        return self.runs[self.mode]

    def figure(self):
        """The book's version of the report's figure: per task, the mean over seeds, a ±1 sd band, each seed thin."""
        return plots.plot_seed_accuracy(list(self.this.values()))

    def final_table(self):
        """Accuracy on every task at the end of every task, mean ± sd over seeds (Markdown)."""
        return tables.seed_task_matrix(self.this)

    def metrics_table(self):
        return tables.seed_metrics_table({plots.MODE_TITLES[self.mode]: self.this})

    def claims_table(self):
        return claims.claims_table(self.judged)

    def checked_lines(self) -> list[str]:
        """What the regression check (nbval) compares: the settings, the seeds, and each finding's verdict."""
        config = chapter.config(self.profile, mode=self.mode)
        return [
            tables.describe(config),
            f"seeds: {', '.join(map(str, self.this))}",
            *claims.verdict_lines(self.judged),
        ]

    def reading(self) -> str:
        """The page's Reading, written from its numbers (Markdown)."""
        return {"none": self._reading_none, "ewc-all": self._reading_all, "ewc-previous": self._reading_previous}[
            self.mode
        ]()

    def _verdicts(self) -> str:
        return " ".join(verdict_sentence(j, self.seeds_label) for j in self.judged if j.claim.primary)

    def _reading_none(self) -> str:
        final, learned = final_accuracy(self.this), learned_accuracy(self.this)
        after2 = learned[0] - stats.mean(claims.loss_after_next(1)(r) for r in self.this.values())
        rep = report_matrix("none")
        n = len(final)
        return (
            f"Task 1 is learned to {learned[0]:.1f} % and falls to {after2:.1f} % while task 2 alone is learned, "
            f"{learned[0] - after2:.1f} points (the report's Figure 3: {rep[0][0]:.1f} → {rep[1][0]:.1f} %, "
            f"{rep[0][0] - rep[1][0]:.1f} points). It ends at {final[0]:.1f} % after task {n} (the report: "
            f"{rep[-1][0]:.1f} %; chance is 10 %). Task {n - 1}, followed by one task only, ends at "
            f"{final[n - 2]:.1f} %. ACC is {mean_acc(self.this):.1f} % (the report: "
            f"{REPORT_ACC['none']:.1f} %). {self._verdicts()}"
        )

    def _reading_all(self) -> str:
        final, learned = final_accuracy(self.this), learned_accuracy(self.this)
        rep = [v for v in report_matrix("ewc-all")[-1] if v is not None]
        n = len(final)
        return (
            f"Every task ends between {min(final):.1f} and {max(final):.1f} % (the report's Figure 4: "
            f"{min(rep):.1f} to {max(rep):.1f} %), and ACC is {mean_acc(self.this):.1f} % against "
            f"{mean_acc(self.runs['none']):.1f} % without a penalty (the report: {REPORT_ACC['ewc-all']:.1f} against "
            f"{REPORT_ACC['none']:.1f} %). {self._verdicts()} "
            + (
                f"The price is plasticity: task {n} is learned to {learned[-1]:.1f} %, task 1 to {learned[0]:.1f} %."
                if learned[-1] < learned[0] - 1
                else f"Learning is not slowed: task {n} is learned to {learned[-1]:.1f} %, task 1 to "
                f"{learned[0]:.1f} %."
            )
        )

    def _reading_previous(self) -> str:
        final, every = final_accuracy(self.this), final_accuracy(self.runs["ewc-all"])
        rep, rep_all = report_matrix("ewc-previous")[-1], report_matrix("ewc-all")[-1]
        n = len(final)
        return (
            f"Task 1 ends at {final[0]:.1f} %, {every[0] - final[0]:.1f} points below EWC on every task "
            f"({every[0]:.1f} %; the report's Figures 5 and 4: {rep[0]:.1f} against {rep_all[0]:.1f} %). Task "
            f"{n - 1}, the one this penalty protects at the end, ends at {final[n - 2]:.1f} % against "
            f"{every[n - 2]:.1f} % under EWC on every task. ACC is {mean_acc(self.this):.1f} % (the report: "
            f"{REPORT_ACC['ewc-previous']:.1f} %). {self._verdicts()}"
        )


def results_page(profile: str, mode: str) -> ResultsPage:
    """The page of ``mode``'s experiment at ``profile``: the book's runs of the three modes, and the experiment's
    findings judged as every chapter judges them (``chapter.judged_claims``)."""
    experiment = EXPERIMENTS[mode][0]
    runs = chapter.modes(profile, chapter.THREE)
    judged = claims.of_experiment(chapter.judged_claims(profile)[0], experiment)
    return ResultsPage(profile, mode, runs, judged, chapter.verdict_runs(profile)[1])


def headline(profile: str) -> str:
    """Page 1's answer before its table (Markdown): whether EWC works, from the three modes' ACC on the runs the
    report's findings are judged on (``chapter.verdict_runs``) and the verdict of its finding that EWC beats no
    penalty, and the count of verdicts on the report's primary findings in each setting (``chapter.glance_summary``)."""
    runs, seeds = chapter.verdict_runs(profile)
    judged = chapter.judged_claims(profile)[0]
    beats = next(j for j in judged if j.claim.experiment == "Exp. 2" and j.claim.a[0] == "ewc-all" and j.claim.b)
    works = beats.verdict.startswith(("holds", claims.SMALLER))
    acc = {m: mean_acc(runs[m]) for m in chapter.THREE}
    answer = "Yes" if works else "Not shown here"
    return (
        f"**Does EWC work?** {answer}: on the {profile} profile's {seeds}, the runs its findings are judged on, EWC "
        f"on every task ends with an ACC of {acc['ewc-all']:.1f} % against {acc['none']:.1f} % without a penalty, "
        f"and EWC on the previous task only with {acc['ewc-previous']:.1f} % (the report: "
        f"{REPORT_ACC['ewc-all']:.1f}, {REPORT_ACC['none']:.1f} and {REPORT_ACC['ewc-previous']:.1f} %); the "
        f"finding that EWC beats no penalty by ≥ {beats.claim.size:g} points {beats.verdict} there. "
        "**Does this book reproduce the report?** " + chapter.glance_summary(profile).data
    )
