"""Checks for notebook 05 (feature extraction): pyramid features read with forward hooks, and the
prediction about features computed in batches.

The check runs the learner's function on seeded discriminators in both modes, with models that fail
mid-way and models that wipe activations once used, and names the mistake behind a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .. import features, models
from . import (
    Verification,
    call_learner,
    cannot_judge,
    check_rng,
    commit_prediction,
    expect,
    expect_close,
    expect_shape,
    expect_tensor,
    judge_prediction,
    measured_number,
    reproducing,
)
from .shortcuts import refusing_shortcuts

TOLERANCE = 1e-4
GRIDS = (1, 2, 4)
HOOKS_LECTURE = "notebook 05, section 'Forward hooks'"
PROTOCOL_LECTURE = "notebook 05, section 'The paper's protocol'"


# --- notebook 05: pyramid features through hooks ------------------------------------------------

class ForwardFailed(RuntimeError):
    """Raised on purpose by a model in the check, to see that a failing forward pass leaves no hook behind."""


def pyramid(activations: Sequence[torch.Tensor], grids: Sequence[int], layer_major: bool = True,
            pool: Callable = F.adaptive_max_pool2d) -> torch.Tensor:
    """Pool every activation to every grid and concatenate, layer by layer (or grid by grid)."""
    pairs = ([(a, g) for a in activations for g in grids] if layer_major
             else [(a, g) for g in grids for a in activations])
    return torch.cat([pool(a, g).flatten(1) for a, g in pairs], dim=1)


def activations_of(model: torch.nn.Module, images: torch.Tensor, names: Sequence[str], train_mode: bool
                   ) -> list[torch.Tensor]:
    """The named activations in eval mode, or in train mode with the model's state restored afterwards."""
    state = {key: value.clone() for key, value in model.state_dict().items()}
    was_training = model.training
    model.train(train_mode)
    with torch.no_grad(), features.capture_activations(model, names) as seen:
        model(images)
    model.load_state_dict(state)
    model.train(was_training)
    return [seen[name] for name in names]


def seeded_discriminator(offset: int) -> models.Discriminator:
    """A small D (the paper's init, BatchNorm running statistics away from 0 and 1) from the check seed."""
    rng = check_rng(offset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=rng)))
        model = models.Discriminator(image_size=32, channels=1, base_width=8)
        model.apply(models.init_weights)
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_mean.copy_(0.05 * torch.randn(norm.num_features, generator=rng))
        norm.running_var.copy_(0.01 + 0.02 * torch.rand(norm.num_features, generator=rng))
    return model


def global_hook_count() -> int:
    """Forward (pre-)hooks registered for every module at once."""
    return sum(len(getattr(torch.nn.modules.module, name, {}))
               for name in ("_global_forward_hooks", "_global_forward_pre_hooks"))


def hook_count(model: torch.nn.Module, global_before: int) -> int:
    """Forward (pre-)hooks on the model's modules, plus global ones added since ``global_before``."""
    local = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return local + global_hook_count() - global_before


def modes(model: torch.nn.Module) -> list[bool]:
    """Every module's training flag."""
    return [module.training for module in model.modules()]


class Wiping(torch.nn.Module):
    """A small conv net that overwrites each block's output with NaN once the next block has read it.

    Features pooled inside the hooks are untouched; a full activation stored by a hook and pooled
    after the forward pass reads NaN. It records whether gradients were tracked, and can fail on
    purpose after its named blocks ran.
    """

    def __init__(self, rng: torch.Generator, fail: bool = False) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                                        torch.nn.LeakyReLU(0.2))
        self.body = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, stride=2, padding=1),
                                        torch.nn.BatchNorm2d(6), torch.nn.LeakyReLU(0.2))
        self.head = torch.nn.Conv2d(6, 1, 4)
        with torch.no_grad():
            for conv in (self.stem[0], self.body[0], self.head):
                conv.weight.copy_(0.3 * torch.randn(conv.weight.shape, generator=rng))
                conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=rng))
            for norm in (self.stem[1], self.body[1]):
                norm.weight.copy_(1 + 0.2 * torch.randn(norm.num_features, generator=rng))
                norm.bias.copy_(0.2 * torch.randn(norm.num_features, generator=rng))
                norm.running_mean.copy_(0.2 * torch.randn(norm.num_features, generator=rng))
                norm.running_var.copy_(0.5 + torch.rand(norm.num_features, generator=rng))
        self.fail, self.grad_enabled = fail, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        stem = self.stem(x)
        body = self.body(stem)
        stem.detach().fill_(float("nan"))
        if self.fail:
            raise ForwardFailed("the check's model failed on purpose, with hooks registered")
        logits = self.head(body).flatten()
        body.detach().fill_(float("nan"))
        return logits


def reference_pyramid(model: torch.nn.Module, images: torch.Tensor, names: Sequence[str],
                      grids: Sequence[int]) -> torch.Tensor:
    """The pyramid pooled inside the check's own hooks, in eval mode, the model's mode restored."""
    pooled: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(name).register_forward_hook(
        lambda module, inputs, output, name=name: pooled.update({name: pyramid([output], grids)}))
        for name in names]
    try:
        with torch.no_grad(), models.evaluation_mode(model):
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([pooled[name] for name in names], dim=1)


def expect_no_hooks(model: torch.nn.Module, when: str, global_before: int) -> None:
    """No forward hook left behind on the model (nor a new global one)."""
    hooks = hook_count(model, global_before)
    expect(hooks == 0, f"{when}, the model still has {hooks} forward hook(s): every hook you register must "
                       "be removed, even when the forward pass fails (remove them in a `finally:` block). "
                       f"See {HOOKS_LECTURE}.")


def expect_left_as_it_came(model: torch.nn.Module, before_modes: list[bool], before_state: dict,
                           when: str) -> None:
    """Every module's mode and the BatchNorm statistics as they were before the learner's call."""
    if modes(model) != before_modes:
        came, left = ("training", "eval") if before_modes[0] else ("eval", "training")
        raise AssertionError(
            f"{when}, pyramid_features left the model in {left} mode although it came in {came} mode: put it "
            "back in the mode it was in (remember model.training before switching, restore it after, also "
            "when the forward pass fails), or the code that called you continues in the wrong mode"
            f"{', without batch statistics' if came == 'training' else ''}. See {HOOKS_LECTURE}.")
    changed = [key for key, value in model.state_dict().items() if not torch.equal(value, before_state[key])]
    if changed:
        raise AssertionError(f"{when}, the model's {changed[0]} changed: the forward pass ran in training "
                             "mode and updated BatchNorm's running statistics. Extract in eval mode, under "
                             f"torch.no_grad(). See {HOOKS_LECTURE}.")


def run_pyramid(pyramid_features: Callable, model: torch.nn.Module, images: torch.Tensor, names: list[str],
                grids: tuple[int, ...]) -> torch.Tensor:
    """Call the learner's function and insist on a tensor back."""
    call = f"pyramid_features(D, images of shape {tuple(images.shape)}, {names}, {grids})"
    result = call_learner("pyramid_features", call, pyramid_features, model, images, names, grids)
    return expect_tensor(result, "The result of pyramid_features")


def snapshot(model: torch.nn.Module) -> tuple[list[bool], dict]:
    """Every module's mode and a copy of the state, to compare after the learner's call."""
    return modes(model), {key: value.clone() for key, value in model.state_dict().items()}


@reproducing
def check_pyramid_features(pyramid_features: Callable) -> None:
    """``pyramid_features(model, images, layer_names, grids)``: hooks, eval mode, max-pools, hooks removed."""
    verified = Verification("pyramid_features")
    global_before = global_hook_count()
    model = seeded_discriminator(0).train()
    images, names = torch.randn(6, 1, 32, 32, generator=check_rng(1)), ["blocks.0", "blocks.2"]
    before = snapshot(model)
    out = run_pyramid(pyramid_features, model, images, names, GRIDS)
    with verified("hooks removed"):
        expect_no_hooks(model, "After pyramid_features", global_before)
    widths, cells = 8 + 32, sum(grid * grid for grid in GRIDS)
    with verified("the model left in the mode it came in (training, then eval), its BatchNorm statistics "
                  "untouched"):
        expect_left_as_it_came(model, *before, when="After pyramid_features")
        model.eval()
        before = snapshot(model)
        in_eval = run_pyramid(pyramid_features, model, images, names, GRIDS)
        expect_no_hooks(model, "After pyramid_features on a model in eval mode", global_before)
        expect_left_as_it_came(model, *before, when="Called on a model in eval mode, after pyramid_features")
        model.train()
    with verified("1x1, 2x2 and 4x4 max-pools of each named layer, layer by layer, in eval mode, without "
                  "gradients"):
        expect(tuple(out.shape) != (6, 16 * widths),
               "Only the 4x4 grid is there: the pyramid concatenates the 1x1, 2x2 and 4x4 max-pools of every "
               f"layer. See {PROTOCOL_LECTURE}.")
        expect_shape(out, (6, cells * widths),
                     "pyramid_features on 2 layers of widths 8 and 32, grids 1, 2, 4")
        expect(not out.requires_grad, "The features still require gradients: extraction needs no graph, run "
                                      f"the model under torch.no_grad(). See {HOOKS_LECTURE}.")
        frozen = activations_of(model, images, names, train_mode=False)
        mistakes = {
            "these features come from the model in training mode: BatchNorm then normalises with the batch's "
            "statistics, so an image's features depend on the other images in its batch; switch to eval mode "
            f"for the extraction ({HOOKS_LECTURE})":
                pyramid(activations_of(model, images, names, True), GRIDS),
            f"these features are average-pooled; the paper's protocol max-pools ({PROTOCOL_LECTURE})":
                pyramid(frozen, GRIDS, pool=F.adaptive_avg_pool2d),
            "the features are ordered grid by grid: keep each layer's 1x1, 2x2 and 4x4 pools together, layer "
            "after layer": pyramid(frozen, GRIDS, layer_major=False),
        }
        for mistake, wrong in mistakes.items():
            expect(not torch.allclose(out.detach(), wrong, atol=TOLERANCE),
                   f"The features are wrong: {mistake}.")
        expect_close(out, pyramid(frozen, GRIDS), "pyramid_features", atol=TOLERANCE)
        expect_close(in_eval, out, "pyramid_features on the same model handed over in eval mode",
                     atol=TOLERANCE)
    with verified("a batch of one gets the features it gets in a batch"):
        alone = run_pyramid(pyramid_features, model, images[:1], names, GRIDS)
        expect(tuple(alone.shape) == (1, cells * widths),
               f"pyramid_features on one image should return shape (1, {cells * widths}), got "
               f"{tuple(alone.shape)}: keep the batch dimension (flatten(1), not squeeze()).")
        expect_close(alone, out[:1], "pyramid_features on the first image alone vs in its batch",
                     atol=TOLERANCE)
    with verified("layers in the order of layer_names, grids as given"):
        backwards = ["blocks.2", "blocks.0"]
        reordered = run_pyramid(pyramid_features, model, images, backwards, GRIDS)
        expect(not torch.allclose(reordered.detach(), out, atol=TOLERANCE),
               "With layer_names = ['blocks.2', 'blocks.0'] your features come in the order the hooks fired "
               "(the forward pass's order): the exercise asks for each layer's pyramid in the order of "
               "layer_names. Concatenate by looking the names up, not in the order the hooks ran.")
        expect_close(reordered, pyramid(activations_of(model, images, backwards, False), GRIDS),
                     "pyramid_features with layer_names = ['blocks.2', 'blocks.0']", atol=TOLERANCE)
        other_grids = (1, 3)
        regridded = run_pyramid(pyramid_features, model, images, names, other_grids)
        expect(tuple(regridded.shape) == (6, 10 * widths),
               f"With grids=(1, 3) the features should have shape (6, {10 * widths}) (1 + 9 cells per "
               f"channel), got {tuple(regridded.shape)}: pool to the grids passed in, not to a fixed "
               "(1, 2, 4).")
        expect_close(regridded, pyramid(frozen, other_grids), "pyramid_features with grids=(1, 3)",
                     atol=TOLERANCE)
    wiping = Wiping(check_rng(2)).train()
    small = torch.randn(4, 1, 8, 8, generator=check_rng(3))
    wiped = run_pyramid(pyramid_features, wiping, small, ["stem", "body"], GRIDS)
    reference = reference_pyramid(Wiping(check_rng(2)), small, ["stem", "body"], GRIDS)
    with verified("pooled inside the hooks, under torch.no_grad()"):
        expect(not any(wiping.grad_enabled),
               "The forward pass ran with gradient tracking on: extraction needs no graph, and a graph keeps "
               f"every activation alive. Run the model under torch.no_grad(). See {HOOKS_LECTURE}.")
        expect(not torch.isnan(wiped).any(),
               "Your features read activations after the forward pass had moved on (this check's model "
               "overwrites each block's output with NaN once the next block has used it): the hook stored "
               "the full activation and you pooled it later. Pool inside the hook and store only the "
               "pyramid; that is what keeps memory small on large images.")
        expect_close(wiped, reference, "pyramid_features on a second model (layers 'stem' and 'body')",
                     atol=TOLERANCE)
    with verified("hooks removed and the mode restored when the forward pass or a layer lookup fails"):
        for names_tried, failing, when in (
                (["stem", "body"], Wiping(check_rng(2), fail=True),
                 "After a forward pass that raised an error"),
                (["stem", "no_such_layer"], Wiping(check_rng(2)),
                 "After a call whose second layer name does not exist")):
            for mode in (True, False):
                failing.train(mode)
                before = snapshot(failing)
                try:
                    with refusing_shortcuts("pyramid_features"):
                        pyramid_features(failing, small, names_tried, GRIDS)
                except NotImplementedError:
                    raise AssertionError("pyramid_features is not implemented yet.") from None
                except Exception:  # the error must reach the caller; what matters is what it leaves behind
                    pass
                else:
                    raise AssertionError(
                        f"{when.replace('After', 'On')}, pyramid_features returned normally: let the error "
                        "reach the caller (a try/finally removes the hooks without swallowing it).")
                expect_no_hooks(failing, when, global_before)
                expect_left_as_it_came(failing, *before, when=when)
    verified.passed()


def check_batch_prediction(prediction: object, reason: object, feature_gap: object) -> None:
    """Commit ``prediction_batch``, then show the measured change of the same images' train-mode features."""
    commit_prediction("prediction_batch", prediction, ("identical", "different"), reason)
    gap, problem = measured_number(feature_gap, "feature_gap", 0.0, 1e6)
    if gap is None:
        cannot_judge(f"{problem} It should be the largest absolute difference between the two feature "
                     "tensors of the same 8 images: a non-negative number.")
        return
    outcome = "different" if gap > TOLERANCE else "identical"
    why = ("in training mode BatchNorm normalises with the statistics of the batch, so the company an image "
           "keeps changes its features" if outcome == "different" else
           "this network has no layer that mixes the images of a batch")
    judge_prediction(prediction, outcome,  # type: ignore[arg-type]
                     f"The same images' features moved by up to {gap:.3g}: {why}. That is why features are "
                     f"extracted in eval mode ({HOOKS_LECTURE}).")
