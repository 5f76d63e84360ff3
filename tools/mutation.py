"""Mutation testing of the science core: mutmut 3.3.1 (requirements-dev.txt), configured in setup.cfg, run through
this script -- never plain ``mutmut``, whose forked test runs hang in TensorFlow.

    python tools/mutation.py run --max-children 1                     # the whole core, setup.cfg's tests
    python tools/mutation.py --modules tasks --tests tests/test_tasks.py run --max-children 1   # one module
    python tools/mutation.py results                                  # survivors, timeouts ...
    python tools/mutation.py show ewc.tasks.x_pad_images__mutmut_3    # one mutant's diff

Changes to mutmut, made here rather than by patching the installed package:

* mutmut runs the tests in its own process (the test map, the clean run, the forced failure), then ``fork``s one
  child per mutant to rerun its tests in-process. TensorFlow's thread pools, made at its first operation, do not
  survive ``fork``: the child's first XLA-compiled call waits forever. Importing TensorFlow alone makes none. So
  the test map is made in a process of its own (``--map-tests-only``, before the run when mutmut has none), the
  clean run and the forced failure each in a fresh interpreter, and mutmut's process only collects the tests, which
  imports TensorFlow, the mutated core and the tests: each forked child then runs its tests in-process on those
  imports. Where mutmut's process has run TensorFlow after all (new tests mapped mid-run), the child ``exec``s a
  fresh ``python -m pytest`` on the same tests instead -- same pid, so mutmut's exit-code bookkeeping and CPU-time
  limit still apply.
* mutmut's wall-clock timeout is 15 x (the tests' measured time + 1 s), measured in a warm process; a fresh one
  also imports TensorFlow and compiles, so ``STARTUP_S`` is added to it. The tests' time is their whole time here:
  mutmut records the teardown's alone.
* mutmut lists the tests (to find new ones) before ``-m "not slow"`` and ``--deselect`` apply, and prunes its test
  map to the tests of the latest run for good; here the list is the one pytest runs, and another selection of tests
  starts a new map.
* pytest.ini starts two pytest-xdist workers; every pytest run here has none (``PYTEST_ADDOPTS=-n 0``), so mutmut's
  own process sees which functions each test calls.

``--modules`` (comma-separated) narrows the mutated files to some of the core's (the others are copied unmutated)
and ``--tests`` (comma-separated files or node ids) replaces setup.cfg's test selection: a run on one cheap module
runs only its unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import mutmut
import pytest
from mutmut import __main__ as mutmut_main

STATS = Path("mutants") / "mutmut-stats.json"  # mutmut's test map: which tests call each mutated function
STARTUP_S = 120  # importing TensorFlow and compiling, in a fresh interpreter on a busy 2-core machine


def tensorflow_started() -> bool:
    """Whether this process has run TensorFlow (made its eager context, and with it the thread pools a ``fork`` loses).
    Importing TensorFlow alone starts none: a child forked after the import runs XLA normally."""
    if "tensorflow" not in sys.modules:
        return False
    from tensorflow.python.eager import context

    return context.context()._initialized


def fresh_pytest(tests: list[str]) -> list[str]:
    """The command line of a fresh interpreter running ``tests`` (run in ``mutants/``)."""
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests, "--rootdir=."]


def in_fresh_interpreter(tests: list[str]) -> int:
    """Run ``tests`` in a fresh interpreter and return its exit status, its output printed here (where mutmut's
    ``CatchOutput`` holds it, to show on failure): mutmut's own process then never starts TensorFlow."""
    proc = subprocess.run(fresh_pytest(tests), cwd="mutants", capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    return proc.returncode


def run_tests(self, *, mutant_name, tests):
    """mutmut's ``PytestRunner.run_tests``. The clean run (no mutant), in mutmut's own process, runs in a fresh
    interpreter. A mutant's run, in a child forked from that process, runs in-process on the parent's imports while
    the parent has not started TensorFlow, and otherwise ``exec``s a fresh interpreter."""
    if not mutant_name:
        return in_fresh_interpreter(list(tests or mutmut.config.tests_dir))
    if not tensorflow_started():
        return original_run_tests(self, mutant_name=mutant_name, tests=tests)
    if not mutmut.config.debug:  # mutmut hides a child's output; its fresh interpreter writes to the descriptors
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    os.chdir("mutants")  # where mutmut runs its tests: the mutated copy and its pytest.ini
    os.execv(sys.executable, fresh_pytest(tests))  # MUTANT_UNDER_TEST, set by mutmut, selects the mutant there


def run_forced_fail(self):
    """mutmut's ``PytestRunner.run_forced_fail`` (every mutated function raises), in a fresh interpreter."""
    return in_fresh_interpreter(list(mutmut.config.tests_dir))


def timeout_checker(mutants):
    """mutmut's wall-clock timeout checker, with a fresh interpreter's start-up added to each mutant's budget."""

    def check():
        while True:
            mutmut_main.sleep(1)
            now = datetime.now()
            for m, mutant_name, _ in mutants:
                with mutmut_main.START_TIMES_BY_PID_LOCK:
                    started = dict(m.start_time_by_pid)
                budget = (m.estimated_time_of_tests_by_mutant[mutant_name] + 1) * 15 + STARTUP_S
                for pid, start in started.items():
                    if (now - start).total_seconds() > budget:
                        try:
                            os.kill(pid, mutmut_main.signal.SIGXCPU)
                        except ProcessLookupError:
                            pass

    return check


def list_all_tests(self):
    """mutmut's ``PytestRunner.list_all_tests``, listing the tests pytest keeps after ``-m`` and ``--deselect``: mutmut
    reads the list before they apply and would then collect its test map from the deselected tests too."""

    class Collector:
        def pytest_collection_finish(self, session):
            self.nodeids = {item.nodeid for item in session.items}

    collector = Collector()
    with mutmut_main.change_cwd("mutants"):
        args = ["-x", "-q", "--collect-only", *mutmut.config.tests_dir]
        if self.execute_pytest(args, plugins=[collector]) != 0:
            raise mutmut_main.CollectTestsFailedException()
    return mutmut_main.ListAllTestsResult(ids=collector.nodeids)


class WholeTestTimes:
    """A pytest plugin: each test's time, setup + call + teardown, into mutmut's record (after mutmut's own hook)."""

    def __init__(self):
        self.total = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        before = 0.0 if call.when == "setup" else self.total.get(item.nodeid, 0.0)
        self.total[item.nodeid] = mutmut.duration_by_test[item.nodeid] = before + call.duration
        return report


def run_stats(self, *, tests):
    """mutmut's ``PytestRunner.run_stats``, recording each test's whole time where mutmut keeps its teardown's alone:
    near 0 s, which gave every mutant the smallest time limits whatever its tests cost."""
    execute = self.execute_pytest
    self.execute_pytest = lambda params, plugins=(): execute(params, plugins=[*plugins, WholeTestTimes()])
    try:
        return original_run_stats(self, tests=tests)
    finally:
        del self.execute_pytest


def new_test_map_for_another_selection(tests_dir: list[str]) -> None:
    """mutmut keeps one test map (mutants/mutmut-stats.json), prunes from it the tests a run does not select and never
    maps them again: a run with another selection than the map's starts a new map."""
    stamp = Path("mutants") / "tests-of-the-map.json"
    if not stamp.is_file() or json.loads(stamp.read_text()) != tests_dir:
        STATS.unlink(missing_ok=True)
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(json.dumps(tests_dir))


class TestsMapped(Exception):
    """Raised once mutmut has written its test map, in a ``--map-tests-only`` process."""


def stop_after_the_test_map(*_, **__):
    raise TestsMapped


original_run_tests = mutmut_main.PytestRunner.run_tests
original_run_stats = mutmut_main.PytestRunner.run_stats


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # the rest, --help too, is mutmut's
    parser.add_argument("--modules", type=lambda s: s.split(","), help="core modules to mutate: tasks,optimizer")
    parser.add_argument("--tests", type=lambda s: s.split(","), help="test files replacing setup.cfg's tests_dir")
    parser.add_argument("--map-tests-only", action="store_true", help=argparse.SUPPRESS)
    ours, rest = parser.parse_known_args(argv)
    if not Path("setup.cfg").is_file() or not Path("ewc").is_dir():
        sys.exit("run from the repository root")
    mutmut.config = mutmut_main.load_config()
    if ours.modules:
        chosen = {Path("ewc") / f"{name}.py" for name in ours.modules}
        core = {p for p in Path("ewc").glob("*.py") if not mutmut.config.should_ignore_for_mutation(p)}
        if not chosen <= core:
            sys.exit(f"not in setup.cfg's science core: {', '.join(sorted(map(str, chosen - core)))}")
        mutmut.config.do_not_mutate += [str(p) for p in core - chosen]
    if ours.tests:
        mutmut.config.tests_dir = ours.tests
    new_test_map_for_another_selection(mutmut.config.tests_dir)
    if "run" in rest and not ours.map_tests_only and not STATS.is_file():
        # mapping tests to functions runs them, TensorFlow too, in mutmut's own process: done in a process of its own,
        # the run's process stays forkable and its children reuse its imports
        subprocess.run([sys.executable, __file__, *argv, "--map-tests-only"], check=True)
    if ours.map_tests_only:
        mutmut_main.collect_source_file_mutation_data = stop_after_the_test_map
    # one process per run of the tests, never pytest-xdist's workers (pytest.ini's -n 2): mutmut maps tests to the
    # functions they call in its own process, and a mutant's interpreter is already one of two side by side at most
    os.environ["PYTEST_ADDOPTS"] = f"{os.environ.get('PYTEST_ADDOPTS', '')} -n 0".strip()
    mutmut_main.PytestRunner.run_tests = run_tests
    mutmut_main.PytestRunner.run_forced_fail = run_forced_fail
    mutmut_main.PytestRunner.run_stats = run_stats
    mutmut_main.PytestRunner.list_all_tests = list_all_tests
    mutmut_main.timeout_checker = timeout_checker
    try:
        mutmut_main.cli(rest, prog_name="tools/mutation.py")
    except TestsMapped:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
