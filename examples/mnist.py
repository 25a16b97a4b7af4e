"""Train a LeNet-5 on MNIST with ember, exactly as one would with PyTorch.

    python examples/mnist.py                      # the bundled 5,000-digit sample
    python examples/mnist.py --data-dir ~/mnist   # full MNIST or Fashion-MNIST IDX files
    python examples/mnist.py --plot curves.png --save lenet.safetensors

Everything below is plain PyTorch code with `import ember as torch`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout

import ember as torch  # noqa: E402
from ember import nn, optim  # noqa: E402
from ember.nn import functional as F  # noqa: E402
from ember.utils.data import DataLoader  # noqa: E402
from ember.vision import datasets, transforms  # noqa: E402

MEAN, STD = 0.1307, 0.3081


class LeNet5(nn.Module):
    """LeCun et al. (1998), with ReLU and max pooling."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 6x14x14
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),            # 16x5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                                            # 400
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train LeNet-5 on MNIST with ember.")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--data-dir", default=None,
                   help="folder with MNIST/Fashion-MNIST IDX files (default: bundled sample)")
    p.add_argument("--fashion", action="store_true", help="read Fashion-MNIST from --data-dir")
    p.add_argument("--save", default=None,
                   help="write a checkpoint here after every epoch ('{epoch}' in PATH: one each)")
    p.add_argument("--resume", default=None, help="continue from this checkpoint")
    p.add_argument("--plot", default=None, help="write loss/accuracy curves and predictions (PNG)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def make_loaders(args):
    dataset = datasets.FashionMNIST if args.fashion else datasets.MNIST
    train_tf = transforms.Compose([
        transforms.RandomCrop(28, padding=2),  # random shifts of up to 2 pixels
        transforms.ToTensor(),
        transforms.Normalize((MEAN,), (STD,)),
    ])
    test_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train = dataset(args.data_dir, train=True, transform=train_tf)
    test = dataset(args.data_dir, train=False, transform=test_tf)
    pin = args.device.startswith("cuda")
    return (DataLoader(train, batch_size=args.batch_size, shuffle=True, pin_memory=pin),
            DataLoader(test, batch_size=500, pin_memory=pin), test)


def progress(loader, epoch, enabled):
    if not enabled:
        return loader
    try:
        from tqdm import tqdm
    except ImportError:
        return loader
    return tqdm(loader, desc=f"epoch {epoch:>2}", leave=False, unit="batch", dynamic_ncols=True)


def train_epoch(model, loader, optimizer, scheduler, device, epoch, show_progress):
    model.train()
    total_loss, seen, start = torch.zeros((), device=device), 0, time.perf_counter()
    bar = progress(loader, epoch, show_progress)
    for step, (images, labels) in enumerate(bar):
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.detach() * len(labels)  # stays on the device: no sync per step
        seen += len(labels)
        if bar is not loader and step % 10 == 9:
            bar.set_postfix(loss=f"{total_loss.item() / seen:.4f}",
                            img_s=f"{seen / (time.perf_counter() - start):.0f}")
    return total_loss.item() / seen


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    total_loss, correct, seen, predictions = 0.0, 0, 0, []
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        predicted = logits.argmax(dim=1)
        correct += (predicted == labels).sum().item()
        seen += len(labels)
        predictions.append(predicted.cpu())
    return total_loss / seen, correct / seen, torch.cat(predictions)


def save_checkpoint(path, model, optimizer, scheduler, epoch, history):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": epoch, "history": history,
                "rng": torch.get_rng_state()}, path)


def plot(path, history, test_set, predictions):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig = plt.figure(figsize=(13, 5.5))
    outer = fig.add_gridspec(1, 2, width_ratios=(1, 1.25), wspace=0.25)
    ax = fig.add_subplot(outer[0])
    epochs = range(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train loss")
    ax.plot(epochs, history["test_loss"], label="test loss")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("cross-entropy")
    ax.legend(loc="upper left")
    acc = ax.twinx()
    acc.plot(epochs, [100 * a for a in history["test_acc"]], "g.-", label="test accuracy")
    acc.set_ylabel("test accuracy (%)")
    acc.legend(loc="upper right")
    images, labels = test_set.data, test_set.targets
    digits = outer[1].subgridspec(4, 7, wspace=0.05, hspace=0.35)
    for i in range(28):
        cell = fig.add_subplot(digits[i // 7, i % 7])
        cell.imshow(images[i].numpy(), cmap="gray")
        wrong = int(predictions[i]) != int(labels[i])
        cell.set_title(f"{int(predictions[i])}" + (f" ({int(labels[i])})" if wrong else ""),
                       color="red" if wrong else "black", fontsize=9)
        cell.axis("off")
    fig.suptitle("LeNet-5 on MNIST with ember: curves, and test digits with predicted labels "
                 "(red: wrong, true label in brackets)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    train_loader, test_loader, test_set = make_loaders(args)

    model = LeNet5().to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                              steps_per_epoch=len(train_loader))
    history = {"train_loss": [], "test_loss": [], "test_acc": []}
    first_epoch = 1
    if args.resume:
        state = torch.load(args.resume, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history, first_epoch = state["history"], state["epoch"] + 1

    print(f"LeNet-5 on {len(train_loader.dataset)} training / {len(test_set)} test images, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, device {device}")
    start = time.perf_counter()
    predictions = None
    for epoch in range(first_epoch, args.epochs + 1):
        epoch_start = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer, scheduler, device, epoch,
                                 not args.no_progress)
        test_loss, test_acc, predictions = evaluate(model, test_loader, device)
        for key, value in zip(history, (train_loss, test_loss, test_acc)):
            history[key].append(value)
        print(f"epoch {epoch:>2}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {100 * test_acc:.1f}%  {time.perf_counter() - epoch_start:.1f}s",
              flush=True)
        if args.save:
            save_checkpoint(args.save.format(epoch=epoch), model, optimizer, scheduler, epoch,
                            history)
    if predictions is None:
        _, _, predictions = evaluate(model, test_loader, device)
    final = history["test_acc"][-1] if history["test_acc"] else float("nan")
    print(f"final test accuracy {100 * final:.1f}% in {time.perf_counter() - start:.1f}s")
    if args.plot:
        plot(args.plot, history, test_set, predictions)
        print(f"wrote {args.plot}")
    return final


if __name__ == "__main__":
    main()
