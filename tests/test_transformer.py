"""Transformer layers, stacks and nn.Transformer against PyTorch from the same weights."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember
import ember.nn as nn

RTOL, ATOL = 2e-4, 2e-5


def _same_weights(src, dst):
    dst.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _outputs_and_grads(lib, module, arrays, masks, call):
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = call(module, *inputs, **{k: None if v is None else lib.tensor(v)
                                   for k, v in masks.items()})
    g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32)
    (out * lib.tensor(g)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in inputs] + \
        [p.grad.numpy() for _, p in module.named_parameters()]


def _compare(torch, make, arrays, masks, call):
    theirs = make(torch.nn)
    ours = make(nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _same_weights(theirs, ours)
    results = [_outputs_and_grads(ember, ours, arrays, masks, call),
               _outputs_and_grads(torch, theirs, arrays, masks, call)]
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=RTOL, atol=ATOL)


def _masks(kind, length, batch):
    causal = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    padding = np.zeros((batch, length), bool)
    padding[0, -2:] = True
    return {"none": {}, "causal": {"mask": causal}, "padding": {"padding": padding}}[kind]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("norm_first, activation, batch_first, masks", list(itertools.product(
    [False, True], ["relu", "gelu"], [False, True], ["none", "causal", "padding"])))
def test_encoder_layer_and_stack_match_torch(torch, norm_first, activation, batch_first, masks):
    rng = np.random.default_rng(2)
    length, batch = 5, 3
    x = rng.standard_normal((batch, length, 8) if batch_first else (length, batch, 8))
    m = _masks(masks, length, batch)

    def layer(lib_nn):
        return lib_nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation,
                                              batch_first=batch_first, norm_first=norm_first)

    def call(module, src, mask=None, padding=None):
        return module(src, mask, padding)
    _compare(torch, layer, [x.astype(np.float32)], {"mask": m.get("mask"),
                                                    "padding": m.get("padding")}, call)

    def stack(lib_nn):
        return lib_nn.TransformerEncoder(layer(lib_nn), 2, norm=lib_nn.LayerNorm(8))
    _compare(torch, stack, [x.astype(np.float32)], {"mask": m.get("mask"),
                                                    "padding": m.get("padding")}, call)


@pytest.mark.parametrize("norm_first, batch_first", list(itertools.product([False, True],
                                                                            [False, True])))
def test_decoder_layer_and_transformer_match_torch(torch, norm_first, batch_first):
    rng = np.random.default_rng(3)
    src_len, tgt_len, batch = 6, 4, 2

    def shaped(length):
        shape = (batch, length, 8) if batch_first else (length, batch, 8)
        return rng.standard_normal(shape).astype(np.float32)
    tgt, memory = shaped(tgt_len), shaped(src_len)
    causal = np.triu(np.full((tgt_len, tgt_len), -np.inf, np.float32), 1)
    memory_padding = np.zeros((batch, src_len), bool)
    memory_padding[1, -3:] = True

    def decoder_layer(lib_nn):
        return lib_nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first,
                                              norm_first=norm_first)

    def call_decoder(module, tgt, memory, tgt_mask=None, memory_padding=None):
        return module(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_padding)
    masks = {"tgt_mask": causal, "memory_padding": memory_padding}
    _compare(torch, decoder_layer, [tgt, memory], masks, call_decoder)

    def transformer(lib_nn):
        return lib_nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, batch_first=batch_first,
                                  norm_first=norm_first)

    def call_transformer(module, src, tgt, tgt_mask=None, memory_padding=None):
        return module(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=memory_padding,
                      memory_key_padding_mask=memory_padding)
    _compare(torch, transformer, [memory, tgt], masks, call_transformer)


def test_square_subsequent_mask_and_errors(torch):
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="feature number"):
        model(ember.ones(3, 2, 8), ember.ones(3, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3)
    first, second = stack.layers[0], stack.layers[1]
    assert first is not second and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.detach().numpy(),
                                  second.linear1.weight.detach().numpy())  # copies, as torch
