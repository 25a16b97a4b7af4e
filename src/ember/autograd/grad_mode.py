"""no_grad, enable_grad, set_grad_enabled, inference_mode: context managers and decorators."""
from __future__ import annotations

import functools


class _State:
    # One module-level flag, read on every op; a class attribute is the cheapest global here.
    enabled = True
    anomaly = False
    inference = False  # inside an inference_mode(True) block (is_inference_mode_enabled)


def is_grad_enabled() -> bool:
    return _State.enabled


class _GradMode:
    """Sets grad mode inside a ``with`` block or a decorated function, then restores it."""

    mode = True

    def __enter__(self):
        self._prev = _State.enabled
        _State.enabled = self.mode

    def __exit__(self, *exc):
        _State.enabled = self._prev
        return False

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _State.enabled
            _State.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                _State.enabled = prev
        return wrapper


class _NoParamDecorator(_GradMode):
    def __new__(cls, func=None):
        # Allows both ``@no_grad()`` and ``@no_grad``.
        self = super().__new__(cls)
        return self if func is None else self(func)


class no_grad(_NoParamDecorator):
    """Disables gradient recording: ops inside produce tensors with requires_grad=False."""
    mode = False

    def __init__(self, func=None):
        pass


class enable_grad(_NoParamDecorator):
    """Re-enables gradient recording inside a no_grad block."""
    mode = True

    def __init__(self, func=None):
        pass


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` works as a call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self._prev = _State.enabled
        self.mode = bool(mode)
        _State.enabled = self.mode

    def __enter__(self):
        pass  # the mode was set by __init__, which also remembered the previous one

    def __call__(self, func):
        _State.enabled = self._prev  # as a decorator it must not change the mode right away
        return super().__call__(func)


class inference_mode(_GradMode):
    """Like no_grad (ember has no separate inference tensors); ``inference_mode(False)`` is a no-op."""

    def __init__(self, mode: bool = True):
        self.mode = not mode
        self.inference = bool(mode)

    def __enter__(self):
        self._prev_inference = _State.inference
        _State.inference = self.inference
        super().__enter__()

    def __exit__(self, *exc):
        _State.inference = self._prev_inference
        return super().__exit__(*exc)

    def __call__(self, func):
        inner = super().__call__(func)
        inference = self.inference

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _State.inference
            _State.inference = inference
            try:
                return inner(*args, **kwargs)
            finally:
                _State.inference = prev
        return wrapper
