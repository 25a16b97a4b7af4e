"""The training loop of the write-up ember started from, on a small synthetic regression task.

    python examples/seed_loop.py

The model stacks Sequential(Linear, ReLU, ...) and Sequential(Conv2d(64, 128, 3, 1, 1), ReLU,
BatchNorm2d(128)); weights are loaded from a "pretrained" state dict, trained with AdamW and
MSE, and validated in eval mode, just as the original PyTorch-style program did.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout

import ember as torch  # noqa: E402
from ember import nn  # noqa: E402
from ember.optim import AdamW  # noqa: E402
from ember.utils.data import DataLoader, Dataset  # noqa: E402


class Squares(Dataset):
    """Inputs (64, 4, 4) of random values; the target is the scaled mean of four channels."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 64, 4, 4, generator=g)
        self.y = 4 * self.x[:, :4].mean(dim=(1, 2, 3)).unsqueeze(1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class myModel(nn.Module):  # the write-up's name
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(64, 128, kernel_size=3, stride=1, padding=1),
                                  nn.ReLU(), nn.BatchNorm2d(128))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 64), nn.ReLU(),
                                  nn.Linear(64, 1))

    def forward(self, x):
        return self.head(self.conv(x))


def add_noise(sample):
    """The per-sample ``transform=`` the write-up passed to its DataLoader."""
    x, y = sample
    return x + 0.01 * torch.randn_like(x), y


def main(epochs: int = 3, device: str = "cpu") -> list[float]:
    torch.manual_seed(0)
    pretrained = myModel().state_dict()       # stands in for weights loaded from disk
    model = myModel()
    model.load_state_dict(pretrained)
    optimizer = AdamW(model.parameters(), lr=0.001)
    criterion = nn.MSELoss()
    model.to(device)
    criterion.to(device)

    train = DataLoader(Squares(200, seed=1), transform=add_noise, shuffle=True, batch_size=10)
    valid = DataLoader(Squares(50, seed=2), batch_size=10)
    losses = []
    for epoch in range(epochs):
        model.train()
        for x, y in train:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            total = sum(criterion(model(x.to(device)), y.to(device)).item() * len(x)
                        for x, y in valid)
        losses.append(total / len(valid.dataset))
        print(f"epoch {epoch + 1}: validation MSE {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    main()
