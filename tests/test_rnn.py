"""RNN, LSTM, GRU and their cells against PyTorch, from the same weights: outputs, final
states and the gradients of the input, the initial state and every parameter."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember
import ember.nn as nn


def _copy_weights(src, dst, lib):
    with lib.no_grad():
        for (name, p), (name2, q) in zip(src.named_parameters(), dst.named_parameters()):
            assert name == name2
            q.copy_(lib.tensor(p.detach().numpy()))


def _run(lib, module, x, hx, batched_grads=True):
    x = lib.tensor(x, requires_grad=True)
    if hx is not None:
        hx = tuple(lib.tensor(h, requires_grad=True) for h in hx)
    out = module(x, None if hx is None else (hx if len(hx) == 2 else hx[0]))
    out_t = out if isinstance(out, tuple) else (out,)
    flat = []
    for o in out_t:
        flat += list(o) if isinstance(o, tuple) else [o]
    flat = [o for o in flat if o is not None]
    rng = np.random.default_rng(7)
    loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)).astype(np.float32))).sum()
               for o in flat)
    loss.backward()
    grads = [x.grad.numpy()] + ([h.grad.numpy() for h in hx] if hx is not None else [])
    grads += [p.grad.numpy() for _, p in module.named_parameters()]
    return [o.detach().numpy() for o in flat], grads


_RNN_CASES = [dict(zip(("kind", "layers", "bidirectional", "batch_first", "bias", "extra"), c))
              for c in itertools.product(("RNN", "LSTM", "GRU"), (1, 2), (False, True),
                                         (False, True), (True, False), ({}, "special"))]


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")  # both warn: one layer
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("case", _RNN_CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize("with_hx", [False, True])
def test_recurrent_layers_match_torch(torch, case, with_hx):
    extra = {}
    if case["extra"] == "special":  # relu for RNN, a projection for LSTM, dropout for GRU
        extra = {"RNN": dict(nonlinearity="relu"), "LSTM": dict(proj_size=3),
                 "GRU": dict(dropout=0.3)}[case["kind"]]
    kwargs = dict(num_layers=case["layers"], bidirectional=case["bidirectional"],
                  batch_first=case["batch_first"], bias=case["bias"], **extra)
    ours = getattr(nn, case["kind"])(4, 5, **kwargs)
    theirs = getattr(torch.nn, case["kind"])(4, 5, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _copy_weights(theirs, ours, ember)
    ours.eval(), theirs.eval()  # dropout off: the same numbers on both sides
    rng = np.random.default_rng(3)
    seq, batch = 6, 3
    x = rng.standard_normal((batch, seq, 4) if case["batch_first"] else (seq, batch, 4))
    x = x.astype(np.float32)
    hx = None
    if with_hx:
        d = case["layers"] * (2 if case["bidirectional"] else 1)
        h = rng.standard_normal((d, batch, extra.get("proj_size", 5))).astype(np.float32)
        hx = (h, rng.standard_normal((d, batch, 5)).astype(np.float32)) \
            if case["kind"] == "LSTM" else (h,)
    (eo, eg), (to, tg) = _run(ember, ours, x, hx), _run(torch, theirs, x, hx)
    for e, t in zip(eo + eg, to + tg):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_sequences_match_torch(torch, kind):
    ours, theirs = getattr(nn, kind)(3, 4, 2), getattr(torch.nn, kind)(3, 4, 2)
    _copy_weights(theirs, ours, ember)
    x = np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32)
    (eo, eg), (to, tg) = _run(ember, ours, x, None), _run(torch, theirs, x, None)
    for e, t in zip(eo + eg, to + tg):
        np.testing.assert_allclose(e, t, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind, bias, batched", itertools.product(
    ["RNNCell", "LSTMCell", "GRUCell"], [True, False], [True, False]))
def test_cells_match_torch(torch, kind, bias, batched):
    ours, theirs = getattr(nn, kind)(3, 4, bias=bias), getattr(torch.nn, kind)(3, 4, bias=bias)
    assert repr(ours) == repr(theirs)
    _copy_weights(theirs, ours, ember)
    rng = np.random.default_rng(5)
    shape = (2, 3) if batched else (3,)
    x = rng.standard_normal(shape).astype(np.float32)
    h = rng.standard_normal(shape[:-1] + (4,)).astype(np.float32)
    hx = (h, rng.standard_normal(h.shape).astype(np.float32)) if kind == "LSTMCell" else (h,)
    for state in (None, hx):
        (eo, eg), (to, tg) = _run(ember, ours, x, state), _run(torch, theirs, x, state)
        for e, t in zip(eo + eg, to + tg):
            np.testing.assert_allclose(e, t, rtol=2e-4, atol=2e-5)
        for m in (ours, theirs):
            m.zero_grad()


def test_state_dict_moves_between_ember_and_torch(torch):
    theirs = torch.nn.LSTM(3, 6, 2, bidirectional=True, proj_size=2)
    ours = nn.LSTM(3, 6, 2, bidirectional=True, proj_size=2)
    ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x))[0].detach().numpy(),
                               theirs(torch.tensor(x))[0].detach().numpy(), rtol=1e-4,
                               atol=1e-5)


def test_initialisation_bounds_and_errors():
    lstm = nn.LSTM(3, 16)
    for p in lstm.parameters():
        assert float(p.abs().max()) <= 0.25  # U(-1/sqrt(16), 1/sqrt(16))
    with pytest.raises(RuntimeError, match="input_size"):
        lstm(ember.ones(5, 2, 4))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        lstm(ember.ones(5, 2, 3), (ember.zeros(1, 3, 16), ember.zeros(1, 2, 16)))
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.RNN(3, 4)(ember.ones(2, 2, 2, 3))


def test_dropout_between_layers_in_training_only():
    ember.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=3, dropout=0.5)
    x = ember.randn(5, 2, 3)
    gru.eval()
    first, second = gru(x)[0], gru(x)[0]
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    gru.train()
    assert not np.array_equal(gru(x)[0].detach().numpy(), first.detach().numpy())


# -- packed sequences -----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("kind, kwargs", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2)),
    ("GRU", dict(num_layers=2)),
    ("RNN", dict(bidirectional=True, nonlinearity="relu")),
])
@pytest.mark.parametrize("sorted_batch, with_hx", [(False, True), (True, False)])
def test_packed_sequences_match_torch(torch, kind, kwargs, sorted_batch, with_hx):
    ours, theirs = getattr(nn, kind)(3, 5, **kwargs), getattr(torch.nn, kind)(3, 5, **kwargs)
    _copy_weights(theirs, ours, ember)
    rng = np.random.default_rng(8)
    lengths = [6, 4, 4, 1] if sorted_batch else [3, 6, 1, 4]
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    d = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h = rng.standard_normal((d, 4, kwargs.get("proj_size", 5))).astype(np.float32)
    c = rng.standard_normal((d, 4, 5)).astype(np.float32)
    results = []
    for lib, module in ((ember, ours), (torch, theirs)):
        rnn_utils = lib.nn.utils.rnn
        xt = lib.tensor(x, requires_grad=True)
        states = None
        if with_hx:
            states = [lib.tensor(h, requires_grad=True)] + \
                ([lib.tensor(c, requires_grad=True)] if kind == "LSTM" else [])
        packed = rnn_utils.pack_padded_sequence(xt, lengths, enforce_sorted=sorted_batch)
        out, hn = module(packed, None if states is None else
                         (tuple(states) if kind == "LSTM" else states[0]))
        padded, out_lengths = rnn_utils.pad_packed_sequence(out, padding_value=-1.0)
        finals = list(hn) if kind == "LSTM" else [hn]
        g = np.random.default_rng(9)
        loss = sum((t * lib.tensor(g.standard_normal(tuple(t.shape)).astype(np.float32))).sum()
                   for t in [padded] + finals)
        loss.backward()
        grads = [xt.grad.numpy()] + [s.grad.numpy() for s in states or []]
        grads += [p.grad.numpy() for _, p in module.named_parameters()]
        results.append(([padded.detach().numpy(), out_lengths.numpy()] +
                        [t.detach().numpy() for t in finals], grads))
    for e, t in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=2e-4, atol=2e-5)


def test_pad_and_pack_utilities_match_torch(torch):
    rng = np.random.default_rng(10)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 5, 3)]
    ember_seqs, torch_seqs = [ember.tensor(s) for s in seqs], [torch.tensor(s) for s in seqs]
    for kw in (dict(), dict(batch_first=True), dict(padding_side="left", padding_value=7.0)):
        np.testing.assert_array_equal(
            ember.nn.utils.rnn.pad_sequence(ember_seqs, **kw).numpy(),
            torch.nn.utils.rnn.pad_sequence(torch_seqs, **kw).numpy())
    ours = ember.nn.utils.rnn.pack_sequence(ember_seqs, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_sequence(torch_seqs, enforce_sorted=False)
    for e, t in zip(ours, theirs):
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    padded, lengths = ember.nn.utils.rnn.pad_packed_sequence(ours, batch_first=True,
                                                             total_length=6)
    t_padded, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(theirs, batch_first=True,
                                                                 total_length=6)
    np.testing.assert_array_equal(padded.numpy(), t_padded.numpy())
    np.testing.assert_array_equal(lengths.numpy(), t_lengths.numpy())
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        ember.nn.utils.rnn.pack_sequence(ember_seqs)
    with pytest.raises(ValueError, match="total_length"):
        ember.nn.utils.rnn.pad_packed_sequence(ours, total_length=2)
