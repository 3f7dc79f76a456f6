// The torch.library binding of the fused LIF-family scan: schema, input checks, and the CPU
// (and, when built with NT_WITH_CUDA, CUDA) implementations. The autograd of lif_scan_fwd is
// lif_autograd.cpp's; the fake (meta) kernels are registered from Python
// (neuraltide/kernels/_ops.py).
//
//   neuraltide::lif_scan_fwd(x (T, M), i0, v0, a0, s0, ref0 (M,), params (8, P),
//                            reset, n_ref, detach_reset, surrogate, surrogate_alpha,
//                            keep_traces, final_ia)
//       -> (spikes (T, M), v, i, a (R, M), flags (R, M) uint8 or (0,) if n_ref == 0,
//           ref (M,), or (0,) if n_ref == 0 (the counts never change then: the final count is
//           ref0), nonfinite () int64: > 0 when an input was NaN or inf)
//          with R = T, or R = 1 (the last step only) without keep_traces; without
//          keep_traces and final_ia, i and a are (0, M) where they are known (on the CPU, a
//          plain layer: i = x[T - 1], a = 0, lif_final_ia_known_cpu), for the caller to make;
//          neuron m reads column m % P of params (P = 1: per layer; P = neurons per sample:
//          per neuron)
//   neuraltide::lif_scan_bwd(grad_spikes (T, M), grad_v?, grad_i?, grad_a? (T, M),
//                            x (T, M), i0, v0, a0, s0, ref0 (M,), params (8, P),
//                            reset, n_ref, detach_reset, surrogate, surrogate_alpha,
//                            params_grad, state_grad)
//       -> (grad_x (T, M), grad_i0, grad_v0, grad_a0, grad_s0 (M,), or (0,) each without
//           state_grad, grad_params (8, M) per neuron, or (0,) without params_grad)
//       The backward recomputes the forward from x and the initial state, so the forward
//       keeps nothing per step for it.
//   Initial-state inputs (M,) may be one value broadcast to every neuron (stride 0, as a
//   fresh state's zero is): the kernels read it as such (PerNeuron), with no copy.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>

#include "host_cache.h"
#include "lif_launch.h"
#include "lif_scan.h"

#if defined(NT_WITH_CUDA)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace neuraltide {

namespace {

LifConfig make_config(int64_t reset, int64_t n_ref, bool detach_reset, int64_t surrogate,
                      double surrogate_alpha) {
  TORCH_CHECK(reset >= RESET_SUBTRACT && reset <= RESET_NONE,
              "lif_fused: reset must be in [0, 3] (SUBTRACT, SUBTRACT_AFTER_LEAK, TO_VALUE, "
              "NONE), got ", reset);
  TORCH_CHECK(n_ref >= 0 && n_ref <= (int64_t(1) << 30),
              "lif_fused: n_ref must be >= 0 [steps], got ", n_ref);
  TORCH_CHECK(surrogate >= SG_SIGMOID && surrogate <= SG_STRAIGHT_THROUGH,
              "lif_fused: surrogate must be in [0, 5] (SIGMOID, FAST_SIGMOID, ATAN, GAUSSIAN, "
              "TRIANGLE, STRAIGHT_THROUGH), got ", surrogate);
  TORCH_CHECK(surrogate_alpha > 0 && std::isfinite(surrogate_alpha),
              "lif_fused: surrogate_alpha must be finite and > 0, got ", surrogate_alpha);
  LifConfig cfg;
  cfg.reset = static_cast<int>(reset);
  cfg.n_ref = static_cast<int>(n_ref);
  cfg.detach_reset = detach_reset;
  cfg.surrogate = static_cast<int>(surrogate);
  cfg.sg_alpha = surrogate_alpha;
  return cfg;
}

void check_like(const at::Tensor& t, const char* name, const at::Tensor& ref,
                at::IntArrayRef shape) {
  TORCH_CHECK(t.sizes() == shape, "lif_fused: ", name, " must have shape ", shape, ", got ",
              t.sizes());
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), "lif_fused: ", name, " must have dtype ",
              ref.scalar_type(), " like x, got ", t.scalar_type());
  TORCH_CHECK(t.device() == ref.device(), "lif_fused: ", name, " must be on ", ref.device(),
              " like x, got ", t.device());
}

void check_sequence(const at::Tensor& x, const char* name) {
  TORCH_CHECK(x.dim() == 2, "lif_fused: ", name, " must be 2-D (T, M), got ", x.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, "lif_fused: ",
              name, " must be float32 or float64, got ", x.scalar_type());
}

template <typename scalar_t>
const scalar_t* ptr_or_null(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<scalar_t>() : nullptr;
}

// params is (8, P) with P dividing M: neuron m reads column m % P (lif_scan.h load_params).
// A new output like x (dtype `dtype`): on the CPU from the block cache (host_cache.h), so a
// size that comes again needs no fresh, page-faulting memory; elsewhere torch's allocator.
at::Tensor new_output(at::IntArrayRef sizes, const at::Tensor& x, at::ScalarType dtype) {
  const at::TensorOptions options = x.options().dtype(dtype);
  return x.is_cpu() ? cached_empty(sizes, options) : at::empty(sizes, options);
}

// An initial-state input (M,) as the kernels read it (lif_scan.h PerNeuron): one value
// broadcast to every neuron (stride 0: a fresh state's zero) stays one value; anything else is
// made contiguous.
at::Tensor state_input(const at::Tensor& t) {
  return t.size(0) > 1 && t.stride(0) == 0 ? t : t.contiguous();
}

template <typename scalar_t>
PerNeuron<scalar_t> per_neuron(const at::Tensor& t) {
  return {t.data_ptr<scalar_t>(), t.stride(0)};
}

int64_t check_params(const at::Tensor& params, const at::Tensor& x, int64_t M) {
  TORCH_CHECK(params.dim() == 2 && params.size(0) == kNumParams && params.size(1) >= 1,
              "lif_fused: params must have shape (8, P), got ", params.sizes());
  const int64_t P = params.size(1);
  TORCH_CHECK(M % P == 0, "lif_fused: params has P = ", P, " columns, which must divide the ",
              M, " neurons of a step");
  check_like(params, "params", x, {kNumParams, P});
  return P;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
fwd_impl(const at::Tensor& x_in, const at::Tensor& i0_in, const at::Tensor& v0_in,
         const at::Tensor& a0_in, const at::Tensor& s0_in, const at::Tensor& ref0_in,
         const at::Tensor& params_in, int64_t reset, int64_t n_ref, bool detach_reset,
         int64_t surrogate, double surrogate_alpha, bool keep_traces, bool final_ia) {
  LifConfig cfg = make_config(reset, n_ref, detach_reset, surrogate, surrogate_alpha);
  cfg.keep_traces = keep_traces;
  check_sequence(x_in, "x");
  const int64_t T = x_in.size(0), M = x_in.size(1);
  check_like(i0_in, "i0", x_in, {M});
  check_like(v0_in, "v0", x_in, {M});
  check_like(a0_in, "a0", x_in, {M});
  check_like(s0_in, "s0", x_in, {M});
  check_like(ref0_in, "ref0", x_in, {M});
  const int64_t P = check_params(params_in, x_in, M);
  const at::Tensor x = x_in.contiguous(), i0 = state_input(i0_in), v0 = state_input(v0_in),
                   a0 = state_input(a0_in), s0 = state_input(s0_in),
                   ref0 = state_input(ref0_in), params = params_in.contiguous();
  const int64_t R = keep_traces ? T : 1;
  // large CPU outputs come from the block cache (no page faults when a size comes again)
  const at::ScalarType dt = x.scalar_type();
  // i and a are left out only without traces, where the caller can make them (not final_ia)
  // and they are known: the shape (0, M) tells it (a value check on the CPU only, where it
  // costs no wait for the device)
  bool ia_known = false;
  if (!keep_traces && !final_ia && x.is_cpu()) {
    AT_DISPATCH_FLOATING_TYPES(dt, "lif_final_ia_known", [&] {
      ia_known = lif_final_ia_known_cpu<scalar_t>(M, P, params.data_ptr<scalar_t>(),
                                                  per_neuron<scalar_t>(i0),
                                                  per_neuron<scalar_t>(a0),
                                                  per_neuron<scalar_t>(s0));
    });
  }
  const int64_t R_ia = ia_known ? 0 : R;
  at::Tensor spikes = new_output({T, M}, x, dt), v = new_output({R, M}, x, dt),
             i = new_output({R_ia, M}, x, dt), a = new_output({R_ia, M}, x, dt);
  // without a refractory period there are no flags, and the counts stay ref0's
  at::Tensor ref = new_output(n_ref > 0 ? at::IntArrayRef({M}) : at::IntArrayRef({0}), x, dt);
  at::Tensor flags = new_output(n_ref > 0 ? at::IntArrayRef({R, M}) : at::IntArrayRef({0}), x,
                                at::kByte);
  // whether inputs were NaN or inf: the scan reads every input anyway, so the check that
  // keeps them out of a model's state costs no second pass over x
  at::Tensor nonfinite = at::zeros({}, x.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_scan_fwd", [&] {
    uint8_t* fl = n_ref > 0 ? flags.data_ptr<uint8_t>() : nullptr;
    scalar_t* ref_out = n_ref > 0 ? ref.data_ptr<scalar_t>() : nullptr;
    scalar_t* i_out = R_ia > 0 ? i.data_ptr<scalar_t>() : nullptr;
    scalar_t* a_out = R_ia > 0 ? a.data_ptr<scalar_t>() : nullptr;
#if defined(NT_WITH_CUDA)
    if (x.is_cuda()) {
      const c10::cuda::CUDAGuard guard(x.device());
      lif_scan_forward_cuda<scalar_t>(
          cfg, T, M, P, x.data_ptr<scalar_t>(), per_neuron<scalar_t>(i0),
          per_neuron<scalar_t>(v0), per_neuron<scalar_t>(a0), per_neuron<scalar_t>(s0),
          per_neuron<scalar_t>(ref0), params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(),
          v.data_ptr<scalar_t>(), i_out, a_out, fl, ref_out,
          nonfinite.data_ptr<int64_t>(),
          c10::cuda::getCurrentCUDAStream().stream());
      const char* err = lif_cuda_last_error();
      TORCH_CHECK(err == nullptr, "lif_fused: CUDA forward launch failed: ", err);
      return;
    }
#endif
    lif_scan_forward_cpu<scalar_t>(
        cfg, T, M, P, x.data_ptr<scalar_t>(), per_neuron<scalar_t>(i0), per_neuron<scalar_t>(v0),
        per_neuron<scalar_t>(a0), per_neuron<scalar_t>(s0), per_neuron<scalar_t>(ref0),
        params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
        i_out, a_out, fl, ref_out, nonfinite.data_ptr<int64_t>());
  });
  return {spikes, v, i, a, flags, ref, nonfinite};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> bwd_impl(
    const at::Tensor& grad_spikes_in, const c10::optional<at::Tensor>& grad_v_in,
    const c10::optional<at::Tensor>& grad_i_in, const c10::optional<at::Tensor>& grad_a_in,
    const at::Tensor& x_in, const at::Tensor& i0_in, const at::Tensor& v0_in,
    const at::Tensor& a0_in, const at::Tensor& s0_in, const at::Tensor& ref0_in,
    const at::Tensor& params_in, int64_t reset, int64_t n_ref, bool detach_reset,
    int64_t surrogate, double surrogate_alpha, bool params_grad, bool state_grad) {
  LifConfig cfg = make_config(reset, n_ref, detach_reset, surrogate, surrogate_alpha);
  check_sequence(x_in, "x");
  const int64_t T = x_in.size(0), M = x_in.size(1);
  check_like(grad_spikes_in, "grad_spikes", x_in, {T, M});
  check_like(i0_in, "i0", x_in, {M});
  check_like(v0_in, "v0", x_in, {M});
  check_like(a0_in, "a0", x_in, {M});
  check_like(s0_in, "s0", x_in, {M});
  check_like(ref0_in, "ref0", x_in, {M});
  const int64_t P = check_params(params_in, x_in, M);
  auto opt = [&](const c10::optional<at::Tensor>& g, const char* name) {
    if (!g.has_value() || !g->defined()) return c10::optional<at::Tensor>();
    check_like(*g, name, x_in, {T, M});
    return c10::optional<at::Tensor>(g->contiguous());
  };
  const c10::optional<at::Tensor> grad_v = opt(grad_v_in, "grad_v"),
                                  grad_i = opt(grad_i_in, "grad_i"),
                                  grad_a = opt(grad_a_in, "grad_a");
  const at::Tensor x = x_in.contiguous(), i0 = state_input(i0_in), v0 = state_input(v0_in),
                   a0 = state_input(a0_in), s0 = state_input(s0_in),
                   ref0 = state_input(ref0_in), params = params_in.contiguous();
  // the gradient of a sum arrives as one value expanded to (T, M): read it as that value
  // instead of materialising T*M copies
  const bool broadcast = grad_spikes_in.numel() > 0 && grad_spikes_in.stride(0) == 0 &&
                         grad_spikes_in.stride(1) == 0;
  const at::ScalarType dt = x.scalar_type();
  at::Tensor g_x = new_output({T, M}, x, dt);
  // the initial state's gradients only if it needs them (a fresh state usually does not)
  const auto state_output = [&] {
    return new_output(state_grad ? at::IntArrayRef({M}) : at::IntArrayRef({0}), x, dt);
  };
  at::Tensor g_i0 = state_output(), g_v0 = state_output(), g_a0 = state_output(),
             g_s0 = state_output();
  // per-neuron parameter gradients (8, M) only if some parameter needs one
  at::Tensor g_params = new_output(params_grad ? at::IntArrayRef({kNumParams, M})
                                               : at::IntArrayRef({0}),
                                   x, dt);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_scan_bwd", [&] {
    scalar_t* gp = params_grad ? g_params.data_ptr<scalar_t>() : nullptr;
    auto state_ptr = [&](at::Tensor& t) {
      return state_grad ? t.data_ptr<scalar_t>() : nullptr;
    };
#if defined(NT_WITH_CUDA)
    if (x.is_cuda()) {
      // recompute the forward's traces into temporaries that live only during the backward
      const c10::cuda::CUDAGuard guard(x.device());
      const at::Tensor grad_spikes = grad_spikes_in.contiguous();
      at::Tensor spikes = at::empty_like(x), v = at::empty_like(x), i = at::empty_like(x),
                 a = at::empty_like(x), ref = at::empty({M}, x.options());
      at::Tensor flags = at::empty(n_ref > 0 ? at::IntArrayRef({T, M}) : at::IntArrayRef({0}),
                                   x.options().dtype(at::kByte));
      uint8_t* fl = n_ref > 0 ? flags.data_ptr<uint8_t>() : nullptr;
      void* const stream = c10::cuda::getCurrentCUDAStream().stream();
      cfg.keep_traces = true;
      lif_scan_forward_cuda<scalar_t>(
          cfg, T, M, P, x.data_ptr<scalar_t>(), per_neuron<scalar_t>(i0),
          per_neuron<scalar_t>(v0), per_neuron<scalar_t>(a0), per_neuron<scalar_t>(s0),
          per_neuron<scalar_t>(ref0), params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(),
          v.data_ptr<scalar_t>(), i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl,
          ref.data_ptr<scalar_t>(), nullptr, stream);
      const char* err = lif_cuda_last_error();
      TORCH_CHECK(err == nullptr, "lif_fused: CUDA forward (recompute) launch failed: ", err);
      lif_scan_backward_cuda<scalar_t>(
          cfg, T, M, P, grad_spikes.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(grad_v),
          ptr_or_null<scalar_t>(grad_i), ptr_or_null<scalar_t>(grad_a),
          per_neuron<scalar_t>(i0), per_neuron<scalar_t>(v0), per_neuron<scalar_t>(a0),
          per_neuron<scalar_t>(s0), params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(),
          v.data_ptr<scalar_t>(), i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl,
          g_x.data_ptr<scalar_t>(), state_ptr(g_i0), state_ptr(g_v0), state_ptr(g_a0),
          state_ptr(g_s0), gp, stream);
      err = lif_cuda_last_error();
      TORCH_CHECK(err == nullptr, "lif_fused: CUDA backward launch failed: ", err);
      return;
    }
#endif
    const at::Tensor grad_spikes = broadcast ? grad_spikes_in : grad_spikes_in.contiguous();
    lif_scan_backward_cpu<scalar_t>(
        cfg, T, M, P, grad_spikes.data_ptr<scalar_t>(), broadcast,
        ptr_or_null<scalar_t>(grad_v), ptr_or_null<scalar_t>(grad_i),
        ptr_or_null<scalar_t>(grad_a), x.data_ptr<scalar_t>(), per_neuron<scalar_t>(i0),
        per_neuron<scalar_t>(v0), per_neuron<scalar_t>(a0), per_neuron<scalar_t>(s0),
        per_neuron<scalar_t>(ref0), params.data_ptr<scalar_t>(), g_x.data_ptr<scalar_t>(),
        state_ptr(g_i0), state_ptr(g_v0), state_ptr(g_a0), state_ptr(g_s0), gp);
  });
  return {g_x, g_i0, g_v0, g_a0, g_s0, g_params};
}

std::vector<int64_t> host_cache_stats_op() {
  const HostCacheStats s = host_cache_stats();
  return {s.idle_bytes, s.in_use_bytes, s.limit_bytes, s.hits, s.misses};
}

void host_cache_set_limit_op(int64_t bytes) {
  TORCH_CHECK(bytes >= 0, "host_cache_set_limit: bytes must be >= 0, got ", bytes);
  host_cache_set_limit(bytes);
}

}  // namespace

TORCH_LIBRARY(neuraltide, m) {
  m.def(
      "lif_scan_fwd(Tensor x, Tensor i0, Tensor v0, Tensor a0, Tensor s0, Tensor ref0, "
      "Tensor params, int reset, int n_ref, bool detach_reset, int surrogate, "
      "float surrogate_alpha, bool keep_traces=True, bool final_ia=True) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "lif_scan_bwd(Tensor grad_spikes, Tensor? grad_v, Tensor? grad_i, Tensor? grad_a, "
      "Tensor x, Tensor i0, Tensor v0, Tensor a0, Tensor s0, Tensor ref0, Tensor params, "
      "int reset, int n_ref, bool detach_reset, int surrogate, float surrogate_alpha, "
      "bool params_grad=True, bool state_grad=True) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  // the block cache of the CPU outputs (host_cache.h), for neuraltide.kernels.host_cache_*
  m.def("host_cache_stats() -> int[]", &host_cache_stats_op);
  m.def("host_cache_empty() -> ()", &host_cache_empty);
  m.def("host_cache_set_limit(int bytes) -> ()", &host_cache_set_limit_op);
}

TORCH_LIBRARY_IMPL(neuraltide, CPU, m) {
  m.impl("lif_scan_fwd", &fwd_impl);
  m.impl("lif_scan_bwd", &bwd_impl);
}

#if defined(NT_WITH_CUDA)
TORCH_LIBRARY_IMPL(neuraltide, CUDA, m) {
  m.impl("lif_scan_fwd", &fwd_impl);
  m.impl("lif_scan_bwd", &bwd_impl);
}
#endif

}  // namespace neuraltide
