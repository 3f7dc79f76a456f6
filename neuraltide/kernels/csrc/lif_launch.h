// Launchers of the LIF-family scan, CUDA (lif_cuda.cu) and CPU (lif_cpu.cpp): plain pointers,
// no torch types, so the .cu compiles with plain nvcc. The binding (binding.cpp, built with
// NT_WITH_CUDA) calls these with the data pointers of checked, contiguous tensors and the
// current CUDA stream.
//
// Layout: sequences (T, M) row-major, the initial state (M,) per neuron or one value for all
// (PerNeuron, lif_scan.h), parameters (8, P) in the order of lif_scan.h's ParamIndex, neuron m
// reading column m % P (load_params). `flags` may be null when cfg.n_ref == 0; i_out and a_out
// may be null without cfg.keep_traces (the caller knows them); g_v, g_i, g_a may be null;
// g_params (8, M), the gradients per neuron, may be null when no parameter needs one.
// `nonfinite` (one int64, zero on entry, device memory for CUDA) receives a positive count
// when any input was NaN or inf (of the inputs on CUDA, of the neurons that saw one on the
// CPU).
#pragma once

#include <stdint.h>

#include "lif_scan.h"

namespace neuraltide {

template <typename scalar_t>
void lif_scan_forward_cuda(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                           const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                           PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                           const scalar_t* params, scalar_t* spikes, scalar_t* v_out,
                           scalar_t* i_out, scalar_t* a_out, uint8_t* flags, scalar_t* ref_out,
                           int64_t* nonfinite, void* stream);

// The CUDA backward reads the traces of a forward run with cfg.keep_traces (the binding
// recomputes them into temporaries).
template <typename scalar_t>
void lif_scan_backward_cuda(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                            const scalar_t* g_spikes, const scalar_t* g_v, const scalar_t* g_i,
                            const scalar_t* g_a, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                            PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, const scalar_t* params,
                            const scalar_t* spikes, const scalar_t* v_seq,
                            const scalar_t* i_seq, const scalar_t* a_seq, const uint8_t* flags,
                            scalar_t* g_x, scalar_t* g_i0, scalar_t* g_v0, scalar_t* g_a0,
                            scalar_t* g_s0, scalar_t* g_params, void* stream);

// CPU twins (lif_cpu.cpp): the same steps over blocks of neurons, parallel with
// at::parallel_for.
template <typename scalar_t>
void lif_scan_forward_cpu(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                          const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                          PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                          const scalar_t* params, scalar_t* spikes, scalar_t* v_out,
                          scalar_t* i_out, scalar_t* a_out, uint8_t* flags, scalar_t* ref_out,
                          int64_t* nonfinite);

// Whether a CPU forward without traces may leave out the final i and a, which follow from x:
// with alpha = rho = adapt = 0 in every column of params (8, P), the last step leaves
// i = x[T - 1] and a = 0, given i0, a0 and s0 finite (0 * inf is NaN, and a NaN stays; an
// input that is NaN or inf is reported through `nonfinite`).
template <typename scalar_t>
bool lif_final_ia_known_cpu(int64_t M, int64_t P, const scalar_t* params, PerNeuron<scalar_t> i0,
                            PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0);

// The CPU backward recomputes the forward from x and the initial state (nothing per step is
// saved); g_spikes is (T, M), or one value broadcast to every element if g_spikes_broadcast.
template <typename scalar_t>
void lif_scan_backward_cpu(const LifConfig& cfg, int64_t T, int64_t M, int64_t P,
                           const scalar_t* g_spikes, bool g_spikes_broadcast,
                           const scalar_t* g_v, const scalar_t* g_i, const scalar_t* g_a,
                           const scalar_t* x, PerNeuron<scalar_t> i0, PerNeuron<scalar_t> v0,
                           PerNeuron<scalar_t> a0, PerNeuron<scalar_t> s0, PerNeuron<scalar_t> ref0,
                           const scalar_t* params, scalar_t* g_x, scalar_t* g_i0,
                           scalar_t* g_v0, scalar_t* g_a0, scalar_t* g_s0, scalar_t* g_params);

// Returns the last CUDA error as text, or null if none (so the binding can TORCH_CHECK it).
const char* lif_cuda_last_error();

}  // namespace neuraltide
