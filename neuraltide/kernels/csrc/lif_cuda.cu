// CUDA kernels of the LIF-family scan: one thread per neuron, each running the shared
// per-neuron scan of lif_scan.h over all T steps. Consecutive threads read consecutive neurons
// of each (T, M) row, so every global access is coalesced. No torch types: plain nvcc compiles
// this file (tests/kernels/test_nvcc.py builds PTX for sm_80 and a cubin for sm_90).
#include <cuda_runtime.h>

#include "lif_launch.h"
#include "lif_scan.h"

namespace neuraltide {

namespace {
constexpr int kThreads = 256;

inline unsigned int num_blocks(int64_t M) {
  return static_cast<unsigned int>((M + kThreads - 1) / kThreads);
}
}  // namespace

template <typename scalar_t>
__global__ void lif_scan_forward_kernel(LifConfig cfg, int64_t T, int64_t M, int64_t P,
                                        const scalar_t* __restrict__ x,
                                        PerNeuron<scalar_t> i0,
                                        PerNeuron<scalar_t> v0,
                                        PerNeuron<scalar_t> a0,
                                        PerNeuron<scalar_t> s0,
                                        PerNeuron<scalar_t> ref0,
                                        const scalar_t* __restrict__ params,
                                        scalar_t* __restrict__ spikes,
                                        scalar_t* __restrict__ v_out,
                                        scalar_t* __restrict__ i_out,
                                        scalar_t* __restrict__ a_out,
                                        uint8_t* __restrict__ flags,
                                        scalar_t* __restrict__ ref_out,
                                        int64_t* __restrict__ nonfinite) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (m >= M) return;
  const LifParams<scalar_t> p = load_params(params, P, m);
  const int64_t bad = lif_scan_forward<scalar_t>(p, cfg, T, M, m, x, i0[m], v0[m], a0[m],
                                                 s0[m], ref0[m], spikes, v_out, i_out, a_out,
                                                 flags, ref_out);
  if (bad != 0 && nonfinite != nullptr) {
    atomicAdd(reinterpret_cast<unsigned long long*>(nonfinite),
              static_cast<unsigned long long>(bad));
  }
}

template <typename scalar_t>
__global__ void lif_scan_backward_kernel(
    LifConfig cfg, int64_t T, int64_t M, int64_t P, const scalar_t* __restrict__ g_spikes,
    const scalar_t* __restrict__ g_v, const scalar_t* __restrict__ g_i,
    const scalar_t* __restrict__ g_a, PerNeuron<scalar_t> i0,
    PerNeuron<scalar_t> v0, PerNeuron<scalar_t> a0,
    PerNeuron<scalar_t> s0, const scalar_t* __restrict__ params,
    const scalar_t* __restrict__ spikes, const scalar_t* __restrict__ v_seq,
    const scalar_t* __restrict__ i_seq, const scalar_t* __restrict__ a_seq,
    const uint8_t* __restrict__ flags, scalar_t* __restrict__ g_x, scalar_t* __restrict__ g_i0,
    scalar_t* __restrict__ g_v0, scalar_t* __restrict__ g_a0, scalar_t* __restrict__ g_s0,
    scalar_t* __restrict__ g_params) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (m >= M) return;
  const LifParams<scalar_t> p = load_params(params, P, m);
  lif_scan_backward<scalar_t>(p, cfg, T, M, m, g_spikes, g_v, g_i, g_a, i0[m], v0[m], a0[m],
                              s0[m], spikes, v_seq, i_seq, a_seq, flags, g_x, g_i0, g_v0, g_a0,
                              g_s0, g_params);
}

template <typename scalar_t>
void lif_scan_forward_cuda(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                           const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                           PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                           const scalar_t* params, scalar_t* spikes, scalar_t* v_out,
                           scalar_t* i_out, scalar_t* a_out, uint8_t* flags, scalar_t* ref_out,
                           int64_t* nonfinite, void* stream) {
  if (M == 0) return;
  lif_scan_forward_kernel<scalar_t>
      <<<num_blocks(M), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
          cfg, T, M, P, x, i0, v0, a0, s0, ref0, params, spikes, v_out, i_out, a_out, flags,
          ref_out, nonfinite);
}

template <typename scalar_t>
void lif_scan_backward_cuda(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                            const scalar_t* g_spikes, const scalar_t* g_v, const scalar_t* g_i,
                            const scalar_t* g_a, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                            PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, const scalar_t* params,
                            const scalar_t* spikes, const scalar_t* v_seq,
                            const scalar_t* i_seq, const scalar_t* a_seq, const uint8_t* flags,
                            scalar_t* g_x, scalar_t* g_i0, scalar_t* g_v0, scalar_t* g_a0,
                            scalar_t* g_s0, scalar_t* g_params, void* stream) {
  if (M == 0) return;
  lif_scan_backward_kernel<scalar_t>
      <<<num_blocks(M), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
          cfg, T, M, P, g_spikes, g_v, g_i, g_a, i0, v0, a0, s0, params, spikes, v_seq, i_seq,
          a_seq, flags, g_x, g_i0, g_v0, g_a0, g_s0, g_params);
}

const char* lif_cuda_last_error() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

// The two dtypes the binding dispatches to.
#define NT_INSTANTIATE(scalar_t)                                                               \
  template void lif_scan_forward_cuda<scalar_t>(                                              \
      const LifConfig&, int64_t, int64_t, int64_t, const scalar_t*, PerNeuron<scalar_t>,      \
      PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>, PerNeuron<scalar_t>,     \
      const scalar_t*, scalar_t*, scalar_t*, scalar_t*, scalar_t*, uint8_t*, scalar_t*,       \
      int64_t*, void*);                                                                       \
  template void lif_scan_backward_cuda<scalar_t>(                                             \
      const LifConfig&, int64_t, int64_t, int64_t, const scalar_t*, const scalar_t*,          \
      const scalar_t*, const scalar_t*, PerNeuron<scalar_t>, PerNeuron<scalar_t>,             \
      PerNeuron<scalar_t>, PerNeuron<scalar_t>, const scalar_t*, const scalar_t*,             \
      const scalar_t*, const scalar_t*, const scalar_t*, const uint8_t*, scalar_t*, scalar_t*, \
      scalar_t*, scalar_t*, scalar_t*, scalar_t*, void*);
NT_INSTANTIATE(float)
NT_INSTANTIATE(double)
#undef NT_INSTANTIATE

}  // namespace neuraltide
