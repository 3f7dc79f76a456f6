// CPU twin of lif_cuda.cu: the same per-neuron scans of lif_scan.h, run over blocks of
// neurons in parallel (at::parallel_for). Within a block, consecutive neurons share the cache
// lines of each (T, M) row, as consecutive CUDA threads do.
#include <ATen/Parallel.h>

#include "lif_launch.h"
#include "lif_scan.h"

namespace neuraltide {

namespace {
// Neurons per parallel task: enough work per task (grain * T steps) to amortise scheduling.
int64_t grain_size(int64_t T) { return T >= 1024 ? 16 : (16 * 1024) / (T > 0 ? T : 1); }
}  // namespace

template <typename scalar_t>
void lif_scan_forward_cpu(const LifConfig& cfg, int64_t T, int64_t M, const scalar_t* x,
                          const scalar_t* i0, const scalar_t* v0, const scalar_t* a0,
                          const scalar_t* s0, const scalar_t* ref0, const scalar_t* params,
                          scalar_t* spikes, scalar_t* v_out, scalar_t* i_out, scalar_t* a_out,
                          uint8_t* flags, scalar_t* ref_out) {
  at::parallel_for(0, M, grain_size(T), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const LifParams<scalar_t> p = load_params(params, M, m);
      lif_scan_forward<scalar_t>(p, cfg, T, M, m, x, i0[m], v0[m], a0[m], s0[m], ref0[m],
                                 spikes, v_out, i_out, a_out, flags, ref_out);
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
  at::parallel_for(0, M, grain_size(T), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const LifParams<scalar_t> p = load_params(params, M, m);
      lif_scan_backward<scalar_t>(p, cfg, T, M, m, g_spikes, g_v, g_i, g_a, i0[m], v0[m],
                                  a0[m], s0[m], spikes, v_seq, i_seq, a_seq, flags, g_x, g_i0,
                                  g_v0, g_a0, g_s0, g_params);
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
