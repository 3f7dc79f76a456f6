// CPU twin of lif_cuda.cu: the same per-step functions of lif_scan.h (lif_step_forward,
// spike_arg, surrogate_grad_k, lif_step_backward), run over blocks of neurons in parallel
// (at::parallel_for).
//
// Each block is scanned time-major: for each step, the block's neurons in turn (the forward's
// blocks are wide for large scans with per-layer parameters; see forward_width). The scan of
// one neuron is a serial chain of dependent operations, so interleaving a block of independent
// neurons keeps the core's pipelines full and lets the compiler vectorise across neurons (the
// reset kind and the refractory period are template arguments, so the step has no
// loop-invariant branches left). Rows of a (T, M) sequence are M apart: a block reads a short
// piece of every row, and the rows a few steps ahead are prefetched, since the hardware
// prefetcher does not follow such a walk across pages.
//
// The backward keeps nothing from the forward but x: per block it recomputes the forward into
// a buffer sized to stay in cache (kBufferBytes), then runs the reverse scan over it.
#include <ATen/Parallel.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <memory>

#include "cpu_dispatch.h"
#include "lif_launch.h"
#include "lif_scan.h"

namespace neuraltide {

namespace {
// Blocks and their local rows are 64-byte aligned (alignas): a vector load that straddles two
// cache lines costs two.
constexpr int64_t kBlock = 256;               // neurons per block, at most
constexpr int64_t kMinBlock = 16;             // backward blocks narrow to this for long T
constexpr int64_t kBufferBytes = 512 * 1024;  // the backward's recomputed states per block
constexpr int64_t kAhead = 4;                 // steps prefetched ahead
// The backward's recompute reads a step's state rows and writes the next step's after them.
// Were the two a multiple of 4 KiB apart, plus a few vectors, the loads would wait on the
// stores just before them (the core matches addresses by their low 12 bits first: 4K
// aliasing; 4 rows of kBlock floats are 4 KiB). The steps' rows are kPad values further apart.
constexpr int64_t kPad = 128;
// Spike outputs from this size on are streamed past the cache (store_row): far larger than a
// core's L2, they would be evicted before anything reads them, and the read-for-ownership of
// every written line costs as much bandwidth as the write.
constexpr int64_t kStreamBytes = 8 << 20;
// The forward's wide blocks (forward_width).
constexpr int64_t kWideBytes = 1 << 20, kWideMinBytes = 128 << 10;
// A wide block prefetches x this far ahead of its walk (into L2). The hardware prefetcher
// alone left a plain forward of 100 steps of 32k neurons at 1.19x the time of a copy of its
// bytes on an AMD EPYC (Zen 4), 16 KiB ahead at 0.85x; on a Xeon (Sapphire Rapids) 2-128 KiB
// ahead changed nothing measurable.
constexpr int64_t kWideAheadBytes = 16 << 10;

// How a block's parameters look, a template argument of its loops. PER_NEURON: read per neuron
// from the block's columns. UNIFORM: every neuron has column 0's (parameters per layer, P = 1),
// held in registers. PLAIN: uniform, and alpha = rho = adapt = 0 with a = 0 and i, s finite at
// the start (a plain LIF layer, the common case): lif_step_forward/backward<PLAIN> skip the
// synaptic current and the adaptation, and their rows are neither read nor written.
enum Shape : int { PER_NEURON = 0, UNIFORM = 1, PLAIN = 2 };

// Whether pred holds for any of t's values at [m0, m0 + n). A broadcast state (stride 0: a
// rest state) is one value, read once; otherwise a branch-free pass (an early exit per neuron
// kept the loop scalar: a fifth of a one-step call at M = 256k).
template <typename scalar_t, typename Pred>
bool any_value(PerNeuron<scalar_t> t, int64_t m0, int64_t n, Pred pred) {
  if (t.stride == 0) return pred(t.p[0]);
  bool any = false;
  for (int64_t j = m0; j < m0 + n; ++j) any |= pred(t[j]);
  return any;
}

// Whether any of v[0, n) is NaN or inf: x - x summed per lane (0, or NaN once one is, as
// Carry::bad), a pass that vectorises, where a boolean reduction or an early exit stays
// scalar (2-3% of the forward of 100 steps of 32k neurons).
template <typename scalar_t>
bool any_nonfinite(const scalar_t* __restrict__ v, int64_t n) {
  constexpr int64_t L = 64 / int64_t(sizeof(scalar_t));  // a cache line of lanes
  alignas(64) scalar_t lanes[L] = {};
  int64_t j = 0;
  for (; j + L <= n; j += L)
    for (int64_t l = 0; l < L; ++l) lanes[l] += v[j + l] - v[j + l];
  for (; j < n; ++j) lanes[0] += v[j] - v[j];
  bool any = false;
  for (int64_t l = 0; l < L; ++l) any |= lanes[l] != scalar_t(0);
  return any;
}

// Whether any of t's values at [m0, m0 + n) is NaN or inf: a broadcast state is one value, a
// contiguous one gets the pass above.
template <typename scalar_t>
bool any_nonfinite(PerNeuron<scalar_t> t, int64_t m0, int64_t n) {
  if (t.stride == 1) return any_nonfinite(t.p + m0, n);
  return any_value(t, m0, n, [](scalar_t x) { return not_finite(x) != 0; });
}

// The shape of block [m0, m0 + n) of a scan with an (8, P) parameter block and initial state
// i0, a0, s0; `plain_allowed`: the caller's conditions for PLAIN hold (no parameter gradient).
template <typename scalar_t>
int block_shape(int64_t P, const scalar_t* params, bool plain_allowed,
                PerNeuron<scalar_t> i0, PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0,
                int64_t m0, int64_t n) {
  if (P != 1) return PER_NEURON;
  const scalar_t zero = scalar_t(0);
  if (!plain_allowed || params[P_ALPHA] != zero || params[P_RHO] != zero ||
      params[P_ADAPT] != zero)
    return UNIFORM;
  auto nonzero = [](scalar_t x) { return x != scalar_t(0); };
  return any_value(a0, m0, n, nonzero) || any_nonfinite(i0, m0, n) || any_nonfinite(s0, m0, n)
             ? UNIFORM
             : PLAIN;
}

// Prefetches [p, p + bytes) a cache line at a time: for a read into the L2 cache (locality 1,
// prefetcht2 on x86: the L1's few miss buffers, which prefetcht0 holds until the line
// arrives, stalled the prefetch loop itself; the L2 hint made the backward 5-15% faster), for
// a write into L1.
NT_INLINE void prefetch(const void* p, int64_t bytes, bool write) {
#if defined(__GNUC__)
  const char* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) {
    if (write) {
      __builtin_prefetch(c + off, 1, 3);
    } else {
      __builtin_prefetch(c + off, 0, 1);
    }
  }
#else
  (void)p, (void)bytes, (void)write;
#endif
}

// Enough neuron-steps per task (>= ~64k) to amortise the scheduling.
int64_t grain(int64_t width, int64_t T) {
  const int64_t per_block = width * (T > 0 ? T : 1);
  return per_block >= 65536 ? 1 : 65536 / per_block;
}

// The forward's block width: kBlock, or for a large scan with per-layer parameters (P = 1) a
// wide block of up to kWideBytes of each row, when each thread's share of a row is at least
// kWideMinBytes. A block reads a run of each row of x per step; the hardware prefetcher
// streams long runs, not kBlock-long ones scattered over a hundred rows (T = 100, M = 1M, one
// thread: 1.4x the time of a copy of the same bytes with kBlock, 1.0-1.2x with 128k-256k
// neurons per block). Rows of 32k-64k neurons gain too (one thread, forward against the copy:
// T = 100, M = 32k 2.55x -> 2.2x; T = 500, M = 64k 1.5x -> 1.35x).
template <typename scalar_t>
int64_t forward_width(bool stream, int64_t P, int64_t M) {
  if (!stream || P != 1) return kBlock;
  const int64_t threads = std::max(1, at::get_num_threads());
  const int64_t share = ((M + threads - 1) / threads + kBlock - 1) / kBlock * kBlock;
  const int64_t w = std::min<int64_t>(share, kWideBytes / int64_t(sizeof(scalar_t)));
  return w * int64_t(sizeof(scalar_t)) >= kWideMinBytes ? w : kBlock;
}

// The backward's block width for T steps: as wide as kBlock allows while the recomputed
// states fit in kBufferBytes: `kept` values per neuron-step (backward_block keeps i, v, a, s;
// PLAIN v and s, or v alone without a refractory period) and, with one, a flag byte. (A plain
// layer's 500 steps had 48 neurons per block, sized for four values: 2.1x the floor.)
template <typename scalar_t>
int64_t backward_width(int64_t T, int64_t kept, bool ref) {
  const int64_t per_step = kept * int64_t(sizeof(scalar_t)) + (ref ? 1 : 0);
  const int64_t per_neuron = (T > 0 ? T : 1) * per_step;
  // (the rows' padding, kPad values per step, is left out of the budget)
  const int64_t w = (kBufferBytes / per_neuron) / kMinBlock * kMinBlock;
  return std::max(kMinBlock, std::min(kBlock, w));
}

// One step's state (i, v, a, s) of a block of neurons, structure of arrays.
template <typename scalar_t>
struct Rows {
  scalar_t *i, *v, *a, *s;
  NT_INLINE Rows at(int64_t c) const { return {i + c, v + c, a + c, s + c}; }
};

// What a block carries per neuron besides its state rows, in storage its caller owns:
// refractory counts, NaN/inf sums and held flags.
template <typename scalar_t>
struct Carry {
  scalar_t* ref;
  // x - x summed per neuron by the forward: 0, or NaN once one of its inputs was NaN or inf (a
  // lane-wise sum vectorises; an integer count of a comparison did not, cheaply)
  scalar_t* bad;
  uint8_t* held;  // the last step was refractory
  NT_INLINE Carry at(int64_t c) const { return {ref + c, bad + c, held + c}; }
};

// A block's parameters: the columns of an (8, P) block its neurons read (neuron m reads column
// m % P, lif_scan.h load_params), for its first kBlock neurons; only the forward's wide blocks
// are wider, and their parameters are per layer (P = 1: every neuron reads column 0).
template <typename scalar_t>
struct alignas(64) BlockParams {
  scalar_t pr[kNumParams][kBlock];

  NT_INLINE void load(int64_t P, int64_t m0, int64_t n, const scalar_t* params) {
    const int64_t w = std::min(n, kBlock);
    if (P == 1) {  // per layer (no division per neuron: a block's share of a short call)
      for (int q = 0; q < kNumParams; ++q) std::fill(pr[q], pr[q] + w, params[q]);
      return;
    }
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = (m0 + j) % P;
      for (int q = 0; q < kNumParams; ++q) pr[q][j] = params[q * P + c];
    }
  }

  NT_INLINE LifParams<scalar_t> params(int64_t j) const {
    return {pr[P_BETA][j], pr[P_ALPHA][j], pr[P_RHO][j],  pr[P_ADAPT][j],
            pr[P_V_REST][j], pr[P_GAIN][j], pr[P_V_TH][j], pr[P_V_RESET][j]};
  }
};

// dst[j] = t[m0 + j] for j < n: a fill for a broadcast value (stride 0, a rest state), a copy
// for a contiguous row (a loop over a run-time stride stayed scalar).
template <typename scalar_t>
NT_INLINE void load_row(scalar_t* __restrict__ dst, PerNeuron<scalar_t> t, int64_t m0,
                        int64_t n) {
  if (t.stride == 0) {
    std::fill(dst, dst + n, t.p[0]);
  } else if (t.stride == 1) {
    std::copy(t.p + m0, t.p + m0 + n, dst);
  } else {
    for (int64_t j = 0; j < n; ++j) dst[j] = t[m0 + j];
  }
}

// The initial state of block [m0, m0 + n) into `rows` and `carry`: only the rows a block of
// SHAPE reads (PLAIN: not i and a) and the carry only with REF (the wide forward's rows are
// megabytes of scratch; what is never written stays out of the resident set).
template <typename scalar_t, int SHAPE, bool REF>
NT_INLINE void load_state(int64_t m0, int64_t n, PerNeuron<scalar_t> i0,
                          PerNeuron<scalar_t> v0, PerNeuron<scalar_t> a0,
                          PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                          Rows<scalar_t> rows, Carry<scalar_t> carry) {
  if (SHAPE != PLAIN) {
    load_row(rows.i, i0, m0, n);
    load_row(rows.a, a0, m0, n);
  }
  load_row(rows.v, v0, m0, n);
  // (PLAIN without REF recomputes s from v: advance S_FROM_V)
  if (SHAPE != PLAIN || REF) load_row(rows.s, s0, m0, n);
  if (REF) {
    load_row(carry.ref, ref0, m0, n);
    std::fill(carry.bad, carry.bad + n, scalar_t(0));
  }
}

// Per-thread scratch: at least n values, 64-byte aligned, uninitialised (pages become resident
// only where written), kept between calls (they are faulted in once).
template <typename T>
struct Scratch {
  std::unique_ptr<T[]> data;
  int64_t size = 0;

  T* get(int64_t n) {
    constexpr int64_t slack = 64 / int64_t(sizeof(T));
    if (n + slack > size) {
      data.reset(new T[n + slack]);  // default-initialised: nothing written
      size = n + slack;
    }
    const uintptr_t p = reinterpret_cast<uintptr_t>(data.get());
    return reinterpret_cast<T*>((p + 63) & ~uintptr_t(63));
  }
};

// One step of every neuron of a block: the state (i0, v0, a0, s0) -> (i1, v1, a1, s1), either
// in place (the forward: the same rows, which the compiler sees are read before written) or
// into distinct rows (the backward's recompute writes each step's into its buffer; see the
// overload below); the refractory counts advance in place. SHAPE: see Shape (with PLAIN the
// rows i and a are left alone). CHECK: sum x - x per neuron into c.bad (the forward with a
// refractory period, whose held steps ignore x; see forward_block). S_FROM_V (PLAIN without a
// refractory period): s0 is not read, the previous spike is recomputed from v0 as the step
// that stored v0 computed it (no held steps: s = H(v - v_th), lif_step_forward<PLAIN>).
template <typename scalar_t, int RESET, bool REF, int SHAPE, bool CHECK, bool S_FROM_V = false>
NT_INLINE void advance(const BlockParams<scalar_t>& bp, Carry<scalar_t> c, const LifConfig& cfg,
                       int64_t n, const scalar_t* __restrict__ x_row, const scalar_t* i0,
                       const scalar_t* v0, const scalar_t* a0, const scalar_t* s0,
                       scalar_t* i1, scalar_t* v1, scalar_t* a1, scalar_t* s1) {
  static_assert(!S_FROM_V || (SHAPE == PLAIN && !REF), "S_FROM_V needs PLAIN without REF");
  const LifParams<scalar_t> p0 = bp.params(0);
  // No step of neuron j reads what another neuron's wrote: the rows are the same (in place, a
  // value read before it is written) or do not overlap. Said to the compiler, which could not
  // tell the two apart (with sixteen pairs of rows to check at run time it would leave the
  // loop scalar, 4x slower).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t xj = x_row[j];
    if (CHECK) c.bad[j] += xj - xj;
    constexpr bool plain = SHAPE == PLAIN;
    scalar_t ii = plain ? xj : i0[j], aa = plain ? scalar_t(0) : a0[j];
    scalar_t vv = v0[j], rr = REF ? c.ref[j] : scalar_t(0);
    scalar_t ss = S_FROM_V ? heaviside(plain_spike_arg(p0, vv)) : s0[j];
    bool h;
    lif_step_forward<scalar_t, plain>(SHAPE == PER_NEURON ? bp.params(j) : p0, cfg, xj, ii, vv,
                                      aa, ss, rr, h);
    if (!plain) {
      i1[j] = ii;
      a1[j] = aa;
    }
    v1[j] = vv;
    s1[j] = ss;
    if (REF) {
      c.ref[j] = rr;
      c.held[j] = h ? kHeld : uint8_t(0);
    }
  }
}

// In place.
template <typename scalar_t, int RESET, bool REF, int SHAPE, bool CHECK, bool S_FROM_V = false>
NT_INLINE void advance(const BlockParams<scalar_t>& bp, Carry<scalar_t> c, const LifConfig& cfg,
                       int64_t n, const scalar_t* x_row, Rows<scalar_t> r) {
  advance<scalar_t, RESET, REF, SHAPE, CHECK, S_FROM_V>(bp, c, cfg, n, x_row, r.i, r.v, r.a,
                                                          r.s, r.i, r.v, r.a, r.s);
}

// From `in` to rows `out` that do not overlap them.
template <typename scalar_t, int RESET, bool REF, int SHAPE, bool CHECK, bool S_FROM_V = false>
NT_INLINE void advance(const BlockParams<scalar_t>& bp, Carry<scalar_t> c, const LifConfig& cfg,
                       int64_t n, const scalar_t* x_row, Rows<scalar_t> in, Rows<scalar_t> out) {
  advance<scalar_t, RESET, REF, SHAPE, CHECK, S_FROM_V>(bp, c, cfg, n, x_row, in.i, in.v, in.a,
                                                          in.s, out.i, out.v, out.a, out.s);
}

template <int RESET, bool REF>
LifConfig specialise(const LifConfig& cfg_in) {
  LifConfig cfg = cfg_in;
  cfg.reset = RESET;
  if (!REF) cfg.n_ref = 0;
  return cfg;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define NT_STREAM_32 1
// Whether the CPU has AVX, for 32-byte streaming stores (checked once, at load).
const bool kHasAvx = [] {
  __builtin_cpu_init();  // (a static initialiser may run before libgcc's)
  return __builtin_cpu_supports("avx") != 0;
}();

// Copies `bytes` (a multiple of 32) from src to 32-byte aligned dst by 32-byte non-temporal
// stores. Out of line, for AVX only, so that every clone of the block loops (the default one
// too) may call it where kHasAvx holds: per row piece (a kilobyte), a call is cheap.
__attribute__((target("avx"), noinline)) void stream_32(void* dst, const void* src,
                                                        int64_t bytes) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  int64_t o = 0;
  for (; o + 64 <= bytes; o += 64) {  // a cache line per iteration
    _mm256_stream_ps(reinterpret_cast<float*>(d + o),
                     _mm256_loadu_ps(reinterpret_cast<const float*>(s + o)));
    _mm256_stream_ps(reinterpret_cast<float*>(d + o + 32),
                     _mm256_loadu_ps(reinterpret_cast<const float*>(s + o + 32)));
  }
  if (o < bytes)  // the last 32 bytes
    _mm256_stream_ps(reinterpret_cast<float*>(d + o),
                     _mm256_loadu_ps(reinterpret_cast<const float*>(s + o)));
}
#endif

// Copies n values to dst; with `stream`, by non-temporal stores where dst is 16-byte aligned
// (write-combined straight to memory: no read of the destination line first, and the scan's
// working set stays in the cache). 32-byte stores where the CPU has AVX: with 16-byte ones the
// forward of 100 steps of 32k neurons took 1.06x a memcpy of its bytes on an AMD EPYC (Zen 4),
// with 32-byte ones 0.84x (512-bit ones: the same).
template <typename scalar_t>
NT_INLINE void store_row(scalar_t* __restrict__ dst, const scalar_t* __restrict__ src, int64_t n,
                         bool stream) {
#if defined(__SSE2__)
  constexpr int64_t lanes = 16 / int64_t(sizeof(scalar_t));
  if (stream && reinterpret_cast<uintptr_t>(dst) % 16 == 0) {
    auto put = [&](int64_t j) {
      if constexpr (sizeof(scalar_t) == 4) {
        _mm_stream_ps(reinterpret_cast<float*>(dst + j),
                      _mm_loadu_ps(reinterpret_cast<const float*>(src + j)));
      } else {
        _mm_stream_pd(reinterpret_cast<double*>(dst + j),
                      _mm_loadu_pd(reinterpret_cast<const double*>(src + j)));
      }
    };
    int64_t j = 0;
#if defined(NT_STREAM_32)
    if (kHasAvx) {
      if (reinterpret_cast<uintptr_t>(dst) % 32 != 0 && n >= lanes) {
        put(0);
        j = lanes;
      }
      const int64_t body = (n - j) / (2 * lanes) * (2 * lanes);  // whole 32-byte stores
      stream_32(dst + j, src + j, body * int64_t(sizeof(scalar_t)));
      j += body;
    }
#endif
    // a cache line per iteration: the loop's own instructions cost as much as the stores
    for (; j + 4 * lanes <= n; j += 4 * lanes) {
      put(j);
      put(j + lanes);
      put(j + 2 * lanes);
      put(j + 3 * lanes);
    }
    for (; j + lanes <= n; j += lanes) put(j);
    for (; j < n; ++j) dst[j] = src[j];
    return;
  }
#endif
  (void)stream;
  for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
}

// Forward of the block [m0, m0 + n) over all T steps, its state advanced in place in `state`
// and `carry` (n values each); returns the number of neurons that saw a NaN or inf input.
// `stream`: the spikes go out by non-temporal stores (large outputs). Each step runs over the
// block kBlock neurons at a time, so the spikes a piece has just computed are streamed out
// from the L1 cache; a narrow block (n <= kBlock, the only width with per-neuron parameters)
// prefetches the rows of x a few steps ahead, a wide one the run kWideAheadBytes ahead of the
// piece it computes (its long runs of each row also suit the hardware prefetcher).
template <typename scalar_t, int RESET, bool REF, int SHAPE>
NT_INLINE int64_t forward_block(const LifConfig& cfg_in, bool stream, int64_t T, int64_t M,
                                int64_t P, int64_t m0, int64_t n, Rows<scalar_t> state,
                                Carry<scalar_t> carry, const scalar_t* x,
                                PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                                PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0,
                                PerNeuron<scalar_t> ref0, const scalar_t* params,
                                scalar_t* spikes, scalar_t* v_out, scalar_t* i_out,
                                scalar_t* a_out, uint8_t* flags, scalar_t* ref_out) {
  const LifConfig cfg = specialise<RESET, REF>(cfg_in);
  const bool traces = cfg.keep_traces;
  BlockParams<scalar_t> bp;
  bp.load(P, m0, n, params);
  load_state<scalar_t, SHAPE, REF>(m0, n, i0, v0, a0, s0, ref0, state, carry);
  const bool narrow = n <= kBlock;
  const int64_t bytes = n * int64_t(sizeof(scalar_t));
  // A plain layer without a refractory period keeps no row of spikes: each step recomputes the
  // last one's from v (advance S_FROM_V), and a piece's spikes are staged here, in L1, for
  // the streamed store (a wide block's row of them was a megabyte of resident scratch).
  constexpr bool s_from_v = SHAPE == PLAIN && !REF;
  alignas(64) scalar_t stage[kBlock];
  // (a wide block is longer than this: the point ahead is in this row or the next)
  const int64_t ahead = kWideAheadBytes / int64_t(sizeof(scalar_t));
  for (int64_t t = 0; t < T; ++t) {
    if (narrow && t + kAhead < T) {
      prefetch(x + (t + kAhead) * M + m0, bytes, false);
      if (!stream) prefetch(spikes + (t + kAhead) * M + m0, bytes, true);
    }
    const int64_t k0 = t * M + m0;
    for (int64_t c = 0; c < n; c += kBlock) {
      const int64_t nc = std::min(kBlock, n - c);
      if (!narrow) {  // [p, p + nc) of the walk: the end of this row, the next row's start
        constexpr int64_t sz = int64_t(sizeof(scalar_t));
        const int64_t p = c + ahead;
        if (p < n) prefetch(x + k0 + p, (std::min(p + nc, n) - p) * sz, false);
        if (p + nc > n && t + 1 < T) {
          const int64_t q = std::max<int64_t>(p - n, 0);
          prefetch(x + k0 + M + q, (p + nc - n - q) * sz, false);
        }
      }
      Rows<scalar_t> r = state.at(c);
      if (s_from_v) {
        r.s = stage;
        if (t == 0)
          for (int64_t j = 0; j < nc; ++j) stage[j] = s0[m0 + c + j];
      }
      if (s_from_v && t > 0) {
        advance<scalar_t, RESET, REF, SHAPE, REF, s_from_v>(bp, carry.at(c), cfg, nc,
                                                            x + k0 + c, r);
      } else {
        advance<scalar_t, RESET, REF, SHAPE, REF>(bp, carry.at(c), cfg, nc, x + k0 + c, r);
      }
      store_row(spikes + k0 + c, r.s, nc, stream);
    }
    if (traces || t == T - 1) {  // every step's traces, or the last one's in row 0
      const int64_t kt = (traces ? t * M : 0) + m0;
      // (without traces the rows may be the outputs themselves: see lif_scan_forward_cpu)
      if (v_out + kt != state.v) store_row(v_out + kt, state.v, n, false);
      if (i_out == nullptr) {
        // the caller knows the final i and a (binding.cpp final_ia)
      } else if (SHAPE == PLAIN) {  // i = x, a = 0
        store_row(i_out + kt, x + k0, n, false);
        std::fill(a_out + kt, a_out + kt + n, scalar_t(0));
      } else if (i_out + kt != state.i) {
        store_row(i_out + kt, state.i, n, false);
        store_row(a_out + kt, state.a, n, false);
      }
      if (REF)
        for (int64_t j = 0; j < n; ++j) flags[kt + j] = carry.held[j];
    }
  }
#if defined(__SSE2__)
  if (stream) _mm_sfence();  // the streamed rows are visible before the block counts as done
#endif
  if (ref_out != nullptr)
    for (int64_t j = 0; j < n; ++j) ref_out[m0 + j] = carry.ref[j];
  int64_t bad = 0;
  if (REF) {
    for (int64_t j = 0; j < n; ++j) bad += carry.bad[j] != scalar_t(0) ? 1 : 0;
    return bad;
  }
  // Without a refractory period every step's v takes in gain * i' and i' = alpha * i + x, and
  // no step maps a non-finite v back to a finite one (0 * inf is NaN): a NaN or inf input
  // leaves the final v non-finite. Only such neurons (rare) have their inputs counted, once a
  // pass that vectorises found one (the loop below, with its early exits, stays scalar).
  if (!any_nonfinite(state.v, n)) return 0;
  for (int64_t j = 0; j < n; ++j) {
    if (!not_finite(state.v[j])) continue;
    for (int64_t t = 0; t < T; ++t) {
      if (not_finite(x[t * M + m0 + j])) {
        ++bad;
        break;
      }
    }
  }
  return bad;
}

// sg[j] = g(z[j]) for the surrogate KIND at z[j] = v1[j] - (v_th[j] + a1[j]) (spike_arg);
// PLAIN: at v1[j] - v_th[0] (a1 = 0 and one threshold; a1 is not read).
template <int KIND, bool PLAIN, typename scalar_t>
NT_INLINE void surrogate_row(int64_t n, scalar_t alpha, const scalar_t* __restrict__ v1,
                             const scalar_t* __restrict__ a1, const scalar_t* __restrict__ v_th,
                             scalar_t* __restrict__ sg) {
  const scalar_t th = v_th[0];
  for (int64_t j = 0; j < n; ++j)
    sg[j] = surrogate_grad_k<KIND>(alpha, PLAIN ? nt_sub(v1[j], th)
                                                : spike_arg(v_th[j], v1[j], a1[j]));
}

template <bool PLAIN, typename scalar_t>
NT_INLINE void surrogate_row(int kind, int64_t n, scalar_t alpha, const scalar_t* v1,
                             const scalar_t* a1, const scalar_t* v_th, scalar_t* sg) {
  switch (kind) {
    case SG_SIGMOID: surrogate_row<SG_SIGMOID, PLAIN>(n, alpha, v1, a1, v_th, sg); break;
    case SG_FAST_SIGMOID:
      surrogate_row<SG_FAST_SIGMOID, PLAIN>(n, alpha, v1, a1, v_th, sg);
      break;
    case SG_ATAN: surrogate_row<SG_ATAN, PLAIN>(n, alpha, v1, a1, v_th, sg); break;
    case SG_GAUSSIAN: surrogate_row<SG_GAUSSIAN, PLAIN>(n, alpha, v1, a1, v_th, sg); break;
    case SG_TRIANGLE: surrogate_row<SG_TRIANGLE, PLAIN>(n, alpha, v1, a1, v_th, sg); break;
    default: surrogate_row<SG_STRAIGHT_THROUGH, PLAIN>(n, alpha, v1, a1, v_th, sg); break;
  }
}

// The gradients flowing into a block, per step: the spikes' (a row, or one value broadcast to
// every element), and optionally the traces'.
template <typename scalar_t>
struct OutputGrads {
  const scalar_t* spikes;  // (T, M), or a single value if spikes_broadcast
  bool spikes_broadcast;
  const scalar_t *v, *i, *a;  // (T, M) or null
};

// Backward of the block [m0, m0 + n): recompute the forward into `buf`, then reverse; the
// reverse scan prefetches the x of the next n_next neurons (the block this thread does next,
// or 0), whose recompute then reads them from the L2 cache.
// DETACH (cfg.detach_reset) is a template argument too: as a run-time select it kept the
// compiler from vectorising the reverse step. Without PARAMS no parameter gradient is
// accumulated (a third of the reverse step's work when the parameters are fixed). SHAPE: see
// Shape (PLAIN only without PARAMS).
template <typename scalar_t, bool DETACH, bool PARAMS, int RESET, bool REF, int SHAPE>
NT_INLINE void backward_block(const LifConfig& cfg_in, bool stream, int64_t T, int64_t M,
                              int64_t P, int64_t m0, int64_t n, int64_t n_next,
                              const OutputGrads<scalar_t>& g,
                              const scalar_t* x, PerNeuron<scalar_t> i0,
                              PerNeuron<scalar_t> v0, PerNeuron<scalar_t> a0,
                              PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                              const scalar_t* params, scalar_t* buf, uint8_t* flag_buf,
                              scalar_t* g_x, scalar_t* g_i0,
                              scalar_t* g_v0, scalar_t* g_a0, scalar_t* g_s0,
                              scalar_t* g_params) {
  LifConfig cfg = specialise<RESET, REF>(cfg_in);
  cfg.keep_traces = true;
  cfg.detach_reset = DETACH;
  BlockParams<scalar_t> bp;
  bp.load(P, m0, n, params);
  // the initial state, as the "previous step" of step 0
  alignas(64) scalar_t init[4][kBlock], ref[kBlock], bad[kBlock];
  alignas(64) uint8_t held[kBlock];
  const Rows<scalar_t> init_rows{init[0], init[1], init[2], init[3]};
  const Carry<scalar_t> carry{ref, bad, held};
  load_state<scalar_t, UNIFORM, true>(m0, n, i0, v0, a0, s0, ref0, init_rows, carry);
  // buf holds, per step t, the rows of the block after step t (padded): i, v, a, s; PLAIN
  // writes only v and s, and without a refractory period keeps only v (its spikes are
  // recomputed from v, as the forward's: advance S_FROM_V). A row it does not keep names the v
  // row (i and a: the reverse step of PLAIN ignores them) or, for s, one never read.
  constexpr bool plain = SHAPE == PLAIN, s_from_v = plain && !REF;
  constexpr int64_t kept = s_from_v ? 1 : plain ? 2 : 4;
  alignas(64) scalar_t s_sink[kBlock];
  scalar_t* b = buf;
  const int64_t stride = kept * n + kPad;
  auto rows = [&](int64_t t) {
    if (t < 0) return init_rows;
    scalar_t* r = b + t * stride;
    if (s_from_v) return Rows<scalar_t>{r, r, r, s_sink};
    if (plain) return Rows<scalar_t>{r, r, r, r + n};
    return Rows<scalar_t>{r, r + n, r + 2 * n, r + 3 * n};
  };
  uint8_t* fb = flag_buf;
  const int64_t bytes = n * int64_t(sizeof(scalar_t));
  for (int64_t t = 0; t < T; ++t) {
    if (t + kAhead < T) prefetch(x + (t + kAhead) * M + m0, bytes, false);
    if (s_from_v && t > 0) {
      advance<scalar_t, RESET, REF, SHAPE, false, s_from_v>(bp, carry, cfg, n, x + t * M + m0,
                                                            rows(t - 1), rows(t));
    } else {
      advance<scalar_t, RESET, REF, SHAPE, false>(bp, carry, cfg, n, x + t * M + m0,
                                                    rows(t - 1), rows(t));
    }
    if (REF) std::copy(held, held + n, fb + t * n);
  }

  alignas(64) scalar_t gi[kBlock], gv[kBlock], ga[kBlock], gs[kBlock], gp[kNumParams][kBlock];
  alignas(64) scalar_t sg[kBlock], g_const[kBlock], gx_local[kBlock];
  for (int64_t j = 0; j < n; ++j) {
    gi[j] = gv[j] = ga[j] = gs[j] = scalar_t(0);
    for (int q = 0; q < kNumParams; ++q) gp[q][j] = scalar_t(0);
  }
  const scalar_t sg_alpha = scalar_t(cfg.sg_alpha);
  // a copy whose address never escapes, so its fields are known constant inside the loops
  // (the recompute above passed cfg by reference to an outlined call)
  const LifConfig rc = cfg;
  const LifParams<scalar_t> p0 = bp.params(0);
  if (g.spikes_broadcast)
    for (int64_t j = 0; j < n; ++j) g_const[j] = g.spikes[0];
  const int64_t bytes_next = n_next * int64_t(sizeof(scalar_t));
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t k0 = t * M + m0;
    // the reverse scan reads no x: the memory is idle, and the next block's recompute is the
    // next to read x (its rows then come from the L2 cache, not from memory)
    prefetch(x + k0 + n, bytes_next, false);
    if (t >= kAhead) {
      if (!g.spikes_broadcast) prefetch(g.spikes + k0 - kAhead * M, bytes, false);
      if (!stream) prefetch(g_x + k0 - kAhead * M, bytes, true);
    }
    const Rows<scalar_t> r1 = rows(t), r0 = rows(t - 1);  // the state after step t and before
    if (g.v != nullptr)
      for (int64_t j = 0; j < n; ++j) gv[j] += g.v[k0 + j];
    // PLAIN carries no adjoint of i (alpha = 0: gi is this step's g.i, or stays 0) and none
    // of a (rho = adapt = 0, a1 = 0: ga1 reaches nothing; ga is kept from step 0 only, for
    // g_a0), which saves the reverse step two of its five stores
    if (g.i != nullptr)
      for (int64_t j = 0; j < n; ++j) gi[j] = (SHAPE == PLAIN ? scalar_t(0) : gi[j]) + g.i[k0 + j];
    if (g.a != nullptr && SHAPE != PLAIN)
      for (int64_t j = 0; j < n; ++j) ga[j] += g.a[k0 + j];
    surrogate_row<SHAPE == PLAIN, scalar_t>(rc.surrogate, n, sg_alpha, r1.v, r1.a,
                                            bp.pr[P_V_TH], sg);
    const bool keep_ga = SHAPE != PLAIN || t == 0;
    const uint8_t* fl = REF ? fb + t * n : nullptr;
    const scalar_t* gs_row = g.spikes_broadcast ? g_const : g.spikes + k0;
    // a large g_x is written through a local row and streamed out (as the forward's spikes)
    scalar_t* gx_row = stream ? gx_local : g_x + k0;
    const bool s_recomputed = s_from_v && t > 0;  // (step 0's previous spike is the state's)
    for (int64_t j = 0; j < n; ++j) {
      const bool held = REF && (fl[j] & kHeld);
      scalar_t gpj[kNumParams] = {};
      if (PARAMS)
        for (int q = 0; q < kNumParams; ++q) gpj[q] = gp[q][j];
      scalar_t gij = gi[j], gvj = gv[j], gaj = SHAPE == PLAIN ? scalar_t(0) : ga[j];
      scalar_t gsj = gs[j] + gs_row[j];
      const scalar_t s0j = s_recomputed ? heaviside(plain_spike_arg(p0, r0.v[j])) : r0.s[j];
      gx_row[j] = lif_step_backward<scalar_t, SHAPE == PLAIN>(
          SHAPE == PER_NEURON ? bp.params(j) : p0, rc, r0.i[j], r0.v[j], r0.a[j], s0j,
          r1.i[j], held, sg[j], gij, gvj, gaj, gsj, gpj);
      if (SHAPE != PLAIN) gi[j] = gij;
      gv[j] = gvj;
      if (keep_ga) ga[j] = gaj;
      gs[j] = gsj;
      if (PARAMS)
        for (int q = 0; q < kNumParams; ++q) gp[q][j] = gpj[q];
    }
    if (stream) store_row(g_x + k0, gx_local, n, true);
  }
#if defined(__SSE2__)
  if (stream) _mm_sfence();
#endif
  for (int64_t j = 0; j < n; ++j) {
    const int64_t m = m0 + j;
    if (g_i0 != nullptr) {  // the initial-state gradients, all four or none
      g_i0[m] = SHAPE == PLAIN ? scalar_t(0) : gi[j];
      g_v0[m] = gv[j];
      g_a0[m] = ga[j];
      g_s0[m] = gs[j];
    }
    if (PARAMS)
      for (int q = 0; q < kNumParams; ++q) g_params[q * M + m] = gp[q][j];
  }
}

// F<RESET, REF>::run for the forward and the backward blocks, with the block's Shape; the
// float32 ones cloned per ISA.
template <typename scalar_t, int RESET, bool REF, typename... Args>
NT_INLINE void run_forward(int64_t& bad, int shape, Args&&... args) {
  switch (shape) {
    case PER_NEURON:
      bad += forward_block<scalar_t, RESET, REF, PER_NEURON>(std::forward<Args>(args)...);
      break;
    case UNIFORM:
      bad += forward_block<scalar_t, RESET, REF, UNIFORM>(std::forward<Args>(args)...);
      break;
    default:
      bad += forward_block<scalar_t, RESET, REF, PLAIN>(std::forward<Args>(args)...);
  }
}

template <typename scalar_t, bool DETACH, bool PARAMS, int RESET, bool REF, typename... Args>
NT_INLINE void run_backward(int shape, Args&&... args) {
  if (shape == PER_NEURON) {
    backward_block<scalar_t, DETACH, PARAMS, RESET, REF, PER_NEURON>(std::forward<Args>(args)...);
  } else if (PARAMS || shape == UNIFORM) {
    backward_block<scalar_t, DETACH, PARAMS, RESET, REF, UNIFORM>(std::forward<Args>(args)...);
  } else if constexpr (!PARAMS) {  // PLAIN has no parameter gradients
    backward_block<scalar_t, DETACH, PARAMS, RESET, REF, PLAIN>(std::forward<Args>(args)...);
  }
}

template <typename scalar_t>
struct Forward {
  template <int RESET, bool REF>
  struct Block {
    template <typename... Args>
    static void run(Args&&... args) {
      run_forward<scalar_t, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <>
struct Forward<float> {
  template <int RESET, bool REF>
  struct Block {
    template <typename... Args>
    NT_CPU_CLONES static void run(Args&&... args) {
      run_forward<float, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <typename scalar_t, bool DETACH, bool PARAMS>
struct Backward {
  template <int RESET, bool REF>
  struct Block {
    template <typename... Args>
    static void run(Args&&... args) {
      run_backward<scalar_t, DETACH, PARAMS, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <bool DETACH, bool PARAMS>
struct Backward<float, DETACH, PARAMS> {
  template <int RESET, bool REF>
  struct Block {
    template <typename... Args>
    NT_CPU_CLONES static void run(Args&&... args) {
      run_backward<float, DETACH, PARAMS, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <typename scalar_t, typename... Args>
void backward_dispatch(bool detach, bool params, int reset, bool ref, Args&&... args) {
  if (detach && params) {
    dispatch<Backward<scalar_t, true, true>::template Block>(reset, ref, args...);
  } else if (detach) {
    dispatch<Backward<scalar_t, true, false>::template Block>(reset, ref, args...);
  } else if (params) {
    dispatch<Backward<scalar_t, false, true>::template Block>(reset, ref, args...);
  } else {
    dispatch<Backward<scalar_t, false, false>::template Block>(reset, ref, args...);
  }
}
}  // namespace

template <typename scalar_t>
void lif_scan_forward_cpu(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                          const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                          PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0,
                          PerNeuron<scalar_t> ref0, const scalar_t* params, scalar_t* spikes,
                          scalar_t* v_out, scalar_t* i_out, scalar_t* a_out, uint8_t* flags,
                          scalar_t* ref_out, int64_t* nonfinite) {
  const bool stream = T * M * int64_t(sizeof(scalar_t)) >= kStreamBytes;
  const int64_t width = forward_width<scalar_t>(stream, P, M);
  const int64_t nblocks = (M + width - 1) / width;
  std::atomic<int64_t> bad_total{0};
  at::parallel_for(0, nblocks, grain(width, T), [&](int64_t b_begin, int64_t b_end) {
    thread_local Scratch<scalar_t> rows_buf;
    thread_local Scratch<uint8_t> held_buf;
    scalar_t* r = rows_buf.get(6 * width);
    const Rows<scalar_t> state{r, r + width, r + 2 * width, r + 3 * width};
    const Carry<scalar_t> carry{r + 4 * width, r + 5 * width, held_buf.get(width)};
    int64_t bad = 0;
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t m0 = b * width;
      const int64_t n = std::min(width, M - m0);
      const int shape = block_shape(P, params, true, i0, a0, s0, m0, n);
      // Without traces the final state's outputs hold the block's state rows while it scans:
      // no scratch for them, which for the wide blocks is megabytes of resident memory.
      Rows<scalar_t> rows = state;
      if (!cfg.keep_traces) {
        rows.v = v_out + m0;
        if (i_out != nullptr) {
          rows.i = i_out + m0;
          rows.a = a_out + m0;
        }
      }
      dispatch<Forward<scalar_t>::template Block>(cfg.reset, cfg.n_ref > 0, bad, shape, cfg,
                                                  stream, T, M, P, m0, n, rows, carry, x, i0,
                                                  v0, a0, s0, ref0, params, spikes, v_out,
                                                  i_out, a_out, flags, ref_out);
    }
    bad_total += bad;
  });
  *nonfinite += bad_total.load();
}

template <typename scalar_t>
void lif_scan_backward_cpu(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                           const scalar_t* g_spikes, bool g_spikes_broadcast,
                           const scalar_t* g_v, const scalar_t* g_i, const scalar_t* g_a,
                           const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                           PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0,
                           PerNeuron<scalar_t> ref0, const scalar_t* params, scalar_t* g_x,
                           scalar_t* g_i0, scalar_t* g_v0, scalar_t* g_a0, scalar_t* g_s0,
                           scalar_t* g_params) {
  const bool has_ref = cfg.n_ref > 0;
  // a plain layer (every block PLAIN) keeps fewer values per step: wider blocks
  const bool plain = block_shape(P, params, g_params == nullptr, i0, a0, s0, 0, M) == PLAIN;
  const int64_t width = backward_width<scalar_t>(T, !plain ? 4 : has_ref ? 2 : 1, has_ref);
  const int64_t nblocks = (M + width - 1) / width;
  const OutputGrads<scalar_t> g{g_spikes, g_spikes_broadcast, g_v, g_i, g_a};
  const bool stream = T * M * int64_t(sizeof(scalar_t)) >= kStreamBytes;
  at::parallel_for(0, nblocks, grain(width, T), [&](int64_t b_begin, int64_t b_end) {
    // per thread, kept between calls: its pages are touched once
    thread_local Scratch<scalar_t> buf_scratch;
    thread_local Scratch<uint8_t> flag_scratch;
    scalar_t* buf = buf_scratch.get(T * (4 * width + kPad));
    uint8_t* flag_buf = flag_scratch.get(has_ref ? T * width : 0);
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t m0 = b * width;
      const int64_t n = std::min(width, M - m0);
      // (a plain layer's blocks are all PLAIN: their states were checked above)
      const int shape =
          plain ? PLAIN : block_shape(P, params, g_params == nullptr, i0, a0, s0, m0, n);
      backward_dispatch<scalar_t>(cfg.detach_reset, g_params != nullptr, cfg.reset, has_ref,
                                  shape, cfg, stream, T, M, P, m0, n,
                                  b + 1 < b_end ? std::min(width, M - m0 - n) : 0, g, x, i0,
                                  v0, a0, s0,
                                  ref0,
                                  params, buf, flag_buf, g_x, g_i0, g_v0, g_a0, g_s0,
                                  g_params);
    }
  });
}

template <typename scalar_t>
bool lif_final_ia_known_cpu(int64_t M, int64_t P, const scalar_t* params, PerNeuron<scalar_t> i0,
                            PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0) {
  for (const int q : {P_ALPHA, P_RHO, P_ADAPT})
    for (int64_t c = 0; c < P; ++c)
      if (params[q * P + c] != scalar_t(0)) return false;
  return !(any_nonfinite(i0, 0, M) || any_nonfinite(a0, 0, M) || any_nonfinite(s0, 0, M));
}

#define NT_INSTANTIATE(scalar_t)                                                               \
  template bool lif_final_ia_known_cpu<scalar_t>(int64_t, int64_t, const scalar_t*,            \
                                                 PerNeuron<scalar_t>, PerNeuron<scalar_t>,     \
                                                 PerNeuron<scalar_t>);                         \
  template void lif_scan_forward_cpu<scalar_t>(                                               \
      const LifConfig&, int64_t, int64_t, int64_t, const scalar_t*, PerNeuron<scalar_t>,      \
      PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>,     \
      const scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, uint8_t*, scalar_t*,       \
      int64_t*);                                                                              \
  template void lif_scan_backward_cpu<scalar_t>(                                              \
      const LifConfig&, int64_t, int64_t, int64_t, const scalar_t*, bool, const scalar_t*,    \
      const scalar_t*, const scalar_t*, const scalar_t*, PerNeuron<scalar_t>,                 \
      PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>,     \
      const scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*);
NT_INSTANTIATE(float)
NT_INSTANTIATE(double)
#undef NT_INSTANTIATE

}  // namespace neuraltide
