"""What the rerun check trains afresh and how it gathers the means it compares (the check itself takes hours: the
smoke book's test runs its pieces on the smoke profile)."""

import json

import pytest

from ewc import chapter, rerun


def _confirmed(seeds, without=()):
    return {m: {s: {} for s in seeds if (m, s) not in without} for m in chapter.THREE}


@pytest.mark.parametrize(
    "confirmed, retrained",
    [
        (_confirmed(range(5, 25)), ["quick", "confirmation"]),
        (_confirmed(range(5, 15)), ["quick", "confirmation"]),  # a whole first block judges the published verdicts
        (_confirmed(range(5, 25), without={("ewc-all", 7)}), ["quick"]),  # no whole block: the calibration seeds do
    ],
)
def test_the_confirmation_suite_is_retrained_once_the_published_verdicts_come_from_it(
    monkeypatch, confirmed, retrained
):
    monkeypatch.setattr(chapter, "suite_progress", lambda name: (confirmed, []) if name == "confirmation" else None)
    assert rerun.retrained_suites("quick") == retrained
    monkeypatch.setattr(chapter, "suite_progress", lambda name: pytest.fail("smoke has no confirmation suite"))
    assert rerun.retrained_suites("smoke") == ["smoke"]


def write_result(path, acc, final, first_loss):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metrics": {"acc": acc, "final": final}, "train_loss": [[first_loss, 0.1]]}))


def test_means_and_first_losses_of_another_suite_are_read_from_its_own_folder_and_labelled(tmp_path):
    write_result(tmp_path / "confirmation/none/seed-5.json", 0.5, [0.2, 0.8], 2.25)
    write_result(tmp_path / "confirmation/none/seed-6.json", 0.7, [0.4, 1.0], 2.5)
    write_result(tmp_path / "confirmation/ewc-all/seed-5.json", 0.9, [0.9, 0.9], 2.0)  # one seed: no mean
    write_result(tmp_path / "quick/none/seed-5.json", 0.1, [0.1, 0.1], 9.0)  # another suite's folder: not read
    means = rerun.group_means("confirmation", tmp_path)
    assert means == {"none": {"ACC": [50.0, 70.0], "final task 1": [20.0, 40.0], "final task 2": [80.0, 100.0]}}
    losses = rerun.first_losses("confirmation", tmp_path)
    assert losses == {"none/seed-5": 2.25, "none/seed-6": 2.5, "ewc-all/seed-5": 2.0}
    assert rerun._labelled("quick", "confirmation", losses)["confirmation/none/seed-5"] == 2.25
    assert rerun._labelled("quick", "quick", losses) is losses


def test_a_scratch_that_copied_a_suite_is_not_reused_to_retrain_it(tmp_path, monkeypatch):
    monkeypatch.setattr(rerun, "RERUN_SCRATCH", tmp_path / "rerun")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    scratch = rerun._scratch_for("quick", 2, ["quick"])
    copied = scratch / "results" / "confirmation" / "none" / "seed-5.json"
    copied.parent.mkdir(parents=True)
    copied.write_text("{}")  # what the copy of the published suite leaves
    trained = scratch / "results" / "quick" / "none" / "seed-0.json"
    trained.parent.mkdir(parents=True)
    trained.write_text("{}")
    assert rerun._scratch_for("quick", 2, ["quick"]) == scratch and trained.exists()  # same settings: resumed
    smoke = rerun._scratch_for("smoke", 2, ["smoke"])
    assert smoke != scratch and trained.exists()  # another profile's check leaves this one's runs alone
    rerun._scratch_for("quick", 2, ["quick", "confirmation"])
    assert not copied.exists() and not trained.exists()


def test_the_books_cost_leaves_out_the_suites_only_the_check_trains():
    from ewc import cost_claims

    record = {"runs_compared": 68, "book_runs": 38, "wall_s": 3960.0, "processor": "Intel Xeon", "jobs": 2}
    record |= {"finished": "2026-12-08 10:00 UTC", "peak_rss_all_processes_mib": 9216.0}
    text = cost_claims.from_nothing(record | {"other_suites_training_s": {"confirmation": 2700.0}}).data
    assert text.startswith("Made from nothing (its 38 runs trained,") and "took 66 min" in text
    assert text.endswith("The check also retrained the `confirmation` suite (45 min), which the book never trains.")
    assert "retrained" not in cost_claims.from_nothing(record).data
