"""The network and training checks pass reference code with one tick line and name each planted bug.

Each table row plants one common mistake (docs/common_mistakes.md lists where learners make them)
and asserts the phrases of the message that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_course import checks
from dcgan_course.checks import discriminator, gan_losses, networks, training


def fails_with(check: Callable[..., None], candidate: object, *phrases: str) -> str:
    """Run ``check`` on ``candidate``; assert it fails with a message containing every phrase."""
    with pytest.raises(AssertionError) as failure:
        check(candidate)
    message = str(failure.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return message


def passes_with_one_tick_line(check: Callable[..., None], candidate: object, capsys) -> str:
    """Run ``check`` on ``candidate``; assert it prints exactly one line starting with the tick."""
    check(candidate)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("✅"), lines
    return lines[0]


def not_implemented(*args: object, **kwargs: object) -> None:
    """An exercise stub, as make-exercises leaves it."""
    raise NotImplementedError


class StubModel(nn.Module):
    """A model whose constructor is still an exercise stub."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__()
        raise NotImplementedError


# ------------------------------------------------------------------ reference solutions

def paper_block(in_channels: int, out_channels: int, *, kernel: int = 5, padding: int = 2,
                output_padding: int = 1, activation: type = nn.ReLU, norm: bool = True) -> nn.Sequential:
    """The paper's 5x5 doubling block, with switches that plant one bug each."""
    layers = [nn.ConvTranspose2d(in_channels, out_channels, kernel, 2, padding, output_padding, bias=False)]
    layers += [nn.BatchNorm2d(out_channels)] if norm else []
    return nn.Sequential(*layers, activation())


class Generator28(nn.Module):
    """1 -> 7 -> 14 -> 28 by transposed convolutions; switches plant one bug each."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, base_width: int = 8, *, output: str = "tanh",
                 output_norm: bool = False, hidden_activation: type = nn.ReLU, crop: bool = False,
                 upsample: bool = False, pool: bool = False) -> None:
        super().__init__()
        wide, narrow = 2 * base_width, base_width
        self.project = nn.Sequential(nn.ConvTranspose2d(latent_dim, wide, 7, 1, 0, bias=False),
                                     nn.BatchNorm2d(wide), hidden_activation())
        self.upsample = nn.Sequential(nn.ConvTranspose2d(wide, narrow, 4, 2, 1, bias=False),
                                      nn.BatchNorm2d(narrow), hidden_activation())
        last = nn.ConvTranspose2d(narrow, channels, 4, 2, 1 if not crop else 0, bias=False)
        ending = {"tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "none": []}[output]
        self.to_image = nn.Sequential(last, *([nn.BatchNorm2d(channels)] if output_norm else []), *ending)
        self.resize = nn.Upsample(size=28) if upsample else nn.Identity()
        self.pool = nn.MaxPool2d(3, 1, 1) if pool else nn.Identity()
        self.crop = crop

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        images = self.pool(self.resize(self.to_image(self.upsample(self.project(z[:, :, None, None])))))
        return images[..., 1:29, 1:29] if self.crop else images


class MinibatchStdDev(nn.Module):
    """The reference layer; switches plant one bug each."""

    def __init__(self, *, dim: int = 0, epsilon: float = 1e-8, average: bool = True,
                 detach: bool = False) -> None:
        super().__init__()
        self.dim, self.epsilon, self.average, self.detach = dim, epsilon, average, detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = (x.var(dim=self.dim, unbiased=False, keepdim=True) + self.epsilon).sqrt()
        spread = spread.mean() if self.average else spread.mean(dim=1, keepdim=True)
        spread = spread.detach() if self.detach else spread
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class Discriminator28(nn.Module):
    """28 -> 14 -> 7 -> minibatch stddev -> logit; switches plant one bug each."""

    def __init__(self, channels: int = 1, base_width: int = 8, *, slope: float | None = 0.2,
                 first_norm: bool = False, second_norm: bool = True, stddev: bool = True,
                 sigmoid: bool = False, flatten: bool = True) -> None:
        super().__init__()
        activation = (lambda: nn.LeakyReLU(slope)) if slope is not None else nn.Identity
        layers = [nn.Conv2d(channels, base_width, 4, 2, 1, bias=False),
                  *([nn.BatchNorm2d(base_width)] if first_norm else []), activation(),
                  nn.Conv2d(base_width, 2 * base_width, 4, 2, 1, bias=False),
                  *([nn.BatchNorm2d(2 * base_width)] if second_norm else []), activation()]
        layers += [MinibatchStdDev(), nn.Conv2d(2 * base_width + 1, 1, 7, bias=False)] if stddev else [
            nn.Conv2d(2 * base_width, 1, 7, bias=False)]
        self.layers = nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.layers(x)
        return logits.flatten() if self.flatten else logits


def lsgan_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSGAN written out, as a learner would (the package's ``losses.lsgan`` is off-limits in the check)."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), 0.5 * ((fake - 1) ** 2).mean()


def hinge_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The hinge pair written out, as a learner would (``losses.hinge`` is off-limits in the check)."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean(), -fake.mean()


def discriminator_step(generator, discriminator, optimizer, real_images, noise) -> dict[str, float]:
    """One D update written out, as a learner would (``train.discriminator_step`` is off-limits)."""
    optimizer.zero_grad()
    with torch.no_grad():
        fake_images = generator(noise)
    real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    loss.backward()
    optimizer.step()
    return {"loss_d": loss.item(), "d_real": real_logits.sigmoid().mean().item(),
            "d_fake": fake_logits.sigmoid().mean().item()}


REFERENCES = [
    (networks.check_paper_block, paper_block, not_implemented),
    (networks.check_generator_28, Generator28, StubModel),
    (discriminator.check_minibatch_stddev, MinibatchStdDev, StubModel),
    (discriminator.check_discriminator_28, Discriminator28, StubModel),
    (partial(gan_losses.check_gan_losses, kind="lsgan"), lsgan_losses, not_implemented),
    (partial(gan_losses.check_gan_losses, kind="hinge"), hinge_losses, not_implemented),
    (training.check_discriminator_step, discriminator_step, not_implemented),
]
IDS = ["paper_block", "generator_28", "minibatch_stddev", "discriminator_28", "lsgan", "hinge", "d_step"]


@pytest.mark.parametrize(("check", "reference", "stub"), REFERENCES, ids=IDS)
def test_check_passes_the_reference_with_one_tick_line(check, reference, stub, capsys):
    passes_with_one_tick_line(check, reference, capsys)


@pytest.mark.parametrize(("check", "reference", "stub"), REFERENCES, ids=IDS)
def test_stub_gets_a_friendly_not_implemented_message(check, reference, stub):
    fails_with(check, stub, "not implemented yet")


def planted(model_class: type, **bug: object) -> type:
    """A subclass of ``model_class`` built with one bug switched on (keeps the learner's signature)."""
    return type(model_class.__name__, (model_class,), {
        "__init__": lambda self, **kwargs: model_class.__init__(self, **kwargs, **bug)})


# ------------------------------------------------------------------ 01: the 5x5 block, the checkerboard

@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(kernel=4, padding=1, output_padding=0), ("kernel (4, 4)", "5x5")),
    (dict(padding=1, output_padding=0), ("must double", "one pixel too many")),
    (dict(padding=2, output_padding=0), ("one pixel short", "adds the missing row")),
    (dict(activation=nn.LeakyReLU), ("LeakyReLU belongs to D",)),
    (dict(norm=False), ("BatchNorm2d -> ReLU",)),
])
def test_paper_block_check_names_the_planted_bug(bug, phrases):
    fails_with(networks.check_paper_block, partial(paper_block, **bug), *phrases)


def test_checkerboard_prediction_is_counted_from_stamps(capsys):
    assert networks.stamp_counts(4).unique().tolist() == [4.0]  # 2 per axis
    assert networks.stamp_counts(5).unique().tolist() == [4.0, 6.0, 9.0]  # 2 or 3 per axis
    networks.check_checkerboard_prediction("kernel 4", "even kernels tile evenly")
    out = capsys.readouterr().out
    assert 'the run contradicts it: it shows "kernel 5"' in out and checks.PASS_MARK not in out
    fails_with(networks.check_checkerboard_prediction, None, "still None: not committed", "kernel 5")


# ------------------------------------------------------------------ 01: the 28-pixel generator

@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(output="none"), ("outside [-1, 1]", "Tanh")),
    (dict(output="sigmoid"), ("Sigmoid",)),
    (dict(output_norm=True), ("BatchNorm on its output layer",)),
    (dict(hidden_activation=nn.LeakyReLU), ("uses LeakyReLU", "generator uses ReLU")),
    (dict(hidden_activation=nn.Identity), ("ConvTranspose2d -> BatchNorm2d -> ReLU",)),
    (dict(crop=True), ("last convolution outputs 30 pixels", "shape arithmetic")),
    (dict(upsample=True), ("uses Upsample", "no resizing")),
    (dict(pool=True), ("uses pooling (MaxPool2d)",)),
])
def test_generator_28_check_names_the_planted_bug(bug, phrases):
    fails_with(networks.check_generator_28, planted(Generator28, **bug), *phrases)


class ResizingGenerator(Generator28):
    """Reaches 28 by interpolating a 16x16 map down to 14 between layers."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        wide, narrow = 2 * kwargs["base_width"], kwargs["base_width"]
        self.upsample[0] = nn.ConvTranspose2d(wide, narrow, 4, 2, 0, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hidden = self.upsample(self.project(z[:, :, None, None]))
        return self.to_image(F.interpolate(hidden, size=14))


def test_generator_28_check_names_resizing_between_layers():
    fails_with(networks.check_generator_28, ResizingGenerator, "resizes between layers",
               "(16, 16) -> (14, 14)")


# ------------------------------------------------------------------ 02: minibatch stddev

@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(dim=1), ("across *channels*", "batch dimension")),
    (dict(average=False), ("varies over the batch or the positions", "*one* number")),
    (dict(detach=True), ("detaches its statistic",)),
    (dict(epsilon=0.0), ("NaN gradient", "epsilon")),
])
def test_minibatch_stddev_check_names_the_planted_bug(bug, phrases):
    fails_with(discriminator.check_minibatch_stddev, planted(MinibatchStdDev, **bug), *phrases)


class RectifyingStdDev(MinibatchStdDev):
    """Passes on changed input channels (a stray activation) next to the statistic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.relu())


def test_minibatch_stddev_check_names_changed_input_channels():
    fails_with(discriminator.check_minibatch_stddev, RectifyingStdDev, "changed the input channels")


# ------------------------------------------------------------------ 02: the 28-pixel discriminator

@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(slope=None), ("no LeakyReLU", "one linear map")),  # the audit's case: no nonlinearity at all
    (dict(slope=0.01), ("slope [0.01]", "0.2")),
    (dict(first_norm=True), ("layer 1 has BatchNorm", "input layer")),
    (dict(second_norm=False), ("layer 2 has no BatchNorm2d",)),
    (dict(stddev=False), ("judges every image on its own", "minibatch-stddev")),
    (dict(sigmoid=True), ("Sigmoid module", "logits")),
    (dict(flatten=False), ("expected shape (16,), got (16, 1, 1, 1)", "flatten")),
])
def test_discriminator_28_check_names_the_planted_bug(bug, phrases):
    fails_with(discriminator.check_discriminator_28, planted(Discriminator28, **bug), *phrases)


class ReluDiscriminator(Discriminator28):
    """Uses ReLU instead of LeakyReLU(0.2)."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.layers = nn.Sequential(*[nn.ReLU() if isinstance(m, nn.LeakyReLU) else m for m in self.layers])


class SigmoidFunctionDiscriminator(Discriminator28):
    """Applies torch.sigmoid in forward, invisible to module inspection."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(x))


@pytest.mark.parametrize(("discriminator_class", "phrases"), [
    (ReluDiscriminator, ("uses ReLU", "LeakyReLU(0.2)")),
    (SigmoidFunctionDiscriminator, ("stay in [0, 1]", "sigmoid")),
])
def test_discriminator_28_check_names_hidden_activation_bugs(discriminator_class, phrases):
    fails_with(discriminator.check_discriminator_28, discriminator_class, *phrases)


def test_receptive_field_prediction_is_measured_on_the_learners_network(capsys):
    discriminator.check_receptive_field_prediction("the whole image", "", Discriminator28)
    out = capsys.readouterr().out
    assert 'it shows "a patch"' in out and "sees 10x10" in out and "no reason given" in out


def test_receptive_field_prediction_cannot_judge_an_unfinished_network(capsys):
    class Unfinished(nn.Module):
        def __init__(self, channels: int = 1, base_width: int = 8) -> None:
            super().__init__()
            raise NotImplementedError

    discriminator.check_receptive_field_prediction("a patch", "why", Unfinished)
    out = capsys.readouterr().out
    assert "cannot judge: your Discriminator28" in out and "the run" not in out


# ------------------------------------------------------------------ 03: losses and the prediction

@pytest.mark.parametrize(("kind", "mistake", "phrases"), [
    ("lsgan", lambda r, f: lsgan_losses(r.sigmoid(), f.sigmoid()), ("a sigmoid first",)),
    ("lsgan", lambda r, f: tuple(2 * loss for loss in lsgan_losses(r, f)), ("factor 1/2",)),
    ("lsgan", lambda r, f: (lsgan_losses(r, f)[0], 0.5 * (f**2).mean()), ("G aims at the fake label 0",)),
    ("lsgan", lambda r, f: lsgan_losses(1 - r, 1 - f), ("targets are swapped",)),
    ("lsgan", lambda r, f: (0.5 * ((r - 1) ** 2).sum() + 0.5 * (f**2).sum(), lsgan_losses(r, f)[1]),
     ("sums over the batch",)),
    ("lsgan", lambda r, f: tuple(loss.item() for loss in lsgan_losses(r, f)), ("torch.Tensor",)),
    ("hinge", lambda r, f: (hinge_losses(r, f)[0], F.relu(1 - f).mean()), ("G's loss has a hinge too",)),
    ("hinge", lambda r, f: ((1 - r).mean() + (1 + f).mean(), -f.mean()), ("D's loss has no hinge",)),
    ("hinge", lambda r, f: (F.relu(1 + r).mean() + F.relu(1 - f).mean(), f.mean()), ("signs are swapped",)),
    ("hinge", lambda r, f: tuple(loss.detach() for loss in hinge_losses(r, f)), ("has no gradient",)),
])
def test_loss_check_names_the_planted_bug(kind, mistake, phrases):
    fails_with(partial(gan_losses.check_gan_losses, kind=kind), mistake, *phrases)


def test_confident_fake_prediction_is_computed_by_autograd_on_the_learners_losses(capsys):
    gan_losses.check_confident_fake_prediction("hinge", "bounded", lsgan_losses, hinge_losses)
    out = capsys.readouterr().out
    assert 'it shows "LSGAN"' in out and all(f"{slope} for {loss}" in out for slope, loss in
                                               (("0.998", "BCE"), ("1.000", "hinge"), ("6.000", "LSGAN")))
    assert checks.PASS_MARK not in out  # the loss checks it runs keep their pass lines to themselves
    gan_losses.check_confident_fake_prediction("LSGAN", "squares", lsgan_losses, hinge_losses)
    assert "the run agrees" in capsys.readouterr().out


def test_confident_fake_prediction_cannot_judge_with_a_broken_loss(capsys):
    def stub(real, fake):
        raise NotImplementedError

    gan_losses.check_confident_fake_prediction("LSGAN", "squares", stub, hinge_losses)
    out = capsys.readouterr().out
    assert "cannot judge: your lsgan_losses does not pass its check yet" in out and "the run" not in out
    fails_with(partial(gan_losses.check_confident_fake_prediction, reason="", lsgan_losses=lsgan_losses,
                       hinge_losses=hinge_losses), None, "prediction_confident_fake is still None")


# ------------------------------------------------------------------ 03: the D step

def planted_discriminator_step(generator, discriminator, optimizer, real_images, noise, scaler=None, *,
                               detach=True, real_target=1.0, fake_target=0.0, zero_grad=True,
                               probabilities=True, squash=False, fake_term=True):
    """The reference D step with switches that plant one bug each."""
    if zero_grad:
        optimizer.zero_grad()
    fake_images = generator(noise)
    fake_images = fake_images.detach() if detach else fake_images
    real_logits, fake_logits = discriminator(real_images), discriminator(fake_images)
    if squash:
        real_logits, fake_logits = real_logits.sigmoid(), fake_logits.sigmoid()
    loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    if fake_term:
        fake_targets = torch.full_like(fake_logits, fake_target)
        loss = loss + F.binary_cross_entropy_with_logits(fake_logits, fake_targets)
    loss.backward()
    optimizer.step()
    read = torch.sigmoid if probabilities else (lambda logits: logits)
    return {"loss_d": loss.item(), "d_real": read(real_logits).mean().item(),
            "d_fake": read(fake_logits).mean().item()}


def test_planted_discriminator_step_is_correct_when_no_bug_is_planted(capsys):
    passes_with_one_tick_line(training.check_discriminator_step, planted_discriminator_step, capsys)


@pytest.mark.parametrize(("bug", "phrases"), [
    (dict(detach=False), ("sent gradients into the generator", "not detached")),
    (dict(real_target=0.0, fake_target=1.0), ("swapped real/fake labels", "call real images fake")),
    (dict(fake_target=1.0), ("fakes are labelled real",)),
    (dict(zero_grad=False), ("kept gradients from the previous step",)),
    (dict(probabilities=False), ("probabilities",)),
    (dict(squash=True), ("sigmoid before a with-logits loss",)),
    (dict(fake_term=False), ("only the real half",)),
])
def test_discriminator_step_check_names_the_planted_bug(bug, phrases):
    fails_with(training.check_discriminator_step, partial(planted_discriminator_step, **bug), *phrases)


# ------------------------------------------------------------------ predictions in general

def test_prediction_check_fails_on_a_blank_and_names_the_options():
    def predict(value: object) -> None:
        checks.check_prediction("prediction_norm", value, ("shrinks", "stays"), "stays", "")

    fails_with(predict, None, "prediction_norm is still None", "shrinks")
    fails_with(predict, "grows", "not one of the options")


def test_a_wrong_prediction_never_shows_the_pass_mark_and_says_what_the_run_showed(capsys):
    options = ("shrinks", "stays")
    checks.check_prediction("prediction_norm", "shrinks", options, "stays", "Because.", "a hunch")
    out = capsys.readouterr().out
    assert out.startswith(f'{checks.PREDICTION_MARK} prediction committed: prediction_norm = "shrinks"; '
                          'your reason: "a hunch"')
    assert f'{checks.CONTRADICTS_MARK} the run contradicts it: it shows "stays". Because.' in out
    assert checks.PASS_MARK not in out
    checks.check_prediction("prediction_norm", "stays", ("shrinks", "stays"), "stays", "Because.")
    out = capsys.readouterr().out
    assert f"{checks.AGREES_MARK} the run agrees. Because." in out and checks.PASS_MARK not in out


def test_a_reason_must_be_text_and_is_kept_on_one_line(capsys):
    checks.commit_prediction("prediction_norm", "stays", ("shrinks", "stays"), "two\nlines  of   it")
    assert 'your reason: "two lines of it"' in capsys.readouterr().out
    fails_with(lambda reason: checks.commit_prediction("prediction_norm", "stays", ("stays",), reason), 3,
               "one line of text")


@pytest.mark.parametrize(("value", "problem"), [
    ("0.3", "should be a number"), (float("nan"), "the measurement broke"), (76.8, "check its units"),
    (True, "should be a number"),
])
def test_a_broken_measurement_is_named_not_judged(value, problem):
    number, message = checks.measured_number(value, "lead", -1.0, 1.0)
    assert number is None and problem in message


def test_a_paired_interval_gives_a_verdict_only_when_it_excludes_zero():
    assert checks.paired_outcome([0.02, 0.03, 0.025, 0.028], "grows", "shrinks")[0] == "grows"
    assert checks.paired_outcome([-0.02, -0.03, -0.025], "grows", "shrinks")[0] == "shrinks"
    outcome, text = checks.paired_outcome([0.05, -0.03, 0.1], "grows", "shrinks", 100.0, " pp")
    assert outcome is None and text.startswith("+4 pp ± ") and "3 paired repeats" in text
