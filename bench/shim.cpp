// shim.cpp: the only C++ of the harness. Registers every (case, contender) pair with Google
// Benchmark under the name regime/dtype/layout/shape/contender (so --benchmark_filter selects
// by any of them), checks each contender once before timing it, and reports GFLOP/s, GB/s,
// the case's roofline bound and the percentage of it reached. The machine's limits are
// measured first, in the same run, as benchmarks of their own (limits/...).
// The 16-bit group (cache/bf16/bf/...): bf16 operands, in cache, batch-first, for the
// contenders that take them; its bound is the bf16 dot-product peak.
// The scaling run (BENCH_THREADS=N, N > 1): only contenders that can run threads, each on one
// thread and on N back to back (names end in @1 and @N), in cache, streaming and small
// batches (below bmmgen's threads threshold); the bound is that of N cores.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bench.h"

namespace {

struct limits {
    double peak[3] = { 0, 0, 0 };  // GFLOP/s, f32, f64 and bf16 (bench/half_bench.py's bound)
    double l2 = 0, dram = 0;    // GB/s
} lim;

// lim.peak's entry of a dtype.
int peak_slot(bmm_dtype dt) { return dt == BMM_BF16 ? 2 : dt == BMM_F64; }

// Limits not measured yet (filtered out) are measured when first needed.
double bound_of(const bench_case *c)
{
    double &peak = lim.peak[peak_slot(c->dtype)];
    if (peak == 0) peak = bench_peak_gflops(c->dtype);
    double &gbs = c->regime == BENCH_STREAM ? lim.dram : lim.l2;
    if (gbs == 0) gbs = bench_triad_gbs(c->regime == BENCH_STREAM ? int64_t(768) << 20 : int64_t(512) << 10);
    return bench_bound(c, peak * bench_threads, gbs);
}

struct spec {
    int key;
    bmm_dtype dt;
    int layout, regime;
    int64_t n, m, p;
};

// One case is set up at a time (cases run in registration order); each contender's state and
// check verdict are kept for as long as its case is current.
struct current {
    int key = -1;
    bool ok = false;
    bench_case c{};
    std::vector<void *> state;
    std::vector<std::string> verdict;  // "" = checked and right
    std::vector<bool> done;
} cur;

std::vector<const bench_contender *> contenders;
std::vector<int> contender_threads;  // per entry of contenders: the threads it runs on

// The contender ki, set to its threads.
const bench_contender *use(size_t ki)
{
    const bench_contender *k = contenders[ki];
    if (k->threads) k->threads(contender_threads[ki]);
    return k;
}

// In-cache GFLOP/s per (dtype, layout, shape, contender): a contender that would need more than
// MAX_STREAM_CALL_S per streaming call at its in-cache rate is not streamed (BLIS on 2x2x2:
// minutes), and the report says so.
const double MAX_STREAM_CALL_S = 0.25;
const double STREAM_MIN_TIME_S = 0.05;
std::map<std::tuple<int, int, int64_t, int64_t, int64_t, size_t>, double> cache_rate;
auto rate_key(const spec &s, size_t ki) { return std::make_tuple(int(s.dt), s.layout, s.n, s.m, s.p, ki); }

void switch_to(const spec &s)
{
    if (cur.key == s.key) return;
    for (size_t i = 0; i < cur.state.size(); i++)
        if (cur.state[i]) contenders[i]->release(cur.state[i]);
    if (cur.ok) bench_case_free(&cur.c);
    cur.key = s.key;
    cur.ok = bench_case_setup(&cur.c, s.dt, s.layout, s.regime, s.n, s.m, s.p) == 0;
    cur.state.assign(contenders.size(), nullptr);
    cur.verdict.assign(contenders.size(), "");
    cur.done.assign(contenders.size(), false);
}

void run_case(benchmark::State &st, spec s, size_t ki)
{
    switch_to(s);
    if (!cur.ok) {
        st.SkipWithError("out of memory for the operands");
        return;
    }
    const bench_contender *k = use(ki);
    bench_case *c = &cur.c;
    if (!cur.done[ki]) {  // prepare and check once per case, never timed
        cur.done[ki] = true;
        const char *why = "not applicable";
        auto cached = cache_rate.find(rate_key(s, ki));
        char slow[160] = "";
        if (s.regime == BENCH_STREAM && cached != cache_rate.end()
            && c->flops / (cached->second * 1e9) > MAX_STREAM_CALL_S) {
            std::snprintf(slow, sizeof slow, "too slow to stream: %.3g GFLOP/s in cache, %.0f s per call",
                cached->second, c->flops / (cached->second * 1e9));
            cur.verdict[ki] = std::string("skipped: ") + slow;
        } else if (!(cur.state[ki] = k->prepare(c, &why)))
            cur.verdict[ki] = std::string("skipped: ") + why;
        else if (const char *bad = bench_check(k, cur.state[ki], c))
            cur.verdict[ki] = (bad[0] == 'w' ? "WRONG: " : "FAILED: ") + std::string(bad);
        else
            k->run(cur.state[ki], c);  // warm-up: the first pass after the check's fork pays
                                       // for write-protected page tables (2x slower streaming)
    }
    if (!cur.verdict[ki].empty()) {
        st.SkipWithError(cur.verdict[ki].c_str());
        return;
    }
    void *state = cur.state[ki];
    auto t0 = std::chrono::steady_clock::now();
    for (auto _ : st) {
        k->run(state, c);
        benchmark::ClobberMemory();
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double it = double(st.iterations());
    double gf = c->flops * it / secs * 1e-9;
    double bound = bound_of(c);
    if (s.regime == BENCH_CACHE) cache_rate[rate_key(s, ki)] = gf;
    st.counters["GFLOP/s"] = gf;
    st.counters["GB/s"] = c->bytes * it / secs * 1e-9;
    st.counters["bound_GFLOP/s"] = bound;
    st.counters["pct_bound"] = 100.0 * gf / bound;
    st.counters["batch"] = double(c->batch);
}

void limit_peak(benchmark::State &st, bmm_dtype dt)
{
    const int i = peak_slot(dt);
    for (auto _ : st) lim.peak[i] = bench_peak_gflops(dt);
    st.counters["GFLOP/s"] = lim.peak[i];
}

void limit_triad(benchmark::State &st, int64_t bytes, double *out)
{
    for (auto _ : st) *out = bench_triad_gbs(bytes);
    st.counters["GB/s"] = *out;
}

// The CPU's name for the report (Google Benchmark's context has only its count and clock).
std::string cpu_model()
{
    std::FILE *f = std::fopen("/proc/cpuinfo", "r");
    char line[256];
    std::string model = "unknown CPU";
    while (f && std::fgets(line, sizeof line, f))
        if (const char *colon = std::strchr(line, ':'); colon && std::strncmp(line, "model name", 10) == 0) {
            model = colon + 2;
            model.erase(model.find_last_not_of(" \n") + 1);
            break;
        }
    if (f) std::fclose(f);
    return model;
}

// Every contender that takes the case, under regime/dtype/layout/shape/contender.
void register_case(const spec &s)
{
    char base[96];
    std::snprintf(base, sizeof base, "%s/%s/%s/%lldx%lldx%lld/", bench_regime_name(s.regime),
        s.dt == BMM_F32 ? "f32" : s.dt == BMM_F64 ? "f64" : "bf16", bench_layout_name(s.layout),
        (long long)s.n, (long long)s.m, (long long)s.p);
    for (size_t ki = 0; ki < contenders.size(); ki++) {
        if (s.dt == BMM_BF16 && !contenders[ki]->half)
            continue;
        std::string name = std::string(base) + contenders[ki]->name;
        if (bench_threads > 1) name += "@" + std::to_string(contender_threads[ki]);
        auto *b = benchmark::RegisterBenchmark(name.c_str(), run_case, s, ki);
        b->UseRealTime();
        // a streaming call moves 256 MiB: a few calls are a steady sample
        if (s.regime == BENCH_STREAM) b->MinTime(STREAM_MIN_TIME_S);
    }
}

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (const char *t = std::getenv("BENCH_THREADS")) {
        bench_threads = std::atoi(t);
        if (bench_threads < 1 || bench_threads > 1024) {
            std::fprintf(stderr, "bench: BENCH_THREADS=%s: want a number of threads in [1, 1024]\n", t);
            return 2;
        }
    }
    benchmark::AddCustomContext("threads", std::to_string(bench_threads));
    benchmark::AddCustomContext("cpu_model", cpu_model());
    std::string unseen;  // the report's group of shapes the default spec has no kernels for
    for (int si = 0; si < bench_nshapes; si++)
        if (bench_shapes[si].unseen)
            unseen += (unseen.empty() ? "" : ",") + std::to_string(bench_shapes[si].n) + "x"
                + std::to_string(bench_shapes[si].m) + "x" + std::to_string(bench_shapes[si].p);
    benchmark::AddCustomContext("unseen_shapes", unseen);
    for (int i = 0; bench_contenders[i]; i++) {
        const char *why = bench_contenders[i]->init();
        if (why) {
            std::fprintf(stderr, "bench: contender %s left out: %s\n", bench_contenders[i]->name, why);
            continue;
        }
        if (bench_threads == 1) {
            contenders.push_back(bench_contenders[i]);
            contender_threads.push_back(1);
        } else if (bench_contenders[i]->threads) {
            for (int t : { 1, bench_threads }) {
                contenders.push_back(bench_contenders[i]);
                contender_threads.push_back(t);
            }
        } else {
            continue;
        }
        benchmark::AddCustomContext(std::string("contender:") + bench_contenders[i]->name,
            bench_contenders[i]->info());
    }
    benchmark::RegisterBenchmark("limits/peak/f32", limit_peak, BMM_F32)->Iterations(1)->UseRealTime();
    benchmark::RegisterBenchmark("limits/peak/f64", limit_peak, BMM_F64)->Iterations(1)->UseRealTime();
    benchmark::RegisterBenchmark("limits/peak/bf16", limit_peak, BMM_BF16)->Iterations(1)->UseRealTime();
    benchmark::RegisterBenchmark("limits/triad/l2", limit_triad, int64_t(512) << 10, &lim.l2)
        ->Iterations(1)->UseRealTime();
    benchmark::RegisterBenchmark("limits/triad/dram", limit_triad, int64_t(768) << 20, &lim.dram)
        ->Iterations(1)->UseRealTime();
    int key = 0;
    std::vector<int> regimes = { BENCH_CACHE, BENCH_STREAM };
    if (bench_threads > 1) regimes.push_back(BENCH_SMALL);
    for (int regime : regimes)
        for (bmm_dtype dt : { BMM_F32, BMM_F64 })
            for (int layout : { int(BENCH_BF), int(BENCH_SF), int(BENCH_NT), int(BENCH_TN), int(BENCH_TT) })
                for (int si = 0; si < bench_nshapes; si++, key++) {
                    const bench_shape &sh = bench_shapes[si];
                    if (layout > BENCH_SF && regime != BENCH_CACHE)
                        continue;  // the operand orders: in cache
                    register_case({ key, dt, layout, regime, sh.n, sh.m, sh.p });
                }
    if (bench_threads == 1)
        for (int si = 0; si < bench_nhalf_shapes; si++, key++) {
            const bench_shape &sh = bench_half_shapes[si];
            register_case({ key, BMM_BF16, BENCH_BF, BENCH_CACHE, sh.n, sh.m, sh.p });
        }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
