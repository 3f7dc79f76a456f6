// The torch.library binding of the fused LIF-family scan: schema, input checks, and the CPU
// (and, when built with NT_WITH_CUDA, CUDA) implementations. Autograd and the fake (meta)
// kernels are registered from Python (neuraltide/kernels/_ops.py).
//
//   neuraltide::lif_scan_fwd(x (T, M), i0, v0, a0, s0, ref0 (M,), params (8, M),
//                            reset, n_ref, detach_reset, surrogate, surrogate_alpha,
//                            keep_traces)
//       -> (spikes (T, M), v, i, a (R, M), flags (R, M) uint8 or (0,) if n_ref == 0, ref (M,))
//          with R = T, or R = 1 (the last step only) without keep_traces
//   neuraltide::lif_scan_bwd(grad_spikes (T, M), grad_v?, grad_i?, grad_a? (T, M),
//                            i0, v0, a0, s0 (M,), params (8, M), spikes, v, i, a, flags,
//                            reset, n_ref, detach_reset, surrogate, surrogate_alpha)
//       -> (grad_x (T, M), grad_i0, grad_v0, grad_a0, grad_s0 (M,), grad_params (8, M))
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>

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

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> fwd_impl(
    const at::Tensor& x_in, const at::Tensor& i0_in, const at::Tensor& v0_in,
    const at::Tensor& a0_in, const at::Tensor& s0_in, const at::Tensor& ref0_in,
    const at::Tensor& params_in, int64_t reset, int64_t n_ref, bool detach_reset,
    int64_t surrogate, double surrogate_alpha, bool keep_traces) {
  LifConfig cfg = make_config(reset, n_ref, detach_reset, surrogate, surrogate_alpha);
  cfg.keep_traces = keep_traces;
  check_sequence(x_in, "x");
  const int64_t T = x_in.size(0), M = x_in.size(1);
  check_like(i0_in, "i0", x_in, {M});
  check_like(v0_in, "v0", x_in, {M});
  check_like(a0_in, "a0", x_in, {M});
  check_like(s0_in, "s0", x_in, {M});
  check_like(ref0_in, "ref0", x_in, {M});
  check_like(params_in, "params", x_in, {kNumParams, M});
  const at::Tensor x = x_in.contiguous(), i0 = i0_in.contiguous(), v0 = v0_in.contiguous(),
                   a0 = a0_in.contiguous(), s0 = s0_in.contiguous(),
                   ref0 = ref0_in.contiguous(), params = params_in.contiguous();
  const int64_t R = keep_traces ? T : 1;
  at::Tensor spikes = at::empty_like(x), v = at::empty({R, M}, x.options()),
             i = at::empty({R, M}, x.options()), a = at::empty({R, M}, x.options()),
             ref = at::empty_like(ref0);
  at::Tensor flags = at::empty(n_ref > 0 ? at::IntArrayRef({R, M}) : at::IntArrayRef({0}),
                               x.options().dtype(at::kByte));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_scan_fwd", [&] {
    uint8_t* fl = n_ref > 0 ? flags.data_ptr<uint8_t>() : nullptr;
#if defined(NT_WITH_CUDA)
    if (x.is_cuda()) {
      const c10::cuda::CUDAGuard guard(x.device());
      lif_scan_forward_cuda<scalar_t>(
          cfg, T, M, x.data_ptr<scalar_t>(), i0.data_ptr<scalar_t>(), v0.data_ptr<scalar_t>(),
          a0.data_ptr<scalar_t>(), s0.data_ptr<scalar_t>(), ref0.data_ptr<scalar_t>(),
          params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
          i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl, ref.data_ptr<scalar_t>(),
          c10::cuda::getCurrentCUDAStream().stream());
      const char* err = lif_cuda_last_error();
      TORCH_CHECK(err == nullptr, "lif_fused: CUDA forward launch failed: ", err);
      return;
    }
#endif
    lif_scan_forward_cpu<scalar_t>(
        cfg, T, M, x.data_ptr<scalar_t>(), i0.data_ptr<scalar_t>(), v0.data_ptr<scalar_t>(),
        a0.data_ptr<scalar_t>(), s0.data_ptr<scalar_t>(), ref0.data_ptr<scalar_t>(),
        params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
        i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl, ref.data_ptr<scalar_t>());
  });
  return {spikes, v, i, a, flags, ref};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> bwd_impl(
    const at::Tensor& grad_spikes_in, const c10::optional<at::Tensor>& grad_v_in,
    const c10::optional<at::Tensor>& grad_i_in, const c10::optional<at::Tensor>& grad_a_in,
    const at::Tensor& i0_in, const at::Tensor& v0_in, const at::Tensor& a0_in,
    const at::Tensor& s0_in, const at::Tensor& params_in, const at::Tensor& spikes_in,
    const at::Tensor& v_in, const at::Tensor& i_in, const at::Tensor& a_in,
    const at::Tensor& flags_in, int64_t reset, int64_t n_ref, bool detach_reset,
    int64_t surrogate, double surrogate_alpha) {
  const LifConfig cfg = make_config(reset, n_ref, detach_reset, surrogate, surrogate_alpha);
  check_sequence(spikes_in, "spikes");
  const at::Tensor& ref = spikes_in;
  const int64_t T = ref.size(0), M = ref.size(1);
  check_like(grad_spikes_in, "grad_spikes", ref, {T, M});
  check_like(v_in, "v", ref, {T, M});
  check_like(i_in, "i", ref, {T, M});
  check_like(a_in, "a", ref, {T, M});
  check_like(i0_in, "i0", ref, {M});
  check_like(v0_in, "v0", ref, {M});
  check_like(a0_in, "a0", ref, {M});
  check_like(s0_in, "s0", ref, {M});
  check_like(params_in, "params", ref, {kNumParams, M});
  auto opt = [&](const c10::optional<at::Tensor>& g, const char* name) {
    if (!g.has_value() || !g->defined()) return c10::optional<at::Tensor>();
    check_like(*g, name, ref, {T, M});
    return c10::optional<at::Tensor>(g->contiguous());
  };
  const c10::optional<at::Tensor> grad_v = opt(grad_v_in, "grad_v"),
                                  grad_i = opt(grad_i_in, "grad_i"),
                                  grad_a = opt(grad_a_in, "grad_a");
  TORCH_CHECK(flags_in.scalar_type() == at::kByte, "lif_fused: flags must be uint8, got ",
              flags_in.scalar_type());
  if (n_ref > 0) {
    TORCH_CHECK(flags_in.sizes() == at::IntArrayRef({T, M}),
                "lif_fused: flags must have shape ", at::IntArrayRef({T, M}),
                " when n_ref > 0, got ", flags_in.sizes());
  }
  const at::Tensor grad_spikes = grad_spikes_in.contiguous(), i0 = i0_in.contiguous(),
                   v0 = v0_in.contiguous(), a0 = a0_in.contiguous(), s0 = s0_in.contiguous(),
                   params = params_in.contiguous(), spikes = spikes_in.contiguous(),
                   v = v_in.contiguous(), i = i_in.contiguous(), a = a_in.contiguous(),
                   flags = flags_in.contiguous();
  at::Tensor g_x = at::empty_like(spikes), g_i0 = at::empty_like(i0),
             g_v0 = at::empty_like(v0), g_a0 = at::empty_like(a0), g_s0 = at::empty_like(s0),
             g_params = at::empty_like(params);
  AT_DISPATCH_FLOATING_TYPES(spikes.scalar_type(), "lif_scan_bwd", [&] {
    const uint8_t* fl = n_ref > 0 ? flags.data_ptr<uint8_t>() : nullptr;
#if defined(NT_WITH_CUDA)
    if (spikes.is_cuda()) {
      const c10::cuda::CUDAGuard guard(spikes.device());
      lif_scan_backward_cuda<scalar_t>(
          cfg, T, M, grad_spikes.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(grad_v),
          ptr_or_null<scalar_t>(grad_i), ptr_or_null<scalar_t>(grad_a),
          i0.data_ptr<scalar_t>(), v0.data_ptr<scalar_t>(), a0.data_ptr<scalar_t>(),
          s0.data_ptr<scalar_t>(), params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(),
          v.data_ptr<scalar_t>(), i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl,
          g_x.data_ptr<scalar_t>(), g_i0.data_ptr<scalar_t>(), g_v0.data_ptr<scalar_t>(),
          g_a0.data_ptr<scalar_t>(), g_s0.data_ptr<scalar_t>(), g_params.data_ptr<scalar_t>(),
          c10::cuda::getCurrentCUDAStream().stream());
      const char* err = lif_cuda_last_error();
      TORCH_CHECK(err == nullptr, "lif_fused: CUDA backward launch failed: ", err);
      return;
    }
#endif
    lif_scan_backward_cpu<scalar_t>(
        cfg, T, M, grad_spikes.data_ptr<scalar_t>(), ptr_or_null<scalar_t>(grad_v),
        ptr_or_null<scalar_t>(grad_i), ptr_or_null<scalar_t>(grad_a), i0.data_ptr<scalar_t>(),
        v0.data_ptr<scalar_t>(), a0.data_ptr<scalar_t>(), s0.data_ptr<scalar_t>(),
        params.data_ptr<scalar_t>(), spikes.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
        i.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), fl, g_x.data_ptr<scalar_t>(),
        g_i0.data_ptr<scalar_t>(), g_v0.data_ptr<scalar_t>(), g_a0.data_ptr<scalar_t>(),
        g_s0.data_ptr<scalar_t>(), g_params.data_ptr<scalar_t>());
  });
  return {g_x, g_i0, g_v0, g_a0, g_s0, g_params};
}

}  // namespace

TORCH_LIBRARY(neuraltide, m) {
  m.def(
      "lif_scan_fwd(Tensor x, Tensor i0, Tensor v0, Tensor a0, Tensor s0, Tensor ref0, "
      "Tensor params, int reset, int n_ref, bool detach_reset, int surrogate, "
      "float surrogate_alpha, bool keep_traces=True) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "lif_scan_bwd(Tensor grad_spikes, Tensor? grad_v, Tensor? grad_i, Tensor? grad_a, "
      "Tensor i0, Tensor v0, Tensor a0, Tensor s0, Tensor params, Tensor spikes, Tensor v, "
      "Tensor i, Tensor a, Tensor flags, int reset, int n_ref, bool detach_reset, "
      "int surrogate, float surrogate_alpha) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
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
