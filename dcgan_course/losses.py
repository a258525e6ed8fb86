"""GAN losses on D's raw outputs (logits): each returns the pair (loss of D, loss of G), batch means.

- ``gan_loss``: binary cross-entropy against an all-real or all-fake target, the course's loss,
  used by ``train``, ``improve`` and ``translation``; ``bce`` pairs it up for D and G.
- ``bce``: the original GAN. D: BCE with real -> 1, fake -> 0. G: the non-saturating
  -log D(G(z)) (``minimax_generator_loss`` is the saturating log(1 - D(G(z))) it replaces).
- ``lsgan``: least squares (Mao et al., 2017), targets 1 for real and 0 for fake, with the 1/2.
- ``hinge``: D pushes real outputs above +1 and fake ones below -1; G raises D's output on fakes
  (Lim & Ye, 2017; SN-GAN, BigGAN). WGAN-GP's critic loss is the hinge's without the hinge,
  plus a gradient penalty.
The theory notebook compares them; the exercises of notebook 03 ask for LSGAN and hinge.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LossPair = tuple[torch.Tensor, torch.Tensor]


def gan_loss(logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Binary cross-entropy on logits against an all-real (1) or all-fake (0) target."""
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def bce(real: torch.Tensor, fake: torch.Tensor) -> LossPair:
    """D: BCE(real, 1) + BCE(fake, 0); G: the non-saturating BCE(fake, 1)."""
    return gan_loss(real, True) + gan_loss(fake, False), gan_loss(fake, True)


def minimax_generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """G's loss in the minimax game, log(1 - D(G(z))) = -BCE(fake, 0): flat where D rejects the fakes."""
    return -gan_loss(fake, False)


def lsgan(real: torch.Tensor, fake: torch.Tensor) -> LossPair:
    """D: ½(D(x) - 1)² + ½D(G(z))²; G: ½(D(G(z)) - 1)²."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), 0.5 * ((fake - 1) ** 2).mean()


def hinge(real: torch.Tensor, fake: torch.Tensor) -> LossPair:
    """D: max(0, 1 - D(x)) + max(0, 1 + D(G(z))); G: -D(G(z))."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean(), -fake.mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], LossPair]] = {
    "bce": bce, "lsgan": lsgan, "hinge": hinge,
}
