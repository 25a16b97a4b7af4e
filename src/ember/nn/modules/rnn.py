"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's parameters.

Each step is composed from ember ops (linear, sigmoid, tanh, ...), so autograd runs through
time with no backward of its own. The input projections of a whole sequence are one matmul
per layer and direction; only the hidden-state product runs step by step.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ... import creation
from ...ops import elementwise as ew
from ...ops import indexing, movement
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ..utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# -- one time step of each kind; ``xw`` is the input's projection (with its bias) ---------------
def _rnn_step(activation):
    def step(xw, h, c, w_hh, b_hh, w_hr):
        return activation(xw + F.linear(h, w_hh, b_hh)), None
    return step


def _lstm_step(xw, h, c, w_hh, b_hh, w_hr):
    i, f, g, o = movement.chunk(xw + F.linear(h, w_hh, b_hh), 4, 1)
    c = ew.sigmoid(f) * c + ew.sigmoid(i) * ew.tanh(g)
    h = ew.sigmoid(o) * ew.tanh(c)
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _gru_step(xw, h, c, w_hh, b_hh, w_hr):
    x_r, x_z, x_n = movement.chunk(xw, 3, 1)
    h_r, h_z, h_n = movement.chunk(F.linear(h, w_hh, b_hh), 3, 1)
    r = ew.sigmoid(x_r + h_r)
    z = ew.sigmoid(x_z + h_z)
    n = ew.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h, None


_STEPS = {"RNN_TANH": _rnn_step(ew.tanh), "RNN_RELU": _rnn_step(ew.relu), "LSTM": _lstm_step,
          "GRU": _gru_step}


def _uniform_init(module: Module, hidden_size: int) -> None:
    """PyTorch's initialisation: every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrent layer behind RNN, LSTM and GRU.

    Parameters are PyTorch's, in its order and with its names (``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, then ``weight_hr_l0`` with a
    projection; ``_reverse`` for the backward direction), so state dicts move both ways.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be an integer greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be an integer greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gates = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [("weight_ih", (gates, layer_input)), ("weight_hh", (gates, out_size))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    self.register_parameter(f"{name}_l{layer}{suffix}", Parameter(
                        creation.empty(shape, device=device, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def _weights(self, layer: int, reverse: bool):
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        return tuple(getattr(self, name + suffix, None)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D instead")
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        self._check_input(input)
        if input.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}: expected a sequence of at least one step, "
                             f"got input of shape {tuple(input.shape)}")
        steps, n = input.shape[:2]
        if hx is not None and not batched:
            hx = tuple(s.unsqueeze(1) for s in hx) if self.mode == "LSTM" else hx.unsqueeze(1)
        h0, c0 = self._initial_state(n, input, hx)
        # the steps one after another, as a packed sequence whose batch never shrinks
        data, h_n, c_n = self._run(input.reshape(steps * n, input.shape[2]), [n] * steps,
                                   h0, c0)
        output = data.reshape(steps, n, data.shape[1])
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _forward_packed(self, input: PackedSequence, hx):
        data, batch_sizes, sorted_indices, unsorted_indices = input
        self._check_input(data)
        sizes = [int(b) for b in batch_sizes.numpy()]
        if hx is not None and sorted_indices is not None:  # hx is in the caller's batch order
            hx = tuple(indexing.index_select(s, 1, sorted_indices) for s in hx) \
                if self.mode == "LSTM" else indexing.index_select(hx, 1, sorted_indices)
        h0, c0 = self._initial_state(sizes[0], data, hx)
        out, h_n, c_n = self._run(data, sizes, h0, c0)
        if unsorted_indices is not None:
            h_n = indexing.index_select(h_n, 1, unsorted_indices)
            c_n = None if c_n is None else indexing.index_select(c_n, 1, unsorted_indices)
        state = (h_n, c_n) if self.mode == "LSTM" else h_n
        return PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices), state

    def _check_input(self, input: Tensor) -> None:
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _run(self, data: Tensor, sizes: list, h0: Tensor, c0: Tensor | None):
        """All layers over ``data`` (sum(sizes), features): the steps one after another,
        ``sizes[t]`` rows at step t (non-increasing: the sequences still running). Returns
        the last layer's outputs in the same layout, and the final states."""
        starts = np.cumsum([0] + sizes[:-1]).tolist()
        directions = 2 if self.bidirectional else 1
        step = _STEPS[self.mode]
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d == 1)
                xw = F.linear(data, w_ih, b_ih)  # every step's input projection at once
                k = layer * directions + d
                h, c = h0[k], None if c0 is None else c0[k]
                ys = [None] * len(sizes)
                for t in (reversed(range(len(sizes))) if d else range(len(sizes))):
                    x, rows = xw[starts[t]:starts[t] + sizes[t]], sizes[t]
                    if rows == h.shape[0]:
                        h, c = step(x, h, c, w_hh, b_hh, w_hr)
                        ys[t] = h
                    else:  # the sequences that have ended keep their last state
                        h_t, c_t = step(x, h[:rows], None if c is None else c[:rows], w_hh,
                                        b_hh, w_hr)
                        ys[t] = h_t
                        h = movement.cat([h_t, h[rows:]])
                        c = None if c is None else movement.cat([c_t, c[rows:]])
                outputs.append(movement.cat(ys))
                h_n.append(h)
                c_n.append(c)
            data = outputs[0] if directions == 1 else movement.cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        c_n = movement.stack(c_n) if self.mode == "LSTM" else None
        return data, movement.stack(h_n), c_n

    def _initial_state(self, n: int, like: Tensor, hx):
        """(h0, c0) as (layers * directions, n, size) tensors; zeros when hx is None."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        h_shape = (layers, n, self.proj_size or self.hidden_size)
        c_shape = (layers, n, self.hidden_size)
        if hx is None:
            h0 = creation.zeros(h_shape, dtype=like.dtype, device=like.device)
            c0 = creation.zeros(c_shape, dtype=like.dtype, device=like.device) \
                if self.mode == "LSTM" else None
            return h0, c0
        states = tuple(hx) if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and len(states) != 2:
            raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
        for s, shape in zip(states, (h_shape, c_shape)):
            if tuple(s.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {tuple(s.shape)}")
        return states[0], (states[1] if self.mode == "LSTM" else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("proj_size", 0), ("num_layers", 1), ("bias", True),
                              ("batch_first", False), ("dropout", 0), ("bidirectional", False)):
            value = getattr(self, name)
            if value != default:  # PyTorch's order; only what differs from the defaults
                s += f", {name}={value}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or ReLU).

    Input (L, N, H_in), (N, L, H_in) with ``batch_first``, or unbatched (L, H_in); returns
    (output, h_n).

    Example::

        >>> rnn = nn.RNN(10, 20, 2)
        >>> out, h = rnn(ember.randn(5, 3, 10))
        >>> out.shape, h.shape
        (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate order (input, forget, cell, output).

    Returns (output, (h_n, c_n)); ``proj_size`` projects each hidden state (LSTMP).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order (reset, update, new); returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# -- cells: one step, (N, H_in) or unbatched (H_in,) ----------------------------------------------
class RNNCellBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, device,
                 dtype) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, \
            hidden_size, bias
        gates = _GATES[mode] * hidden_size
        shapes = [("weight_ih", (gates, input_size)), ("weight_hh", (gates, hidden_size))]
        for name, shape in shapes + ([("bias_ih", (gates,)), ("bias_hh", (gates,))]
                                     if bias else []):
            self.register_parameter(name, Parameter(creation.empty(shape, device=device,
                                                                   dtype=dtype)))
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def _step(self, input: Tensor, hx, n_states: int):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = creation.zeros((x.shape[0], self.hidden_size), dtype=x.dtype,
                                   device=x.device)
            states = (zeros,) * n_states
        else:
            states = tuple(hx) if n_states == 2 else (hx,)
            states = states if batched else tuple(s.unsqueeze(0) for s in states)
        h, c = _STEPS[self.mode](F.linear(x, self.weight_ih, self.bias_ih), states[0],
                                 states[1] if n_states == 2 else None, self.weight_hh,
                                 self.bias_hh, None)
        if not batched:
            h, c = h.squeeze(0), None if c is None else c.squeeze(0)
        return h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or ReLU)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, 1)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` is (h, c) and so is the result."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx=None):
        return self._step(input, hx, 2)


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, 1)[0]
