// CPU twin of lif_cuda.cu: the same per-step functions of lif_scan.h (lif_step_forward,
// lif_step_backward), run over blocks of neurons in parallel (at::parallel_for).
#include <ATen/Parallel.h>

#include "lif_launch.h"
#include "lif_scan.h"

namespace neuraltide {

namespace {
// Neurons per block. Each block is scanned time-major: for each step, the block's neurons in
// turn. The scan of one neuron is a serial chain of dependent floating-point operations, so
// interleaving a block of independent neurons keeps the core's pipelines full (and reads each
// (T, M) row contiguously); a per-neuron scan as on the GPU was 2-3x slower here.
constexpr int64_t kBlock = 64;

int64_t grain_blocks(int64_t T) {
  // enough steps per task (grain * kBlock * T >= ~64k) to amortise the scheduling
  const int64_t per_block = kBlock * (T > 0 ? T : 1);
  return per_block >= 65536 ? 1 : 65536 / per_block;
}
}  // namespace

// One block of neurons [m0, m0 + n), forward over all T steps. The reset kind and whether a
// refractory period exists are compile-time constants here (RESET, REF), so after inlining
// the step has no loop-invariant branches left and the compiler can vectorise across neurons.
template <typename scalar_t, int RESET, bool REF>
void forward_block(const LifConfig& cfg_in, int64_t T, int64_t M, int64_t m0, int64_t n,
                   const scalar_t* __restrict__ x, const scalar_t* __restrict__ i0,
                   const scalar_t* __restrict__ v0, const scalar_t* __restrict__ a0,
                   const scalar_t* __restrict__ s0, const scalar_t* __restrict__ ref0,
                   const scalar_t* __restrict__ params, scalar_t* __restrict__ spikes,
                   scalar_t* __restrict__ v_out, scalar_t* __restrict__ i_out,
                   scalar_t* __restrict__ a_out, uint8_t* __restrict__ flags,
                   scalar_t* __restrict__ ref_out) {
  LifConfig cfg = cfg_in;
  cfg.reset = RESET;
  if (!REF) cfg.n_ref = 0;
  scalar_t pr[kNumParams][kBlock];
  scalar_t i[kBlock], v[kBlock], a[kBlock], s[kBlock], ref[kBlock];
  for (int q = 0; q < kNumParams; ++q)
    for (int64_t j = 0; j < n; ++j) pr[q][j] = params[q * M + m0 + j];
  for (int64_t j = 0; j < n; ++j) {
    i[j] = i0[m0 + j];
    v[j] = v0[m0 + j];
    a[j] = a0[m0 + j];
    s[j] = s0[m0 + j];
    ref[j] = ref0[m0 + j];
  }
  const int64_t row = cfg.keep_traces ? M : 0;  // traces of every step, or of the last one
  for (int64_t t = 0; t < T; ++t) {
    const int64_t k0 = t * M + m0, kt = t * row + m0;
    for (int64_t j = 0; j < n; ++j) {
      const LifParams<scalar_t> p{pr[P_BETA][j], pr[P_ALPHA][j], pr[P_RHO][j],
                                  pr[P_ADAPT][j], pr[P_V_REST][j], pr[P_GAIN][j],
                                  pr[P_V_TH][j], pr[P_V_RESET][j]};
      scalar_t ii = i[j], vv = v[j], aa = a[j], ss = s[j], rr = ref[j];
      bool held;
      lif_step_forward<scalar_t>(p, cfg, x[k0 + j], ii, vv, aa, ss, rr, held);
      i[j] = ii;
      v[j] = vv;
      a[j] = aa;
      s[j] = ss;
      ref[j] = rr;
      spikes[k0 + j] = ss;
      v_out[kt + j] = vv;
      i_out[kt + j] = ii;
      a_out[kt + j] = aa;
      if (REF) flags[kt + j] = held ? kHeld : uint8_t(0);
    }
  }
  for (int64_t j = 0; j < n; ++j) ref_out[m0 + j] = ref[j];
}

template <typename scalar_t, int RESET>
void forward_block_ref(bool has_ref, const LifConfig& cfg, int64_t T, int64_t M, int64_t m0,
                       int64_t n, const scalar_t* x, const scalar_t* i0, const scalar_t* v0,
                       const scalar_t* a0, const scalar_t* s0, const scalar_t* ref0,
                       const scalar_t* params, scalar_t* spikes, scalar_t* v_out,
                       scalar_t* i_out, scalar_t* a_out, uint8_t* flags, scalar_t* ref_out) {
  if (has_ref) {
    forward_block<scalar_t, RESET, true>(cfg, T, M, m0, n, x, i0, v0, a0, s0, ref0, params,
                                         spikes, v_out, i_out, a_out, flags, ref_out);
  } else {
    forward_block<scalar_t, RESET, false>(cfg, T, M, m0, n, x, i0, v0, a0, s0, ref0, params,
                                          spikes, v_out, i_out, a_out, flags, ref_out);
  }
}

template <typename scalar_t>
void lif_scan_forward_cpu(const LifConfig& cfg, int64_t T, int64_t M, const scalar_t* x,
                          const scalar_t* i0, const scalar_t* v0, const scalar_t* a0,
                          const scalar_t* s0, const scalar_t* ref0, const scalar_t* params,
                          scalar_t* spikes, scalar_t* v_out, scalar_t* i_out, scalar_t* a_out,
                          uint8_t* flags, scalar_t* ref_out) {
  const int64_t nblocks = (M + kBlock - 1) / kBlock;
  const bool has_ref = cfg.n_ref > 0;
  at::parallel_for(0, nblocks, grain_blocks(T), [&](int64_t b_begin, int64_t b_end) {
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t m0 = b * kBlock;
      const int64_t n = (M - m0) < kBlock ? (M - m0) : kBlock;
#define NT_FWD_BLOCK(R)                                                                       \
  forward_block_ref<scalar_t, R>(has_ref, cfg, T, M, m0, n, x, i0, v0, a0, s0, ref0, params, \
                                 spikes, v_out, i_out, a_out, flags, ref_out)
      switch (cfg.reset) {
        case RESET_SUBTRACT: NT_FWD_BLOCK(RESET_SUBTRACT); break;
        case RESET_SUBTRACT_AFTER_LEAK: NT_FWD_BLOCK(RESET_SUBTRACT_AFTER_LEAK); break;
        case RESET_TO_VALUE: NT_FWD_BLOCK(RESET_TO_VALUE); break;
        default: NT_FWD_BLOCK(RESET_NONE); break;
      }
#undef NT_FWD_BLOCK
    }
  });
}

template <typename scalar_t>
void lif_scan_backward_cpu(const LifConfig& cfg, int64_t T, int64_t M,
                           const scalar_t* g_spikes, const scalar_t* g_v, const scalar_t* g_i,
                           const scalar_t* g_a, const scalar_t* i0, const scalar_t* v0,
                           const scalar_t* a0, const scalar_t* s0, const scalar_t* params,
                           const scalar_t* spikes, const scalar_t* v_seq,
                           const scalar_t* i_seq, const scalar_t* a_seq, const uint8_t* flags,
                           scalar_t* g_x, scalar_t* g_i0, scalar_t* g_v0, scalar_t* g_a0,
                           scalar_t* g_s0, scalar_t* g_params) {
  const int64_t nblocks = (M + kBlock - 1) / kBlock;
  at::parallel_for(0, nblocks, grain_blocks(T), [&](int64_t b_begin, int64_t b_end) {
    LifParams<scalar_t> p[kBlock];
    scalar_t gi[kBlock], gv[kBlock], ga[kBlock], gs[kBlock], gp[kBlock][kNumParams];
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t m0 = b * kBlock;
      const int64_t n = (M - m0) < kBlock ? (M - m0) : kBlock;
      for (int64_t j = 0; j < n; ++j) {
        p[j] = load_params(params, M, m0 + j);
        gi[j] = gv[j] = ga[j] = gs[j] = scalar_t(0);
        for (int q = 0; q < kNumParams; ++q) gp[j][q] = scalar_t(0);
      }
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t k0 = t * M + m0;
        const bool first = t == 0;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = k0 + j;
          const int64_t m = m0 + j;
          gs[j] += g_spikes[k];
          if (g_v != nullptr) gv[j] += g_v[k];
          if (g_i != nullptr) gi[j] += g_i[k];
          if (g_a != nullptr) ga[j] += g_a[k];
          const int64_t kp = k - M;
          const scalar_t i_prev = first ? i0[m] : i_seq[kp];
          const scalar_t v_prev = first ? v0[m] : v_seq[kp];
          const scalar_t a_prev = first ? a0[m] : a_seq[kp];
          const scalar_t s_prev = first ? s0[m] : spikes[kp];
          const bool held = flags != nullptr && (flags[k] & kHeld);
          g_x[k] = lif_step_backward<scalar_t>(p[j], cfg, i_prev, v_prev, a_prev, s_prev,
                                               i_seq[k], v_seq[k], a_seq[k], held, gi[j], gv[j],
                                               ga[j], gs[j], gp[j]);
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        const int64_t m = m0 + j;
        g_i0[m] = gi[j];
        g_v0[m] = gv[j];
        g_a0[m] = ga[j];
        g_s0[m] = gs[j];
        for (int q = 0; q < kNumParams; ++q) g_params[q * M + m] = gp[j][q];
      }
    }
  });
}

#define NT_INSTANTIATE(scalar_t)                                                               \
  template void lif_scan_forward_cpu<scalar_t>(                                               \
      const LifConfig&, int64_t, int64_t, const scalar_t*, const scalar_t*, const scalar_t*,  \
      const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*, scalar_t*,          \
      scalar_t*, scalar_t*, scalar_t*, uint8_t*, scalar_t*);                                  \
  template void lif_scan_backward_cpu<scalar_t>(                                              \
      const LifConfig&, int64_t, int64_t, const scalar_t*, const scalar_t*, const scalar_t*,  \
      const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*,    \
      const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*, const scalar_t*,    \
      const uint8_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*);
NT_INSTANTIATE(float)
NT_INSTANTIATE(double)
#undef NT_INSTANTIATE

}  // namespace neuraltide
