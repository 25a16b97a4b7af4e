"""ember.utils.data: datasets, samplers, collation and the DataLoader (with worker processes).

References: torch.utils.data where torch is importable (collation, batching, split lengths),
otherwise hand-computed values. Worker tests use 2 workers and tiny datasets.
"""
from __future__ import annotations

import collections
import gc
import importlib.util
import os
import random
import time

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                              IterableDataset, RandomSampler, SequentialSampler, Subset,
                              SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                              default_collate, default_convert, get_worker_info, random_split)

# torch is imported only inside the tests that use it: spawned workers import this module
# and must not pay for importing torch
HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="needs torch as the reference")


def _torch():
    return pytest.importorskip("torch") if HAVE_TORCH else None
Point = collections.namedtuple("Point", ["x", "y"])


# -- module-level datasets (worker processes, including spawned ones, must find them) ------

class Range(Dataset):
    """Sample i is the int i."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return i


class Failing(Range):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return i


class Dying(Range):
    def __getitem__(self, i):
        if get_worker_info() is not None and i == 3:
            os._exit(3)
        return i


class Slow(Range):
    def __getitem__(self, i):
        time.sleep(0.5)
        return i


class WorkerView(Range):
    """Sample i records who loaded it: (i, worker id, pid, init marker, seeds seen)."""

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "pid": os.getpid(), "init": _INIT_MARK, "ember": ember.rand(1).item(),
                "numpy": float(np.random.rand()), "random": random.random()}


class Stream(IterableDataset):
    """0..n-1, sharded across workers by get_worker_info when shard=True."""

    def __init__(self, n: int, shard: bool = True) -> None:
        self.n, self.shard = n, shard

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


_INIT_MARK = None


def _mark_init(worker_id: int) -> None:
    global _INIT_MARK
    _INIT_MARK = 100 + worker_id


def _unpicklable_collate(batch):
    return lambda: batch


def _values(loader) -> list:
    return [b.tolist() if isinstance(b, ember.Tensor) else b for b in loader]


# -- datasets ------------------------------------------------------------------------------

def test_tensor_dataset():
    x = ember.arange(12).reshape(4, 3)
    y = ember.tensor([0, 1, 0, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert xi.tolist() == [6, 7, 8] and yi.item() == 0
    rows, labels = ds[[0, 3]]
    assert rows.tolist() == [[0, 1, 2], [9, 10, 11]] and labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, ember.zeros(3))


def test_subset_and_getitems():
    ds = Subset(Range(10), [7, 2, 5])
    assert len(ds) == 3
    assert [ds[i] for i in range(3)] == [7, 2, 5]
    assert ds.__getitems__([2, 0]) == [5, 7]
    nested = Subset(ds, [2, 1])
    assert nested.__getitems__([0, 1]) == [5, 2]


def test_concat_dataset():
    a, b = Range(3), Subset(Range(10), [9, 8])
    ds = ConcatDataset([a, b])
    assert len(ds) == 5 and ds.cumulative_sizes == [3, 5]
    assert [ds[i] for i in range(5)] == [0, 1, 2, 9, 8]
    assert ds[-1] == 8 and ds[-5] == 0
    with pytest.raises(ValueError, match="absolute value"):
        ds[-6]
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([a, Stream(2)])
    added = a + b
    assert isinstance(added, ConcatDataset) and [added[i] for i in range(5)] == [0, 1, 2, 9, 8]


@needs_torch
def test_concat_cumulative_sizes_match_torch():
    torch = _torch()
    sizes = [3, 0, 4, 1]
    ours = ConcatDataset([Range(n) for n in sizes])
    theirs = torch.utils.data.ConcatDataset([Range(n) for n in sizes])
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(len(ours))] == [theirs[i] for i in range(len(theirs))]


def test_chain_dataset():
    ds = Stream(3) + Stream(2)
    assert isinstance(ds, ChainDataset)
    assert list(ds) == [0, 1, 2, 0, 1] and len(ds) == 5


def test_base_dataset_not_implemented():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())


# -- random_split ----------------------------------------------------------------------------

def _split_lengths_reference(n, fractions):
    torch = _torch()
    if torch is not None:
        return [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
    return None


@pytest.mark.parametrize("n, fractions, expected", [
    (10, [0.8, 0.2], [8, 2]),
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),
    (7, [0.5, 0.5], [4, 3]),
    (11, [0.1, 0.2, 0.3, 0.4], [2, 2, 3, 4]),
])
def test_random_split_fractions(n, fractions, expected):
    parts = random_split(Range(n), fractions, generator=ember.Generator().manual_seed(0))
    lengths = [len(p) for p in parts]
    assert lengths == expected
    reference = _split_lengths_reference(n, fractions)
    if reference is not None:
        assert lengths == reference
    items = sorted(x for p in parts for x in (p[i] for i in range(len(p))))
    assert items == list(range(n))


def test_random_split_lengths_and_reproducibility():
    first = random_split(Range(10), [3, 7], generator=ember.Generator().manual_seed(1))
    again = random_split(Range(10), [3, 7], generator=ember.Generator().manual_seed(1))
    assert [p.indices for p in first] == [p.indices for p in again]
    assert sorted(first[0].indices + first[1].indices) == list(range(10))
    ember.manual_seed(5)
    a = random_split(Range(10), [5, 5])
    ember.manual_seed(5)
    b = random_split(Range(10), [5, 5])
    assert [p.indices for p in a] == [p.indices for p in b]


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Range(10), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Range(10), [0.5, 0.6])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Range(2), [0.9, 0.1])


# -- samplers ------------------------------------------------------------------------------

def test_sequential_sampler():
    s = SequentialSampler(Range(4))
    assert list(s) == [0, 1, 2, 3] and len(s) == 4


def test_random_sampler_permutation_and_generator():
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    a = list(RandomSampler(Range(20), generator=g1))
    b = list(RandomSampler(Range(20), generator=g2))
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))
    ember.manual_seed(7)
    c = list(RandomSampler(Range(20)))
    ember.manual_seed(7)
    assert list(RandomSampler(Range(20))) == c


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(Range(4), num_samples=10, generator=ember.Generator().manual_seed(0))
    out = list(s)
    assert len(s) == 10 and len(out) == 10
    assert sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3]  # whole permutations first
    assert len(set(out[8:])) == 2
    r = RandomSampler(Range(3), replacement=True, num_samples=100,
                      generator=ember.Generator().manual_seed(0))
    drawn = list(r)
    assert len(drawn) == 100 and set(drawn) == {0, 1, 2}


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(Range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(Range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(Range(0))


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], generator=ember.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == [10, 20, 30, 40] and len(s) == 4


def test_weighted_random_sampler_statistics():
    weights = [1.0, 0.0, 3.0, 4.0]
    s = WeightedRandomSampler(weights, 40000, generator=ember.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=4) / 40000
    np.testing.assert_allclose(counts, np.array(weights) / 8.0, atol=0.015)
    assert counts[1] == 0
    assert s.weights.dtype == ember.float64 and len(s) == 40000


def test_weighted_random_sampler_without_replacement():
    weights = [0.0, 1.0, 1.0, 100.0, 1.0]
    s = WeightedRandomSampler(weights, 4, replacement=False,
                              generator=ember.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == [1, 2, 3, 4]
    # the heavy index comes first almost always
    firsts = [list(WeightedRandomSampler(weights, 1, replacement=False,
                                         generator=ember.Generator().manual_seed(k)))[0]
              for k in range(200)]
    assert firsts.count(3) > 180
    with pytest.raises(RuntimeError, match="without replacement"):
        list(WeightedRandomSampler(weights, 5, replacement=False))


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples"):
        WeightedRandomSampler([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="replacement"):
        WeightedRandomSampler([1.0, 2.0], 2, replacement=0)
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(RuntimeError, match="< 0"):
        list(WeightedRandomSampler([1.0, -2.0], 2))
    with pytest.raises(RuntimeError, match="sum"):
        list(WeightedRandomSampler([0.0, 0.0], 2))


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                               (2, 5, False), (2, 5, True)])
def test_batch_sampler(n, bs, drop_last):
    s = BatchSampler(SequentialSampler(Range(n)), bs, drop_last)
    expected = [list(range(i, min(i + bs, n))) for i in range(0, n, bs)]
    if drop_last:
        expected = [b for b in expected if len(b) == bs]
    assert list(s) == expected and len(s) == len(expected)
    torch = _torch()
    if torch is not None:
        ref = torch.utils.data.BatchSampler(range(n), bs, drop_last)
        assert list(ref) == expected and len(ref) == len(s)


def test_batch_sampler_errors():
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), True, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(3), 2, 1)


# -- collation -------------------------------------------------------------------------------

def _to_numpy(x):
    """Batches of either library as plain Python/NumPy structures, for comparison."""
    if isinstance(x, ember.Tensor):
        return ("tensor", str(x.dtype).split(".")[-1], x.numpy())
    if type(x).__module__.startswith("torch"):
        return ("tensor", str(x.dtype).split(".")[-1], x.numpy())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _to_numpy(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_to_numpy(v) for v in x])
    return x


def _assert_same(a, b):
    a, b = _to_numpy(a), _to_numpy(b)
    _assert_same_tree(a, b)


def _assert_same_tree(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert a[1] == b[1], f"dtype {a[1]} vs {b[1]}"
        np.testing.assert_array_equal(a[2], b[2])
    elif isinstance(a, tuple):
        assert a[0] == b[0]
        _assert_same_tree(a[1], b[1])
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same_tree(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    else:
        assert a == b


def _samples(make_tensor):
    """Sample lists covering every collate rule; make_tensor builds each library's tensor."""
    return {
        "tensors": [make_tensor(np.arange(3, dtype=np.float32) + i) for i in range(2)],
        "arrays": [np.full((2, 2), i, dtype=np.int32) for i in range(3)],
        "floats": [0.5, 1.5, 2.25],
        "ints": [1, 2, 3],
        "bools": [True, False],
        "mixed_int_first": [1, 2.5],
        "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
        "numpy_ints": [np.int16(1), np.int16(2)],
        "strings": ["a", "b"],
        "tuples": [(make_tensor(np.ones(2, np.float32)), 1, "x"),
                   (make_tensor(np.zeros(2, np.float32)), 2, "y")],
        "lists": [[1, 2.0], [3, 4.0]],
        "dicts": [{"img": np.ones((2,), np.float64), "label": 3, "name": "p"},
                  {"img": np.zeros((2,), np.float64), "label": 4, "name": "q"}],
        "namedtuples": [Point(1.0, np.int64(2)), Point(3.0, np.int64(4))],
        "nested": [{"pair": (1, [2.0, 3.0])}, {"pair": (4, [5.0, 6.0])}],
    }


@needs_torch
@pytest.mark.parametrize("case", list(_samples(np.asarray)))
def test_default_collate_matches_torch(case):
    torch = _torch()
    ours = default_collate(_samples(ember.from_numpy)[case])
    theirs = torch.utils.data.default_collate(_samples(torch.from_numpy)[case])
    _assert_same(ours, theirs)


def test_default_collate_hand_checked():
    pass_through = default_collate(["a", "b"])
    assert pass_through == ["a", "b"]
    batch = default_collate([(ember.zeros(2), 1, 0.5), (ember.ones(2), 2, 1.5)])
    assert isinstance(batch, list)
    assert batch[0].shape == (2, 2) and batch[1].dtype == ember.int64
    assert batch[2].dtype == ember.float64 and batch[2].tolist() == [0.5, 1.5]
    pts = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(pts, Point) and pts.x.tolist() == [1, 3] and pts.y.dtype == ember.float64
    d = default_collate([{"a": np.float32(1)}, {"a": np.float32(2)}])
    assert d["a"].dtype == ember.float32 and d["a"].tolist() == [1.0, 2.0]


def test_default_collate_keeps_mapping_and_sequence_types():
    class Tagged(dict):
        pass

    out = default_collate([Tagged(a=1), Tagged(a=2)])
    assert type(out) is Tagged and out["a"].tolist() == [1, 2]
    od = default_collate([collections.OrderedDict(b=1, a=2), collections.OrderedDict(b=3, a=4)])
    assert type(od) is collections.OrderedDict and list(od) == ["b", "a"]


def test_default_collate_errors():
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float32(1.0), "s"), "c": [np.ones(1)]})
    assert isinstance(out["a"], ember.Tensor) and out["a"].dtype == ember.int64
    assert isinstance(out["b"], list) and out["b"][0].dtype == ember.float32
    assert out["b"][1] == "s" and isinstance(out["c"][0], ember.Tensor)
    strings = np.array(["x"])
    assert default_convert(strings) is strings
    p = default_convert(Point(np.zeros(1), 1))
    assert isinstance(p, Point) and isinstance(p.x, ember.Tensor) and p.y == 1
    t = ember.ones(2)
    assert default_convert(t) is t


# -- DataLoader in the main process -------------------------------------------------------

def test_loader_batches_and_len():
    loader = DataLoader(Range(10), batch_size=4)
    assert _values(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(loader) == 3
    dropped = DataLoader(Range(10), batch_size=4, drop_last=True)
    assert _values(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2


def test_loader_tensor_dataset():
    x = ember.arange(10, dtype=ember.float32).reshape(5, 2)
    y = ember.arange(5)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=2))
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.tolist() == [[0.0, 1.0], [2.0, 3.0]] and yb.tolist() == [0, 1]
    assert batches[-1][0].shape == (1, 2)


@needs_torch
def test_loader_matches_torch_dict_samples():
    torch = _torch()
    class Dicts(Range):
        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i, "w": i / 2}

    ours = list(DataLoader(Dicts(5), batch_size=2))
    theirs = list(torch.utils.data.DataLoader(Dicts(5), batch_size=2))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _assert_same(a, b)


def test_loader_no_auto_batching():
    class Arrays(Range):
        def __getitem__(self, i):
            return np.full(2, i)

    out = list(DataLoader(Arrays(3), batch_size=None))
    assert all(isinstance(b, ember.Tensor) for b in out) and [b.tolist() for b in out] == \
        [[0, 0], [1, 1], [2, 2]]
    assert len(DataLoader(Arrays(3), batch_size=None)) == 3


def test_loader_batch_sampler_and_sampler():
    bs = [[3, 1], [0], [2, 4, 5]]
    loader = DataLoader(Range(6), batch_sampler=bs)
    assert _values(loader) == bs and len(loader) == 3
    sampled = DataLoader(Range(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert _values(sampled) == [[5, 4], [3, 2], [1, 0]]


def test_loader_custom_collate_and_transform():
    loader = DataLoader(Range(5), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(loader) == [1, 5, 4]
    transformed = DataLoader(Range(4), batch_size=2, transform=lambda s: s * 10)
    assert _values(transformed) == [[0, 10], [20, 30]]
    whole_sample = DataLoader(TensorDataset(ember.arange(4), ember.arange(4)), batch_size=4,
                              transform=lambda s: (s[0] + 1, s[1]))
    x, y = next(iter(whole_sample))
    assert x.tolist() == [1, 2, 3, 4] and y.tolist() == [0, 1, 2, 3]


def test_loader_shuffle_reproducible_under_manual_seed():
    ember.manual_seed(0)
    a = _values(DataLoader(Range(20), batch_size=5, shuffle=True))
    ember.manual_seed(0)
    b = _values(DataLoader(Range(20), batch_size=5, shuffle=True))
    assert a == b and sorted(sum(a, [])) == list(range(20)) and sum(a, []) != list(range(20))
    g = ember.Generator().manual_seed(1)
    c = _values(DataLoader(Range(20), batch_size=5, shuffle=True, generator=g))
    g.manual_seed(1)
    assert _values(DataLoader(Range(20), batch_size=5, shuffle=True, generator=g)) == c


def test_loader_epochs_reshuffle():
    ember.manual_seed(0)
    loader = DataLoader(Range(20), batch_size=20, shuffle=True)
    assert _values(loader) != _values(loader)


def test_loader_iterable_dataset():
    assert _values(DataLoader(Stream(5), batch_size=2)) == [[0, 1], [2, 3], [4]]
    assert _values(DataLoader(Stream(5), batch_size=2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(DataLoader(Stream(5), batch_size=2)) == 3
    assert len(DataLoader(Stream(5), batch_size=2, drop_last=True)) == 2
    assert _values(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(Range(4), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(Range(4), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=None"):
        DataLoader(Range(4), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(4), shuffle=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(Range(4), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Range(4), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(Range(4), persistent_workers=True)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(Range(4), timeout=-1)
    with pytest.raises(ValueError, match="start method"):
        DataLoader(Range(4), num_workers=1, multiprocessing_context="nope")
    loader = DataLoader(Range(4))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # not protected, as in PyTorch


def test_get_worker_info_is_none_in_main_process():
    assert get_worker_info() is None


def test_pin_memory_accepted_on_cpu():
    assert _values(DataLoader(Range(3), batch_size=3, pin_memory=True)) == [[0, 1, 2]]


# -- DataLoader with worker processes -----------------------------------------------------

def test_workers_same_order_as_main_process():
    def run(num_workers):
        ember.manual_seed(123)
        return _values(DataLoader(Range(23), batch_size=3, shuffle=True,
                                  num_workers=num_workers))
    single = run(0)
    assert run(2) == single and sorted(sum(single, [])) == list(range(23))


def test_workers_prefetch_and_drop_last():
    loader = DataLoader(Range(11), batch_size=2, num_workers=2, prefetch_factor=1,
                        drop_last=True)
    assert _values(loader) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert len(loader) == 5


def test_workers_tensor_dataset_and_custom_collate():
    x = ember.arange(12, dtype=ember.float32).reshape(6, 2)
    loader = DataLoader(TensorDataset(x), batch_size=4, num_workers=2,
                        collate_fn=lambda b: ember.stack([s[0] for s in b]).sum(0))
    out = [b.tolist() for b in loader]
    assert out == [[12.0, 16.0], [18.0, 20.0]]


def test_worker_info_seeds_and_init_fn():
    ember.manual_seed(0)
    loader = DataLoader(WorkerView(4), batch_size=None, num_workers=2, worker_init_fn=_mark_init)
    rows = list(loader)
    # round-robin: task k goes to worker k % 2
    assert [r["id"] for r in rows] == [0, 1, 0, 1]
    assert all(r["num_workers"] == 2 for r in rows)
    assert [r["init"] for r in rows] == [100, 101, 100, 101]
    assert rows[1]["seed"] == rows[0]["seed"] + 1
    # each worker's RNGs (ember, numpy, random) are seeded differently
    for key in ("ember", "numpy", "random"):
        assert rows[0][key] != rows[1][key]
    ember.manual_seed(0)
    again = list(DataLoader(WorkerView(4), batch_size=None, num_workers=2,
                            worker_init_fn=_mark_init))
    assert [(r["ember"], r["numpy"], r["random"]) for r in again] == \
        [(r["ember"], r["numpy"], r["random"]) for r in rows]


def test_worker_error_surfaces_with_worker_id_and_traceback():
    loader = DataLoader(Failing(8), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert "bad sample 5" in msg and "Traceback" in msg


def test_worker_init_fn_error_surfaces():
    def bad_init(worker_id):
        raise KeyError("no init")

    with pytest.raises(KeyError, match="no init"):
        list(DataLoader(Range(4), num_workers=2, worker_init_fn=bad_init))


def test_unpicklable_batch_raises_instead_of_hanging():
    loader = DataLoader(Range(4), batch_size=2, num_workers=2, collate_fn=_unpicklable_collate)
    with pytest.raises(Exception, match="picklable"):
        list(loader)


def test_dead_worker_detected():
    loader = DataLoader(Dying(6), batch_size=1, num_workers=2)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(loader)


def test_timeout_raises():
    loader = DataLoader(Slow(2), batch_size=1, num_workers=1, timeout=0.1)
    with pytest.raises(RuntimeError, match="timed out after 0.1 seconds"):
        list(loader)


def test_workers_shut_down_on_exhaustion_and_deletion():
    loader = DataLoader(Range(6), batch_size=2, num_workers=2)
    it = iter(loader)
    procs = list(it._workers)
    assert all(p.is_alive() for p in procs)
    list(it)
    assert not any(p.is_alive() for p in procs)
    it = iter(loader)
    next(it)
    procs = list(it._workers)
    del it
    gc.collect()
    assert not any(p.is_alive() for p in procs)


def test_persistent_workers_reused_across_epochs():
    loader = DataLoader(WorkerView(6), batch_size=None, num_workers=2, persistent_workers=True)
    epochs = []
    for _ in range(3):
        epochs.append(list(loader))
    iterator = loader._iterator
    assert [[r["i"] for r in e] for e in epochs] == [list(range(6))] * 3
    pids = [{r["pid"] for r in e} for e in epochs]
    assert len(pids[0]) == 2 and pids[0] == pids[1] == pids[2]
    # an epoch abandoned halfway is drained when the next one starts
    it = iter(loader)
    next(it)
    assert [r["i"] for r in loader] == list(range(6))
    assert loader._iterator is iterator
    procs = list(iterator._workers)
    del loader, iterator, it
    gc.collect()
    assert not any(p.is_alive() for p in procs)


def test_persistent_workers_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        got = sorted(sum(_values(loader), []))
        assert got == list(range(7))


def test_workers_iterable_dataset_sharding():
    sharded = _values(DataLoader(Stream(7), batch_size=2, num_workers=2))
    # worker 0 streams 0,2,4,6 and worker 1 streams 1,3,5; batches alternate between them
    assert sharded == [[0, 2], [1, 3], [4, 6], [5]]
    unsharded = _values(DataLoader(Stream(3, shard=False), batch_size=None, num_workers=2))
    assert sorted(unsharded) == [0, 0, 1, 1, 2, 2]


def test_workers_iterable_dataset_drop_last():
    out = _values(DataLoader(Stream(7), batch_size=2, num_workers=2, drop_last=True))
    assert out == [[0, 2], [1, 3], [4, 6]]


def test_spawn_context():
    ember.manual_seed(0)
    expected = _values(DataLoader(Range(6), batch_size=2, shuffle=True))
    ember.manual_seed(0)
    loader = DataLoader(Range(6), batch_size=2, shuffle=True, num_workers=2,
                        multiprocessing_context="spawn")
    assert _values(loader) == expected


class DiesOnce(Range):
    """The first worker to load sample 3 dies; later ones (a marker file exists) do not."""

    def __init__(self, n, marker) -> None:
        super().__init__(n)
        self.marker = marker

    def __getitem__(self, i):
        if i == 3 and not self.marker.exists():
            self.marker.touch()
            os._exit(3)
        return i


def test_persistent_loader_recovers_after_worker_crash(tmp_path):
    loader = DataLoader(DiesOnce(6, tmp_path / "died"), batch_size=1, num_workers=2,
                        persistent_workers=True)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(loader)
    crashed = loader._iterator
    it = iter(loader)
    assert it is not crashed and _values(it) == [[i] for i in range(6)]


def test_default_collate_tensors_with_grad_or_mixed_dtypes():
    a = ember.ones(2, requires_grad=True)
    out = default_collate([a, ember.zeros(2)])
    out.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    mixed = default_collate([ember.ones(2, dtype=ember.int32), ember.ones(2)])
    assert mixed.dtype == ember.float32
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([ember.ones(2), ember.ones(3)])
