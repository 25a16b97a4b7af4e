"""ember.backend.blas: the process-wide BLAS thread count is set to 1 and restored."""
import threading

import numpy as np
import pytest

from ember.backend import blas

needs_openblas = pytest.mark.skipif(not blas.available(), reason="NumPy's BLAS is not OpenBLAS")


@needs_openblas
def test_single_threaded_sets_one_and_restores():
    get, set_ = blas._controls()
    before = get()
    with blas.single_threaded():
        assert get() == 1
        with blas.single_threaded():  # nested blocks restore only at the outermost exit
            assert get() == 1
        assert get() == 1
    assert get() == before


@needs_openblas
def test_single_threaded_restores_after_an_error_and_across_threads():
    get, _ = blas._controls()
    before = get()
    with pytest.raises(ValueError):
        with blas.single_threaded():
            raise ValueError("inside")
    assert get() == before
    inside, release = threading.Event(), threading.Event()

    def other():
        with blas.single_threaded():
            inside.set()
            release.wait(5)
    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with blas.single_threaded():
        pass
    assert get() == 1  # the other thread's block is still open
    release.set()
    t.join()
    assert get() == before


def test_without_openblas_the_block_changes_nothing(monkeypatch):
    monkeypatch.setattr(blas, "_controls", lambda: None)
    assert not blas.available()
    with blas.single_threaded():
        a = np.ones((3, 3), np.float32)
        np.testing.assert_array_equal(a @ a, np.full((3, 3), 3, np.float32))
