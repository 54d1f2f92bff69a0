"""bmmgen's Python API around the products: plans, wisdom files, the kernel listing, calls
from several threads at once (the GIL released during the call), finding the library."""
import os
import re
import subprocess
import sys
import threading
import time
import weakref

import numpy as np
import pytest
import torch

import bmmgen
from bmmgen._vocab import FORMS, ISAS, LAYOUTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_plan_numpy_and_torch():
    a, b = np.random.rand(50, 8, 8), np.random.rand(50, 8, 8)
    plan = bmmgen.Plan(a, b)
    assert plan.kernel.startswith("bmm_f64_8x8x8_") and plan.shape == (50, 8, 8, 8)
    np.testing.assert_allclose(plan(a, b), np.matmul(a, b), rtol=1e-13)
    # new operands of the same layout; out given
    a2 = np.random.rand(50, 8, 8)
    out = np.empty((50, 8, 8))
    assert plan(a2, b, out) is out
    np.testing.assert_allclose(out, np.matmul(a2, b), rtol=1e-13)
    # seq-first torch operands, alpha and beta fixed at planning
    enc = torch.randn(37, 16, 64).transpose(0, 1)
    dec = torch.randn(1, 16, 64).transpose(0, 1).transpose(1, 2)
    c = torch.randn(16, 37, 1)
    want = torch.baddbmm(c, enc, dec, beta=0.5, alpha=2)
    plan = bmmgen.Plan(enc, dec, c, alpha=2, beta=0.5)
    assert plan(enc, dec, c) is c
    torch.testing.assert_close(c, want, rtol=1e-5, atol=1e-5)
    assert plan.kernel in {k.name for k in bmmgen.kernels()} | {"generic"}
    assert "kernel=" in repr(plan)


def test_plan_rules():
    a, b = np.ones((4, 3, 5)), np.ones((4, 5, 2))
    plan = bmmgen.Plan(a, b)
    with pytest.raises(ValueError, match="strides"):
        plan(np.ones((4, 5, 3)).transpose(0, 2, 1), b)      # another layout
    with pytest.raises(ValueError, match="float64"):
        plan(a.astype(np.float32), b.astype(np.float32))
    with pytest.raises(TypeError, match="NumPy"):
        plan(torch.ones(4, 3, 5, dtype=torch.float64), b)
    with pytest.raises(ValueError, match="give out"):
        bmmgen.Plan(a, b, beta=1)
    with pytest.raises(ValueError, match="at least 1"):
        bmmgen.Plan(np.ones((0, 3, 5)), np.ones((0, 5, 2)))
    # extent-1 dimensions: their strides do not matter to the plan
    v = np.lib.stride_tricks.as_strided(np.ones(20), (4, 1, 5), (40, 999 * 8, 8))
    p1 = bmmgen.Plan(np.ones((4, 1, 5)), b)
    assert p1(v, b).shape == (4, 1, 2)
    p1.close()
    with pytest.raises(ValueError, match="closed"):
        p1(v, b)
    plan = bmmgen.Plan(a, b, generic_only=True)
    assert plan.kernel == "generic"
    # a plan keeps no operand alive
    big = np.ones((4, 3, 5))
    gone = weakref.ref(big)
    keep = bmmgen.Plan(big, b)
    del big
    assert gone() is None and keep(a, b).shape == (4, 3, 2)


def test_wisdom_round_trip(tmp_path, monkeypatch):
    a, b = np.random.rand(300, 13, 13), np.random.rand(300, 13, 13)
    measured = bmmgen.Plan(a, b, measure=True).kernel
    path = tmp_path / "w.wisdom"
    bmmgen.export_wisdom(path)
    assert path.read_text().startswith("bmmgen-wisdom")
    bmmgen.forget_wisdom()
    with pytest.raises(bmmgen.Error) as e:
        bmmgen.Plan(a, b, wisdom_only=True)
    assert e.value.status_name == "BMM_EUNSUPPORTED"
    assert bmmgen.import_wisdom(str(path)) == (1, 0)
    assert bmmgen.Plan(a, b, wisdom_only=True).kernel == measured
    # an entry naming another program's kernel is passed over, counted
    other = tmp_path / "other.wisdom"
    other.write_text(path.read_text().replace("\nend 1", "\nentry f64 9 9 9 bf bf bf cache one ab"
                                              " kernel_of_another_program\nend 2"))
    assert bmmgen.import_wisdom(other) == (1, 1)
    # a corrupt file is refused whole and the wisdom in memory kept
    bad = tmp_path / "bad.wisdom"
    bad.write_text(path.read_text().replace("end", "nd"))
    with pytest.raises(bmmgen.Error, match="BMM_EFORMAT") as e:
        bmmgen.import_wisdom(bad)
    assert e.value.message and e.value.status == 6
    assert bmmgen.Plan(a, b, wisdom_only=True).kernel == measured
    with pytest.raises(bmmgen.Error, match="BMM_EIO"):
        bmmgen.import_wisdom(tmp_path / "missing")
    monkeypatch.setenv("BMM_SYSTEM_WISDOM", "")  # none
    with pytest.raises(bmmgen.Error, match="BMM_EIO"):
        bmmgen.import_system_wisdom()
    monkeypatch.setenv("BMM_SYSTEM_WISDOM", str(other))
    bmmgen.forget_wisdom()
    bmmgen.import_system_wisdom()
    assert bmmgen.Plan(a, b, wisdom_only=True).kernel == measured


def test_kernels():
    ks = bmmgen.kernels()
    names = [k.name for k in ks]
    assert len(ks) > 100 and len(set(names)) == len(names)
    for k in ks:
        assert re.match(r"bmm_f(32|64)_", k.name) and k.dtype in ("float32", "float64")
        assert k.layout in LAYOUTS.values() and k.isa in ISAS.values() and k.form in FORMS.values()
        assert all(x is None or x >= 1 for x in (k.n, k.m, k.p))
    assert any(k.n is None for k in ks)                         # shape-generic kernels
    assert all(k.runs_here for k in ks if k.isa == "c99")
    spec = {tuple(k[2:5]) for k in ks}
    assert (4, 4, 4) in spec and (64, 64, 64) in spec


def test_plan_generate(tmp_path, monkeypatch):
    """generate=True: specialized kernels for a shape that had none, compiled once, loaded from
    the cache by a later plan; clear_cache() empties the cache."""
    monkeypatch.setenv("BMM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BMM_GENERATE_TIMEOUT_MS", "120000")  # a loaded CI machine: not 10 s
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 7, 23)).astype(np.float32)
    b = rng.standard_normal((40, 23, 5)).astype(np.float32)
    plain = bmmgen.Plan(a, b)
    assert "_nxmxp_" in plain.kernel or "_nxmx" in plain.kernel    # shape-generic
    plan = bmmgen.Plan(a, b, generate=True)
    assert plan.kernel.startswith("bmm_f32_7x23x5_bf_"), plan.kernel
    np.testing.assert_allclose(plan(a, b), np.matmul(a, b), rtol=1e-4, atol=1e-4)
    assert len(list((tmp_path / "cache").glob("*.so"))) == 1
    bmmgen.clear_cache()
    assert not list((tmp_path / "cache").glob("*.so"))


def test_plan_generate_async(tmp_path, monkeypatch):
    """generate="async": made at once on a shape-generic kernel, right from the first call; a
    later call runs the class's own kernels once the background thread has them."""
    monkeypatch.setenv("BMM_CACHE_DIR", str(tmp_path / "cache"))
    # the background compile runs at low priority: on a loaded machine it may take past the
    # default 10 s, and a class killed there is recorded as failed (shape-generic for good)
    monkeypatch.setenv("BMM_GENERATE_TIMEOUT_MS", "120000")
    rng = np.random.default_rng(4)
    a = rng.standard_normal((30, 11, 6)).astype(np.float64)
    b = rng.standard_normal((30, 6, 9)).astype(np.float64)
    with pytest.raises(ValueError, match="generate must be"):
        bmmgen.Plan(a, b, generate="later")
    plan = bmmgen.Plan(a, b, generate="async")
    assert "_nxmx" in plan.kernel, plan.kernel
    want = np.matmul(a, b)
    deadline = time.monotonic() + 120
    while not plan.kernel.startswith("bmm_f64_11x6x9_bf_") and time.monotonic() < deadline:
        np.testing.assert_allclose(plan(a, b), want, rtol=1e-12, atol=1e-12)
        time.sleep(0.02)
    assert plan.kernel.startswith("bmm_f64_11x6x9_bf_"), plan.kernel
    np.testing.assert_allclose(plan(a, b), want, rtol=1e-12, atol=1e-12)
    plan.close()
    assert "(closed)" in repr(plan)


def test_threads():
    """Eight threads, each its own shapes, dtypes and layouts, calling at once."""
    errors = []

    def work(seed):
        try:
            g = torch.Generator().manual_seed(seed)
            dt = torch.float32 if seed % 2 else torch.float64
            n, m, p = [(4, 4, 4), (13, 13, 13), (7, 9, 5), (32, 64, 1)][seed % 4]
            for i in range(60):
                a = torch.randn(m, 20, n, generator=g, dtype=dt).permute(1, 2, 0)
                b = torch.randn(20, m, p, generator=g, dtype=dt)
                c = torch.randn(20, n, p, generator=g, dtype=dt)
                want = torch.baddbmm(c, a, b, beta=0.5, alpha=1.5)
                got = bmmgen.baddbmm(c, a, b, beta=0.5, alpha=1.5) if i % 2 else \
                    bmmgen.Plan(a, b, c.clone(), alpha=1.5, beta=0.5)(a, b, c)
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        except Exception as e:  # noqa: BLE001 (reported below, with the thread's seed)
            errors.append((seed, e))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threads_over_the_batch_same_bits():
    """Any number of threads over the batch gives the bits of one; plans say how many they get."""
    a = np.random.default_rng(5).standard_normal((20011, 13, 13)).astype(np.float32)
    b = np.random.default_rng(6).standard_normal((20011, 13, 13)).astype(np.float32)
    one = bmmgen.Plan(a, b, threads=1)
    assert one.threads == 1
    want = one(a, b)
    default = bmmgen.get_num_threads()
    try:
        bmmgen.set_num_threads(2)
        openmp = bmmgen.get_num_threads() == 2  # else libbmm runs one thread, always
        for t in (2, 3, 8):
            plan = bmmgen.Plan(a, b, threads=t)
            assert plan.threads == (t if openmp else 1)  # 20011 items: work for 8 threads
            assert np.array_equal(plan(a, b), want)
            bmmgen.set_num_threads(t)
            assert bmmgen.get_num_threads() == (t if openmp else 1)
            assert np.array_equal(bmmgen.bmm(a, b), want)
    finally:
        bmmgen.set_num_threads(0)
    assert bmmgen.get_num_threads() == default
    small = bmmgen.Plan(a[:4], b[:4], threads=8)
    assert small.threads == 1  # too little work to pay for threads
    for bad in (0, -1, 1025, 2.0, True):
        with pytest.raises(ValueError):
            bmmgen.Plan(a, b, threads=bad)
    with pytest.raises(bmmgen.Error):
        bmmgen.set_num_threads(-1)
    with pytest.raises(TypeError):
        bmmgen.set_num_threads("2")


def test_gil_released_during_the_call():
    """While one thread is inside a long call, another runs Python code."""
    a = np.full((200000, 16, 16), 0.5, np.float32)
    b = np.full((200000, 16, 16), 0.25, np.float32)
    out = np.empty_like(a)
    bmmgen.bmm(a[:10], b[:10], out=out[:10])
    started = time.perf_counter()
    bmmgen.bmm(a, b, out=out)
    alone = time.perf_counter() - started
    ticks = [0]
    done = threading.Event()

    def call():
        bmmgen.bmm(a, b, out=out)
        done.set()

    t = threading.Thread(target=call)
    t.start()
    while not done.is_set():
        ticks[0] += 1
    t.join()
    # with the GIL held for the call, this loop would not run until the call ended
    assert alone > 0.005 and ticks[0] > 1000, (alone, ticks[0])
    assert (out == 2.0).all()


def test_version_is_the_library_version():
    with open(os.path.join(ROOT, "runtime", "bmm.h")) as f:
        want = re.search(r'#define BMM_VERSION "([^"]+)"', f.read()).group(1)
    assert bmmgen.__version__ == want


def test_library_not_found_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, BMM_LIBRARY=str(tmp_path / "nope.so"))
    r = subprocess.run([sys.executable, "-c", "import bmmgen"], env=env, capture_output=True,
                       text=True)
    assert r.returncode != 0 and "BMM_LIBRARY" in r.stderr and "nope.so" in r.stderr


def test_numpy_only_import_registers_ops_when_torch_is_used():
    code = ("import bmmgen, sys; assert 'torch' not in sys.modules; import torch, numpy; "
            "x = torch.ones(2, 2, 2); assert torch.equal(bmmgen.bmm(x, x), torch.bmm(x, x)); "
            "assert torch.equal(torch.ops.bmmgen.bmm(x, x), torch.bmm(x, x))")
    env = dict(os.environ, BMMGEN_NO_TORCH="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
