"""The ``dcgan-course`` command line: one sub-command per course task.

Each sub-command is an ``add_*_command(subparsers)`` function that sets
``run=<function(args) -> int>``; ``COMMANDS``, at the bottom, lists them all in one place.
User mistakes raise ``CommandError`` (or ``ValueError`` / ``FileNotFoundError``) and are
printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path


class CommandError(Exception):
    """A mistake in the command line or its inputs, reported as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, ValueError, FileNotFoundError, OSError)

def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="dcgan-course", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the sub-command, and turn user errors into a one-line message."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except USER_ERRORS as error:
        print(f"dcgan-course {args.command}: error: {error}", file=sys.stderr)
        return 2


def classroom_module(name: str):
    """``dcgan_course.classroom.<name>``; the student edition has none, and says so in one line."""
    try:
        return importlib.import_module(f"dcgan_course.classroom.{name}")
    except ModuleNotFoundError as error:
        if error.name != "dcgan_course.classroom":
            raise
        raise CommandError("this is the student edition: grading and authoring ship only with the "
                           "instructors' copy of the course (dcgan_course/classroom/)") from None


def run_train(args: argparse.Namespace) -> int:
    """Train a DCGAN, writing checkpoint, sample grids and history to --out; print the FCD score."""
    import json

    from dcgan_course import data, distributed, improve, metrics, settings, train, viz

    out = Path(args.out)
    if not (existing := next(path for path in (out, *out.parents) if path.exists())).is_dir():
        raise CommandError(f"--out {out}: {existing} is a file; --out names a folder (checkpoint.pt, ...).")
    checkpoint = out / "checkpoint.pt"
    if checkpoint.exists() and not args.resume:
        raise CommandError(f"{checkpoint} exists; pass --resume to continue it or choose another --out.")
    settings.seed_everything(args.seed)
    dataset = data.load_dataset(args.dataset, "train", args.image_size, args.channels, args.limit)
    device, world = settings.get_device(), distributed.World()
    if distributed.launched_by_torchrun():  # torchrun --nproc-per-node N -m dcgan_course.cli train ...
        world, device = distributed.init_from_environment(device)
    if world.is_main:
        processes = f" | processes: {world.size}" if world.size > 1 else ""
        print(f"{data.describe(dataset)}\ndevice: {device} | precision: {settings.precision_name(device)}"
              + processes)
    generator, discriminator = improve.recipe_gan(args.recipe, args.image_size, dataset.channels)
    history = train.train_gan(generator, discriminator, dataset, args.epochs, args.batch_size,
                              seed=args.seed, checkpoint_path=checkpoint, resume=args.resume,
                              device=device, progress=world.is_main)
    distributed.leave(world)
    if not world.is_main:
        return 0
    (out / "samples").mkdir(parents=True, exist_ok=True)
    for epoch, samples in enumerate(history.epoch_samples, start=1):
        viz.save_image(samples, out / "samples" / f"epoch_{epoch:03d}.png")
    (out / "history.json").write_text(json.dumps(
        {"dataset": args.dataset, "recipe": args.recipe, "epochs": history.epochs_done,
         "seconds": history.seconds, **history.curves()}))
    print(f"wrote {checkpoint}, {out / 'history.json'} and {len(history.epoch_samples)} sample grids")
    if not args.no_score:
        scorer = metrics.SampleQualityScorer(dataset.to("cpu"), seed=args.seed)
        print(f"sample quality (Fréchet classifier distance, lower is better): "
              f"{scorer.score(generator):.1f}")
    return 0


def add_train_command(subparsers: argparse._SubParsersAction) -> None:
    """``dcgan-course train``: train a DCGAN from the command line."""
    parser = subparsers.add_parser("train", help="train a DCGAN and save checkpoint, samples, history")
    parser.add_argument("--dataset", default="digits",
                        help="digits (offline), mnist, fashion-mnist, cifar10, svhn or folder:PATH")
    parser.add_argument("--image-size", type=int, choices=(32, 64), default=32)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=None,
                        help="convert to grayscale (1) or RGB (3); default: the dataset's own")
    parser.add_argument("--epochs", type=positive_int, default=20)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--limit", type=positive_int, default=None, help="use only N training images")
    parser.add_argument("--recipe", default="plain", help="D's recipe (notebook 07): plain, translate "
                        "(random shifts, DiffAugment-style), dropout or spectral-norm (default: plain)")
    parser.add_argument("--out", required=True, help="folder for checkpoint.pt, samples/, history.json")
    parser.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-score", action="store_true", help="skip the sample-quality score")
    parser.set_defaults(run=run_train)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_make_exercises(args: argparse.Namespace) -> int:
    """Write exercises/ from solutions/, or with --check exit 1 when it is out of date."""
    authoring = classroom_module("authoring")

    statuses = authoring.make_exercises(args.solutions, args.exercises, check=args.check)
    changes = [status for status in statuses if status.state != "current"]
    for status in changes:
        print(f"{status.state}: {status.path}")
    if args.check and changes:
        print(f"{args.exercises} is out of date: run `dcgan-course make-exercises` and commit the result",
              file=sys.stderr)
        return 1
    print(f"{args.exercises}: {len(statuses) - len(changes)} current, {len(changes)} changed")
    return 0


def add_make_exercises_command(subparsers: argparse._SubParsersAction) -> None:
    """``make-exercises``: build the learner's notebooks from the solution notebooks."""
    parser = subparsers.add_parser("make-exercises", help="generate exercises/ from solutions/")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: solutions/")
    parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="default: exercises/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if exercises/ is stale")
    parser.set_defaults(run=run_make_exercises)


def run_release(args: argparse.Namespace) -> int:
    """Write the student edition (lectures, fresh exercises, the package; no solutions) into OUT."""
    release = classroom_module("release")

    files = release.write_release(args.root, args.out)
    print(f"wrote {len(files)} files to {args.out}: notebooks/, exercises/, dcgan_course/ and no solutions/ "
          "(the package still holds reference implementations: see docs/for_instructors.md)")
    return 0


def add_release_command(subparsers: argparse._SubParsersAction) -> None:
    """``release``: the course to hand out, without solutions/."""
    parser = subparsers.add_parser("release", help="write the student edition (no solutions) to a new folder")
    parser.add_argument("out", type=Path, help="a new or empty folder outside the checkout")
    parser.add_argument("--root", type=Path, default=Path("."), help="the course checkout (default: .)")
    parser.set_defaults(run=run_release)


def run_grade(args: argparse.Namespace) -> int:
    """Grade every submission and write the reports; 0 even when students fail, 1 if a run broke."""
    grading, reports = classroom_module("grading"), classroom_module("reports")

    check_seed = secrets.randbelow(1_000_000) if args.check_seed is None else args.check_seed
    options = grading.GradingOptions(cell_timeout=args.timeout, fast=not args.full,
                                     warm_kernels=grading.WARM_KERNELS_WORK and not args.cold_kernels,
                                     check_seed=check_seed)
    try:
        grades = grading.grade(args.submissions, args.reference, options, jobs=args.jobs,
                               on_graded=lambda row: print(f"{row.student or '-':<20} {row.notebook:<34} "
                                                           f"{row.checks_passed}/{row.checks_total}  "
                                                           f"{row.status}", flush=True))
    except grading.GradingError as error:
        raise CommandError(str(error)) from None
    summary = reports.write_reports(grades, args.out,
                                            reports.describe_run(args.reference, options))
    print(f"wrote {args.out} and {summary}")
    broken = [row for row in grades if row.status == grading.RUN_ERROR]
    if broken:
        print(f"grading could not run {len(broken)} notebook(s) (status {grading.RUN_ERROR}): "
              f"{broken[0].detail}", file=sys.stderr)
    return 1 if broken else 0


def add_grade_command(subparsers: argparse._SubParsersAction) -> None:
    """``grade``: run each student's exercise notebooks under nbval with the reference checks."""
    parser = subparsers.add_parser("grade", help="grade a class's exercise notebooks (nbval)")
    parser.add_argument("submissions", type=Path,
                        help="one folder per student (its NN_name.ipynb files, or an exercises/ "
                             "folder holding them) or files named STUDENT__NN_name.ipynb")
    parser.add_argument("--reference", type=Path, default=Path("solutions"), help="default: solutions/")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="CSV path; the Markdown summary goes next to it (default: grades.csv)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per cell (default: 120)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default: 1)")
    parser.add_argument("--full", action="store_true", help="run without DCGAN_COURSE_FAST=1 (slow)")
    parser.add_argument("--check-seed", type=int, default=None,
                        help="seed the checks draw their inputs from (default: a fresh one per run, so "
                             "answers hard-coded to one set of inputs fail; the summary names it)")
    parser.add_argument("--cold-kernels", action="store_true",
                        help="start each kernel in a new interpreter, not forked from a warm one (slower)")
    parser.set_defaults(run=run_grade)


def run_set_repo(args: argparse.Namespace) -> int:
    """Point colab.REPOSITORY and every notebook's badge and install guard at OWNER/NAME."""
    colab = classroom_module("colab")

    for path in colab.set_repo(args.repository, args.root):
        print(f"rewrote {path}")
    print(f"Colab badges and install guards now point at github.com/{args.repository}")
    return 0


def add_set_repo_command(subparsers: argparse._SubParsersAction) -> None:
    """``set-repo``: make a fork of the course open in Colab from its own repository."""
    parser = subparsers.add_parser("set-repo", help="rewrite every Colab badge and install guard")
    parser.add_argument("repository", help="the GitHub repository as OWNER/NAME")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the course checkout holding notebooks/, solutions/, exercises/")
    parser.set_defaults(run=run_set_repo)


def run_stylize(args: argparse.Namespace) -> int:
    """Optimise an image in the style of --style keeping the content of --content; judge the result."""
    from dcgan_course import settings, style, viz

    if args.steps < 1 or args.size < 16:
        raise CommandError(f"--steps must be >= 1 and --size >= 16, got {args.steps} and {args.size}")
    content = viz.load_image(args.content, args.size)
    style_image = viz.load_image(args.style, args.size)
    network = style.load_feature_network(args.network, settings.get_device())
    result = style.stylize(content, style_image, network, args.steps)
    path = viz.save_image(result.image, args.out)
    print(f"wrote {path} ({args.size}px, {args.steps} steps, {network.name}, {result.seconds:.1f}s)")
    print(f"final content loss {result.content_loss[-1]:.4g}, style loss {result.style_loss[-1]:.4g} "
          "(in the network it optimised against: not a verdict)")
    scores = style.evaluation.judge(result.image, content, style_image)
    print("judged in networks the optimisation did not use (style distance / the photo's; 1 = unchanged): "
          + ", ".join(f"{name} {value:.3g}" for name, value in scores.items()))
    return 0


def add_stylize_command(subparsers: argparse._SubParsersAction) -> None:
    """``stylize``: optimisation-based style transfer (Gatys et al.) on two image files."""
    parser = subparsers.add_parser("stylize", help="paint one image in the style of another")
    parser.add_argument("--content", type=Path, required=True, help="the image whose layout is kept")
    parser.add_argument("--style", type=Path, required=True, help="the image whose textures are copied")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result (PNG/JPEG)")
    parser.add_argument("--steps", type=int, default=200, help="optimisation steps (default: 200)")
    parser.add_argument("--size", type=int, default=128, help="square image size in pixels (default: 128)")
    parser.add_argument("--network", default="auto", choices=("auto", "random", "vgg19"),
                        help="feature network; auto = VGG-19 if its weights are at hand, else random")
    parser.set_defaults(run=run_stylize)


def run_translate_demo(args: argparse.Namespace) -> int:
    """Train pix2pix and the L1-only baseline on edges -> digits; write the grid and metrics.json."""
    import json

    from dcgan_course import data, settings, translation, viz

    if args.steps < 1:
        raise CommandError(f"--steps must be >= 1, got {args.steps}")
    args.out.mkdir(parents=True, exist_ok=True)
    train_pairs = data.paired.load_pairs("edges2digits", "train", limit=settings.pick(256, None))
    test_pairs = data.paired.load_pairs("edges2digits", "test")
    metrics, generators = translation.compare_with_l1_baseline(
        train_pairs, test_pairs, args.steps, base_width=translation.DEMO_WIDTH,
        downsamplings=translation.DEMO_DOWNSAMPLINGS)
    shown = test_pairs.subset(slice(0, 12))
    rows = {"input": shown.inputs, "pix2pix": translation.translate(generators["pix2pix"], shown.inputs),
            "L1 only": translation.translate(generators["l1_only"], shown.inputs), "target": shown.targets}
    viz.show_rows(rows, f"edges -> digits after {args.steps} steps").savefig(args.out / "comparison.png")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for name in ("pix2pix", "l1_only"):
        scores = ", ".join(f"{key} {value:.4g}" for key, value in metrics[name].items())
        print(f"{name}: {scores}")
    print(f"wrote {args.out / 'comparison.png'} and {args.out / 'metrics.json'}")
    return 0


def add_translate_demo_command(subparsers: argparse._SubParsersAction) -> None:
    """``translate-demo``: the offline pix2pix task against its L1-only baseline."""
    parser = subparsers.add_parser("translate-demo", help="pix2pix vs L1-only on edges -> digits (offline)")
    parser.add_argument("--out", type=Path, required=True, help="folder for comparison.png and metrics.json")
    parser.add_argument("--steps", type=int, default=1000,
                        help="training steps for each model (default: 1000)")
    parser.set_defaults(run=run_translate_demo)


def parse_budgets(text: str) -> list[int | None]:
    """'1,10,all' -> [1, 10, None]: labels per class, 'all' meaning every training label."""
    budgets: list[int | None] = []
    for item in text.split(","):
        item = item.strip().lower()
        if item == "all":
            budgets.append(None)
        elif item.isdigit() and int(item) > 0:
            budgets.append(int(item))
        else:
            raise CommandError(
                f"--labels-per-class takes positive integers or 'all', comma-separated; got '{item}'.")
    return budgets


def run_probe(args: argparse.Namespace) -> int:
    """Probe a checkpoint's features against the baselines; print a Markdown table or one JSON object."""
    import json
    import warnings

    from dcgan_course import probe

    warnings.filterwarnings("ignore", module="sklearn")
    results = probe.probe_checkpoint(args.checkpoint, args.dataset, parse_budgets(args.labels_per_class),
                                     args.draws, args.encoder_steps, args.limit, args.seed,
                                     progress=not args.json)
    if args.json:
        print(json.dumps(probe.results_json(args.dataset, results)))
    else:
        print(probe.results_report(args.dataset, results))
    return 0


def add_probe_command(subparsers: argparse._SubParsersAction) -> None:
    """``dcgan-course probe``: linear probes of a checkpoint's features versus honest baselines."""
    parser = subparsers.add_parser(
        "probe", help="compare a trained GAN's features with raw pixels and a random-init discriminator",
        description="Train only linear classifiers on frozen features: raw pixels, a random-init "
                    "discriminator, the checkpoint's discriminator, and generator-side features when an "
                    "encoder is available.")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint.pt written by `dcgan-course train`, or a netD_epoch_N.pth saved "
                             "by pytorch/examples' dcgan (64 px; baselines and D only)")
    parser.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10, svhn "
                                                            "or folder:PATH (default: digits)")
    parser.add_argument("--labels-per-class", default="10,100",
                        help="comma-separated labels per class, 'all' for every label (default: 10,100)")
    parser.add_argument("--draws", type=int, default=5, help="random label draws per budget (default: 5)")
    parser.add_argument("--encoder-steps", type=int, default=0,
                        help="train an encoder that inverts G for this many steps, for generator features "
                             "(default: 0, use the checkpoint's encoder if it has one)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many images per split")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the label draws and the random-init baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(run=run_probe)


COMMANDS = (add_train_command, add_probe_command, add_make_exercises_command, add_release_command,
            add_grade_command, add_set_repo_command, add_stylize_command, add_translate_demo_command)

if __name__ == "__main__":
    sys.exit(main())
