// The autograd of neuraltide::lif_scan_fwd (binding.cpp), registered in C++ under the
// Autograd dispatch key: the backward recomputes the forward from what the forward was given,
// so the node saves the op's inputs (x, the initial state, the parameter block) and nothing of
// its outputs, and calls neuraltide::lif_scan_bwd.
//
// Both ops are called through the dispatcher, below autograd: on real tensors that reaches the
// CPU or CUDA kernels, under torch.compile the fake ones (kernels/_ops.py), so AOTAutograd
// traces the backward as one lif_scan_bwd. Sizes are read as SymInts for the same reason. (In
// Python, torch.library.register_autograd cost a call 8-9 us warm, 20-40 us after a large
// scan had flushed the caches: a small layer's forward is ~100 us.)
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace neuraltide {

namespace {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using Fwd = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
    const Tensor&, int64_t, int64_t, bool, int64_t, double, bool, bool);
using Bwd = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>(
    const Tensor&, const std::optional<Tensor>&, const std::optional<Tensor>&,
    const std::optional<Tensor>&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
    const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, bool, int64_t, double, bool,
    bool);

const c10::TypedOperatorHandle<Fwd>& fwd_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("neuraltide::lif_scan_fwd", "")
                             .typed<Fwd>();
  return op;
}

const c10::TypedOperatorHandle<Bwd>& bwd_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("neuraltide::lif_scan_bwd", "")
                             .typed<Bwd>();
  return op;
}

variable_list as_list(const std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>& t) {
  return {std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
          std::get<4>(t), std::get<5>(t), std::get<6>(t)};
}

// A trace's gradient as (T, M): a last-step-only trace's (1, M) goes to row T - 1; none stays
// none (the kernel then adds nothing for it).
std::optional<Tensor> full_trace_grad(const Tensor& g, const Tensor& x) {
  if (!g.defined()) return std::nullopt;
  if (g.sym_size(0) == x.sym_size(0)) return g;
  Tensor full = at::zeros_symint(x.sym_sizes(), x.options());
  full.select(0, -1).copy_(g.select(0, 0));
  return full;
}

struct LifScan : public torch::autograd::Function<LifScan> {
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& i0,
                               const Tensor& v0, const Tensor& a0, const Tensor& s0,
                               const Tensor& ref0, const Tensor& params, int64_t reset,
                               int64_t n_ref, bool detach_reset, int64_t surrogate,
                               double surrogate_alpha, bool keep_traces, bool final_ia) {
    at::AutoDispatchBelowADInplaceOrView below;
    variable_list out = as_list(fwd_op().call(x, i0, v0, a0, s0, ref0, params, reset, n_ref,
                                              detach_reset, surrogate, surrogate_alpha,
                                              keep_traces, final_ia));
    ctx->save_for_backward({x, i0, v0, a0, s0, ref0, params});
    ctx->saved_data["reset"] = reset;
    ctx->saved_data["n_ref"] = n_ref;
    ctx->saved_data["detach_reset"] = detach_reset;
    ctx->saved_data["surrogate"] = surrogate;
    ctx->saved_data["surrogate_alpha"] = surrogate_alpha;
    ctx->mark_non_differentiable({out[4], out[5], out[6]});  // flags, ref counts, nonfinite
    ctx->set_materialize_grads(false);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &params = saved[6];
    // a spikes' gradient that never came is one zero, read as broadcast by the kernel
    const Tensor g_spikes =
        grads[0].defined() ? grads[0] : at::zeros({}, x.options()).expand_symint(x.sym_sizes());
    const bool params_grad = ctx->needs_input_grad(6);
    bool state_grad = false;  // i0, v0, a0, s0
    for (size_t k = 1; k <= 4; ++k) state_grad = state_grad || ctx->needs_input_grad(k);
    auto [g_x, g_i0, g_v0, g_a0, g_s0, g_p] = bwd_op().call(
        g_spikes, full_trace_grad(grads[1], x), full_trace_grad(grads[2], x),
        full_trace_grad(grads[3], x), x, saved[1], saved[2], saved[3], saved[4], saved[5],
        params, ctx->saved_data["reset"].toInt(), ctx->saved_data["n_ref"].toInt(),
        ctx->saved_data["detach_reset"].toBool(), ctx->saved_data["surrogate"].toInt(),
        ctx->saved_data["surrogate_alpha"].toDouble(), params_grad, state_grad);
    if (!state_grad) g_i0 = g_v0 = g_a0 = g_s0 = Tensor();
    // per neuron (8, M) -> the (8, P) columns of the parameter block (neuron m is column m % P)
    g_p = params_grad
              ? g_p.view_symint({params.sym_size(0), -1, params.sym_size(1)}).sum(1)
              : Tensor();
    // one gradient per forward argument: none for ref0 and the options
    return {g_x, g_i0, g_v0, g_a0, g_s0, Tensor(), g_p, Tensor(), Tensor(), Tensor(),
            Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> fwd_autograd(
    const Tensor& x, const Tensor& i0, const Tensor& v0, const Tensor& a0, const Tensor& s0,
    const Tensor& ref0, const Tensor& params, int64_t reset, int64_t n_ref, bool detach_reset,
    int64_t surrogate, double surrogate_alpha, bool keep_traces, bool final_ia) {
  const bool grad = at::GradMode::is_enabled() &&
                    (x.requires_grad() || i0.requires_grad() || v0.requires_grad() ||
                     a0.requires_grad() || s0.requires_grad() || params.requires_grad());
  if (!grad) {  // no node to record (inference, or nothing that needs a gradient)
    at::AutoDispatchBelowADInplaceOrView below;
    return fwd_op().call(x, i0, v0, a0, s0, ref0, params, reset, n_ref, detach_reset,
                         surrogate, surrogate_alpha, keep_traces, final_ia);
  }
  const variable_list out = LifScan::apply(x, i0, v0, a0, s0, ref0, params, reset, n_ref,
                                           detach_reset, surrogate, surrogate_alpha,
                                           keep_traces, final_ia);
  return {out[0], out[1], out[2], out[3], out[4], out[5], out[6]};
}

}  // namespace

TORCH_LIBRARY_IMPL(neuraltide, Autograd, m) { m.impl("lif_scan_fwd", &fwd_autograd); }

}  // namespace neuraltide
