"""ember.amp: automatic mixed precision, as torch.amp.

``autocast`` runs the forward pass with matmuls and convolutions in float16 and the
range-sensitive ops in float32; ``GradScaler`` scales the loss so small float16 gradients do
not flush to zero, and skips the steps whose gradients overflowed.

Example:
    >>> scaler = ember.amp.GradScaler("cuda")
    >>> for x, y in loader:
    ...     optimizer.zero_grad()
    ...     with ember.autocast("cuda"):
    ...         loss = F.cross_entropy(model(x), y)
    ...     scaler.scale(loss).backward()
    ...     scaler.step(optimizer)
    ...     scaler.update()
"""
from __future__ import annotations

from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]


def __getattr__(name: str):
    # ember.amp is imported while ember itself loads (the ops read its flag); the scaler,
    # which needs the rest of ember, loads on first use.
    if name in ("GradScaler", "grad_scaler"):
        import importlib
        grad_scaler = importlib.import_module(".grad_scaler", __name__)
        globals()["GradScaler"] = grad_scaler.GradScaler

        return grad_scaler if name == "grad_scaler" else grad_scaler.GradScaler
    raise AttributeError(f"module 'ember.amp' has no attribute '{name}'")
