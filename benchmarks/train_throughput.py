"""Training throughput: the course's ``train_gan`` against the classic PyTorch DCGAN example loop.

The reference is the loop of pytorch/examples' dcgan/main.py: a Dataset of PIL images, a
per-sample transform (Resize, CenterCrop, ToTensor, Normalize), a DataLoader with 2 workers, and
the D/G updates of the example. Both loops train the same networks with the same batch size on
the same images, in the same process, one after the other. Prints images/s and the ratio.

    python benchmarks/train_throughput.py [--sizes 32 64] [--images 1000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from dcgan_course import settings
from dcgan_course.data import ImageData, load_dataset
from dcgan_course.models import build_gan
from dcgan_course.train import make_optimizers, train_gan

BATCH_SIZE = 64


class PILImages(Dataset):
    """Images kept as PIL objects and transformed one by one, as in the reference example."""

    def __init__(self, data: ImageData, image_size: int) -> None:
        pixels = ((data.images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        self.images = [Image.fromarray(image[0].numpy(), mode="L") for image in pixels]
        self.labels = data.labels.tolist()
        self.transform = transforms.Compose([
            transforms.Resize(image_size), transforms.CenterCrop(image_size),
            transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,)),
        ])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[index]), self.labels[index]


def reference_epoch(generator, discriminator, loader, device, latent_dim) -> int:
    """One epoch of the pytorch/examples DCGAN loop; returns the number of images trained on."""
    criterion = nn.BCEWithLogitsLoss()
    opt_g, opt_d = make_optimizers(generator, discriminator)
    seen = 0
    for real_cpu, _ in loader:
        discriminator.zero_grad()
        real = real_cpu.to(device)
        label = torch.full((real.size(0),), 1.0, device=device)
        error_real = criterion(discriminator(real), label)
        error_real.backward()
        noise = torch.randn(real.size(0), latent_dim, 1, 1, device=device)
        fake = generator(noise)
        label.fill_(0.0)
        error_fake = criterion(discriminator(fake.detach()), label)
        error_fake.backward()
        opt_d.step()
        generator.zero_grad()
        label.fill_(1.0)
        error_g = criterion(discriminator(fake), label)
        error_g.backward()
        opt_g.step()
        seen += real.size(0)
        _ = (error_real + error_fake).item(), error_g.item()  # the example logs these every step
    return seen


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock times are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_reference(data: ImageData, image_size: int, epochs: int, device: torch.device) -> float:
    """Images per second of the reference loop."""
    torch.manual_seed(0)
    generator, discriminator = build_gan(image_size, 1, device=device)
    dataset = PILImages(data, image_size)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=2, drop_last=True,
                        persistent_workers=True)
    reference_epoch(generator, discriminator, loader, device, generator.latent_dim)  # warm-up
    synchronize(device)
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        seen += reference_epoch(generator, discriminator, loader, device, generator.latent_dim)
    synchronize(device)
    return seen / (time.perf_counter() - start)


def time_course(data: ImageData, image_size: int, epochs: int, device: torch.device) -> float:
    """Images per second of ``train_gan`` (data resized once and kept on the device)."""
    torch.manual_seed(0)
    generator, discriminator = build_gan(image_size, 1, device=device)
    resized = tiled_digits(len(data), image_size)
    train_gan(generator, discriminator, resized, 1, BATCH_SIZE, device=device, progress=False)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    history = train_gan(generator, discriminator, resized, 1 + epochs, BATCH_SIZE, device=device,
                        progress=False, seed=1)
    synchronize(device)
    steps = len(history.loss_d)
    return steps * BATCH_SIZE / (time.perf_counter() - start)


def tiled_digits(count: int, image_size: int = 32) -> ImageData:
    """The embedded digits repeated up to ``count`` images (more work per epoch on a GPU)."""
    digits = load_dataset("digits", image_size=image_size)
    repeats = count // len(digits) + 1
    return ImageData(digits.images.repeat(repeats, 1, 1, 1)[:count],
                     digits.labels.repeat(repeats)[:count], digits.classes, "digits")


def main() -> None:
    """Print the throughput table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    device = settings.get_device()
    data = tiled_digits(args.images)
    print(f"device: {device} ({settings.precision_name(device)} for the course loop), "
          f"{args.images} images, batch {BATCH_SIZE}, {args.epochs} timed epoch(s), "
          f"torch threads {torch.get_num_threads()}")
    print("| size | reference img/s | course img/s | course / reference |\n|---|---|---|---|")
    for size in args.sizes:
        reference = time_reference(data, size, args.epochs, device)
        course = time_course(data, size, args.epochs, device)
        print(f"| {size} px | {reference:,.0f} | {course:,.0f} | {course / reference:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
