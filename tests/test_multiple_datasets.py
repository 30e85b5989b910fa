"""MultipleDatasets index semantics (SPEC §4.3) and the per-worker seeded generator."""
from collections import Counter

import numpy as np
import pytest
import torch

from data.dataset import MultipleDatasets, WorkerRNG


class Labelled(torch.utils.data.Dataset):
    """Items are (name, local index)."""

    def __init__(self, name, n):
        self.name, self.n = name, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.name, i


def epoch(md):
    return [md[i] for i in range(len(md))]


def test_concat_is_the_sum_in_order():
    md = MultipleDatasets([Labelled("a", 3), Labelled("b", 2), Labelled("c", 4)], "concat")
    assert len(md) == 9
    assert epoch(md) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)] + [("c", i) for i in range(4)]


def test_balance_gives_each_dataset_exactly_its_share():
    sets = [Labelled("short", 7), Labelled("long", 100), Labelled("exact", 20)]
    md = MultipleDatasets(sets, "balance", total_len=60)
    assert len(md) == 60 and md.per_db_len == 20
    items = epoch(md)
    assert Counter(name for name, _ in items) == {"short": 20, "long": 20, "exact": 20}
    # A longer dataset serves only its first per_db_len items, in order; an exact one all of them.
    assert [i for n, i in items if n == "long"] == list(range(20))
    assert [i for n, i in items if n == "exact"] == list(range(20))
    # A shorter one: j % len for the whole multiples (2 * 7 = 14 items), random items after that.
    short = [i for n, i in items if n == "short"]
    assert short[:14] == list(range(7)) * 2
    assert all(0 <= i < 7 for i in short[14:])


def test_balance_remainder_goes_to_random_datasets():
    md = MultipleDatasets([Labelled("a", 5), Labelled("b", 5), Labelled("c", 5)], "balance", total_len=35)
    assert md.per_db_len == 11 and len(md) == 35
    counts = Counter(name for name, _ in epoch(md))
    assert sum(counts.values()) == 35 and all(counts[n] >= 11 for n in "abc")
    assert Counter(name for name, _ in (md[i] for i in range(33))) == {"a": 11, "b": 11, "c": 11}


def test_balance_auto_length_and_legacy_make_same_len():
    sets = [Labelled("a", 4), Labelled("b", 10)]
    assert len(MultipleDatasets(sets, "balance", total_len="auto")) == 14
    legacy = MultipleDatasets(sets, None)
    assert len(legacy) == 20
    assert Counter(name for name, _ in epoch(legacy)) == {"a": 10, "b": 10}


def test_random_draws_are_seeded():
    def mapping(seed):
        md = MultipleDatasets([Labelled("a", 3), Labelled("b", 50)], "balance", total_len=51, seed=seed)
        return epoch(md)
    assert mapping(1) == mapping(1)
    assert any(mapping(1) != mapping(s) for s in (2, 3, 4))


def test_errors():
    with pytest.raises(ValueError, match="no samples.*'a'"):
        MultipleDatasets([Labelled("a", 0), Labelled("b", 3)], "balance", total_len=10, names=["a", "b"])
    with pytest.raises(ValueError, match="data_strategy must be one of"):
        MultipleDatasets([Labelled("a", 2)], "weird")
    with pytest.raises(IndexError):
        MultipleDatasets([Labelled("a", 2)], "concat")[5]


class Draws(torch.utils.data.Dataset):
    def __init__(self):
        self.rng = WorkerRNG(5)

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return float(self.rng.get().random())


def _draw_epoch(num_workers, torch_seed):
    torch.manual_seed(torch_seed)
    loader = torch.utils.data.DataLoader(Draws(), batch_size=4, num_workers=num_workers)
    return torch.cat(list(loader)).numpy()


def test_worker_rng_reproducible_and_distinct_per_worker():
    a = _draw_epoch(2, 0)
    b = _draw_epoch(2, 0)
    np.testing.assert_array_equal(a, b)  # same torch seed -> same draws
    assert not np.allclose(a[:4], a[4:])  # worker 0 (batch 0) and worker 1 (batch 1) differ
    assert not np.allclose(a, _draw_epoch(2, 1))
    main = Draws()
    np.testing.assert_array_equal([main[i] for i in range(3)], np.random.default_rng([5, 0]).random(3))
