"""Utilities with torch.utils' names; ``ember.utils.data`` holds datasets and the DataLoader,
``ember.utils.checkpoint`` activation checkpointing."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
