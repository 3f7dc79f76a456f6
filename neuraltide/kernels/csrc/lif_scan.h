// The LIF-family time scan of one neuron: forward, and backward in reverse time.
//
// Written once as __host__ __device__ inline functions, shared by the CPU twin (lif_cpu.cpp)
// and the CUDA kernels (lif_cuda.cu). No torch types here: plain nvcc compiles this header.
//
// Forward, per step (exactly the operation order of neuraltide/neurons/_family.py
// `lif_family_step`, so results are bit-identical to the PyTorch reference):
//
//   theta  = v_th + a                                   (threshold of the previous step)
//   vr     = v - s*theta                  (SUBTRACT)
//          = (1 - s)*v + s*v_reset         (TO_VALUE)
//          = v                             (NONE, SUBTRACT_AFTER_LEAK)
//   a'     = rho*a + adapt*s
//   i'     = alpha*i + x
//   v'     = beta*vr + (1 - beta)*v_rest + gain*i'
//   v'     = v' - s*theta                  (SUBTRACT_AFTER_LEAK only)
//   refractory (n_ref > 0): count = s > 0 ? n_ref : ref; held = count > 0;
//            v' = held ? (AFTER_LEAK ? v - s*theta : vr) : v'; ref' = held ? count-1 : count
//   s'     = H(v' - (v_th + a')) * !held
//
// The forward never fuses a multiply and an add (nt_mul/nt_add/nt_sub use the IEEE
// round-to-nearest intrinsics on the device; host builds must not pass -ffast-math or
// -ffp-contract=fast), since PyTorch evaluates each operation separately.
//
// Saved for backward: nothing per step beyond the input. The backward recomputes the forward
// from x and the initial state (the same lif_step_forward, so the same values bit for bit) and
// then runs the reverse scan: on the CPU a block of neurons at a time, its recomputed states
// (i', v', a', s' and, with a refractory period, one flag byte) held in a buffer that stays in
// the core's cache; on the GPU into temporary (T, M) traces that live only during the
// backward. Autograd keeps x (which the caller usually holds anyway), the initial state and
// the (8, M) parameters: per neuron-step, sizeof(scalar_t) for x and no more.
//
// Backward, per step in reverse time: given the adjoints of the new state (carried from the
// next step plus this step's output gradients), returns the adjoints of the old state and
// accumulates the 8 per-neuron parameter gradients. The spike's derivative is the surrogate
// g(z) at z = v' - (v_th + a'), zero on held steps; with detach_reset no gradient reaches the
// previous spike s through the reset, the adaptation increment or the threshold subtraction.
#pragma once

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define NT_HD __host__ __device__ __forceinline__
#else
#define NT_HD inline
#endif

namespace neuraltide {

// Reset kinds: the order of neuraltide.kernels.ResetKind (and neurons.Reset).
enum ResetKind : int { RESET_SUBTRACT = 0, RESET_SUBTRACT_AFTER_LEAK = 1, RESET_TO_VALUE = 2,
                       RESET_NONE = 3 };

// Surrogate kinds: the order of neuraltide.kernels.SurrogateKind.
enum SurrogateKind : int { SG_SIGMOID = 0, SG_FAST_SIGMOID = 1, SG_ATAN = 2, SG_GAUSSIAN = 3,
                           SG_TRIANGLE = 4, SG_STRAIGHT_THROUGH = 5 };

constexpr int kNumParams = 8;  // rows of the (8, M) parameter block, in this order:
enum ParamIndex : int { P_BETA = 0, P_ALPHA = 1, P_RHO = 2, P_ADAPT = 3, P_V_REST = 4,
                        P_GAIN = 5, P_V_TH = 6, P_V_RESET = 7 };

constexpr uint8_t kHeld = 1;  // flag bit: the step was refractory (held)

struct LifConfig {
  int reset;          // ResetKind
  int n_ref;          // refractory steps, >= 0
  bool detach_reset;  // no gradient through the previous spike
  int surrogate;      // SurrogateKind
  double sg_alpha;    // surrogate sharpness, > 0
  // false: the forward writes only the last step of v, i, a (and flags) into row 0 of the
  // trace outputs (inference: nothing is kept for a backward)
  bool keep_traces = true;
};

// A per-neuron input (M,) of a scan, such as an initial state: neuron m's value at
// p[m * stride], with stride 1, or 0 where one value stands for every neuron (a fresh state's
// zero, read as broadcast instead of as M copies).
template <typename scalar_t>
struct PerNeuron {
  const scalar_t* p;
  int64_t stride;
  NT_HD scalar_t operator[](int64_t m) const { return p[m * stride]; }
};

template <typename scalar_t>
struct LifParams {
  scalar_t beta, alpha, rho, adapt, v_rest, gain, v_th, v_reset;
};

// Load neuron m's parameters from an (8, P) row-major block. Neuron m reads column m % P:
// P = 1 gives every neuron the same values (parameters per layer), P = neurons per sample
// gives each neuron its own values in every sample of a batch, P = M one column per neuron.
template <typename scalar_t>
NT_HD LifParams<scalar_t> load_params(const scalar_t* p, int64_t P, int64_t m) {
  const int64_t c = m % P;
  LifParams<scalar_t> q;
  q.beta = p[P_BETA * P + c];
  q.alpha = p[P_ALPHA * P + c];
  q.rho = p[P_RHO * P + c];
  q.adapt = p[P_ADAPT * P + c];
  q.v_rest = p[P_V_REST * P + c];
  q.gain = p[P_GAIN * P + c];
  q.v_th = p[P_V_TH * P + c];
  q.v_reset = p[P_V_RESET * P + c];
  return q;
}

// 1 if x is NaN or +-inf (x - x is NaN then, 0 otherwise; no fast-math here to fold it).
template <typename scalar_t>
NT_HD int64_t not_finite(scalar_t x) {
  return (x - x) != scalar_t(0) ? 1 : 0;
}

// ---- unfused IEEE arithmetic (bit parity with PyTorch's one-op-at-a-time evaluation) -------
NT_HD float nt_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NT_HD double nt_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
NT_HD float nt_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NT_HD double nt_add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
NT_HD float nt_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NT_HD double nt_sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

// ---- surrogate derivatives g(z) (neuraltide/surrogate.py, `derivative`) ---------------------
// KIND as a template argument, so a loop over neurons that calls it is one straight-line body
// (the CPU twin vectorises it); surrogate_grad() picks KIND at run time.
template <int KIND, typename scalar_t>
NT_HD scalar_t surrogate_grad_k(scalar_t alpha, scalar_t z) {
  const scalar_t one = scalar_t(1);
  if (KIND == SG_SIGMOID) {
    const scalar_t s = one / (one + exp(-alpha * z));
    return alpha * s * (one - s);
  } else if (KIND == SG_FAST_SIGMOID) {
    const scalar_t d = alpha * fabs(z) + one;
    return one / (d * d);
  } else if (KIND == SG_ATAN) {
    const scalar_t u = scalar_t(1.57079632679489661923) * alpha * z;  // pi/2 * alpha * z
    return alpha / scalar_t(2) / (one + u * u);
  } else if (KIND == SG_GAUSSIAN) {
    const scalar_t u = alpha * z;
    return alpha * scalar_t(0.39894228040143267794) * exp(scalar_t(-0.5) * u * u);
  } else if (KIND == SG_TRIANGLE) {
    const scalar_t r = one - alpha * fabs(z);
    return r > scalar_t(0) ? alpha * r : scalar_t(0);
  } else {  // SG_STRAIGHT_THROUGH
    return fabs(z) <= one / alpha ? one : scalar_t(0);
  }
}

template <typename scalar_t>
NT_HD scalar_t surrogate_grad(int kind, scalar_t alpha, scalar_t z) {
  switch (kind) {
    case SG_SIGMOID: return surrogate_grad_k<SG_SIGMOID>(alpha, z);
    case SG_FAST_SIGMOID: return surrogate_grad_k<SG_FAST_SIGMOID>(alpha, z);
    case SG_ATAN: return surrogate_grad_k<SG_ATAN>(alpha, z);
    case SG_GAUSSIAN: return surrogate_grad_k<SG_GAUSSIAN>(alpha, z);
    case SG_TRIANGLE: return surrogate_grad_k<SG_TRIANGLE>(alpha, z);
    default: return surrogate_grad_k<SG_STRAIGHT_THROUGH>(alpha, z);
  }
}

// The spike's argument z = v' - (v_th + a'): s' = H(z) on steps that are not held.
template <typename scalar_t>
NT_HD scalar_t spike_arg(scalar_t v_th, scalar_t v1, scalar_t a1) {
  return nt_sub(v1, nt_add(v_th, a1));
}
template <typename scalar_t>
NT_HD scalar_t spike_arg(const LifParams<scalar_t>& p, scalar_t v1, scalar_t a1) {
  return spike_arg(p.v_th, v1, a1);
}

// The spike of a step that is not held, from its spike_arg z: H(z), 1 for z > 0.
template <typename scalar_t>
NT_HD scalar_t heaviside(scalar_t z) {
  return z > scalar_t(0) ? scalar_t(1) : scalar_t(0);
}

// PLAIN (see lif_step_forward): the spike_arg of membrane v (a = 0: one threshold). The CPU
// twin also recomputes a past spike from a stored v with it, bit for bit the step's.
template <typename scalar_t>
NT_HD scalar_t plain_spike_arg(const LifParams<scalar_t>& p, scalar_t v) {
  return nt_sub(v, p.v_th);
}

// ---- one step forward ------------------------------------------------------------------------
// State (i, v, a, s, ref) is updated in place; `held` reports a refractory step.
//
// PLAIN: the caller guarantees alpha = rho = adapt = 0 and a = 0 (a LIF neuron, no synaptic
// current, no adaptation; i and s finite): then i' = x and a' = 0 as values (the general form
// gives 0*i + x and 0*a + 0*s, equal up to the sign of a zero), and theta = v_th. The step
// leaves i and a alone and skips their arithmetic; callers that keep i or a write x and 0.
template <typename scalar_t, bool PLAIN = false>
NT_HD void lif_step_forward(const LifParams<scalar_t>& p, const LifConfig& cfg, scalar_t x,
                            scalar_t& i, scalar_t& v, scalar_t& a, scalar_t& s, scalar_t& ref,
                            bool& held) {
  const scalar_t one = scalar_t(1);
  const scalar_t s_prev = s;
  const scalar_t theta = PLAIN ? p.v_th : nt_add(p.v_th, a);
  scalar_t vr = v;
  if (cfg.reset == RESET_SUBTRACT) {
    vr = nt_sub(v, nt_mul(s_prev, theta));
  } else if (cfg.reset == RESET_TO_VALUE) {
    vr = nt_add(nt_mul(nt_sub(one, s_prev), v), nt_mul(s_prev, p.v_reset));
  }
  const scalar_t a_new =
      PLAIN ? scalar_t(0) : nt_add(nt_mul(p.rho, a), nt_mul(p.adapt, s_prev));
  const scalar_t i_new = PLAIN ? x : nt_add(nt_mul(p.alpha, i), x);
  scalar_t v_new = nt_add(nt_add(nt_mul(p.beta, vr), nt_mul(nt_sub(one, p.beta), p.v_rest)),
                          nt_mul(p.gain, i_new));
  const bool after_leak = cfg.reset == RESET_SUBTRACT_AFTER_LEAK;
  if (after_leak) v_new = nt_sub(v_new, nt_mul(s_prev, theta));
  held = false;
  if (cfg.n_ref > 0) {
    // selects, not branches: the CPU loops over neurons vectorise only without control flow
    const scalar_t count = s_prev > scalar_t(0) ? scalar_t(cfg.n_ref) : ref;
    held = count > scalar_t(0);
    const scalar_t v_held = after_leak ? nt_sub(v, nt_mul(s_prev, theta)) : vr;
    v_new = held ? v_held : v_new;
    ref = held ? nt_sub(count, one) : count;
  }
  const scalar_t z = PLAIN ? plain_spike_arg(p, v_new) : spike_arg(p, v_new, a_new);
  if (!PLAIN) {
    i = i_new;
    a = a_new;
  }
  v = v_new;
  s = held ? scalar_t(0) : heaviside(z);
}

// ---- one step backward -----------------------------------------------------------------------
// Old state (i0, v0, a0, s0) and new state (i1, v1, a1, held) of the step; sg = g(z), the
// surrogate derivative at this step's spike_arg. On entry gi, gv, ga, gs hold the adjoints of
// the new state (i1, v1, a1, s1), on exit those of the old state. Returns the input's gradient
// and adds to the 8 parameter gradients `gp`. PLAIN (as for lif_step_forward, and no
// parameter gradient wanted): i0 and a0 are not read, and the adjoints of i and a are not
// carried (alpha*gi and rho*ga are zero): gi leaves as 0, ga as the threshold's part.
template <typename scalar_t, bool PLAIN = false>
NT_HD scalar_t lif_step_backward(const LifParams<scalar_t>& p, const LifConfig& cfg,
                                 scalar_t i0, scalar_t v0, scalar_t a0, scalar_t s0,
                                 scalar_t i1, bool held, scalar_t sg, scalar_t& gi,
                                 scalar_t& gv, scalar_t& ga, scalar_t& gs, scalar_t* gp) {
  const scalar_t one = scalar_t(1);
  const scalar_t zero = scalar_t(0);
  const int reset = cfg.reset;
  const bool after_leak = reset == RESET_SUBTRACT_AFTER_LEAK;
  const scalar_t theta = PLAIN ? p.v_th : p.v_th + a0;
  scalar_t vr = v0;
  if (reset == RESET_SUBTRACT) {
    vr = v0 - s0 * theta;
  } else if (reset == RESET_TO_VALUE) {
    vr = (one - s0) * v0 + s0 * p.v_reset;
  }
  // spike: s1 = H(z) * !held, z = v1 - (v_th + a1)
  const scalar_t gz = held ? zero : gs * sg;
  const scalar_t gv1 = gv + gz;
  const scalar_t ga1 = ga - gz;
  gp[P_V_TH] -= gz;

  scalar_t gv0 = zero, gsp = zero, gtheta = zero, gvr = zero, gvn = zero;
  if (held) {
    if (after_leak) {  // v1 = v0 - s0*theta
      gv0 += gv1;
      gsp -= theta * gv1;
      gtheta -= s0 * gv1;
    } else {  // v1 = vr
      gvr += gv1;
    }
  } else {
    gvn = gv1;
  }
  // v_new = beta*vr + (1-beta)*v_rest + gain*i1 [- s0*theta]
  if (after_leak) {
    gsp -= theta * gvn;
    gtheta -= s0 * gvn;
  }
  gp[P_BETA] += (vr - p.v_rest) * gvn;
  gvr += p.beta * gvn;
  gp[P_V_REST] += (one - p.beta) * gvn;
  gp[P_GAIN] += i1 * gvn;
  const scalar_t gi1 = gi + p.gain * gvn;
  // i1 = alpha*i0 + x
  gp[P_ALPHA] += i0 * gi1;
  const scalar_t gx = gi1;
  gi = PLAIN ? zero : p.alpha * gi1;
  // a1 = rho*a0 + adapt*s0
  scalar_t ga0 = zero;
  if (!PLAIN) {
    gp[P_RHO] += a0 * ga1;
    ga0 = p.rho * ga1;
    gp[P_ADAPT] += s0 * ga1;
    gsp += p.adapt * ga1;
  }
  // the reset
  if (reset == RESET_SUBTRACT) {
    gv0 += gvr;
    gsp -= theta * gvr;
    gtheta -= s0 * gvr;
  } else if (reset == RESET_TO_VALUE) {
    gv0 += (one - s0) * gvr;
    gsp += (p.v_reset - v0) * gvr;
    gp[P_V_RESET] += s0 * gvr;
  } else {
    gv0 += gvr;
  }
  // theta = v_th + a0
  gp[P_V_TH] += gtheta;
  ga0 += gtheta;
  gv = gv0;
  ga = ga0;
  gs = cfg.detach_reset ? zero : gsp;
  return gx;
}

// ---- the scans of one neuron ------------------------------------------------------------------
// Sequences are (T, M) row-major: element t of neuron m is at t*M + m.
// Forward: reads x and the initial state (i, v, a, s, ref of neuron m); writes spikes, v_out,
// i_out, a_out (the state after each step, or only the last one in row 0 without
// cfg.keep_traces; i_out and a_out may be null then), flags and the final refractory count
// ref_out (both may be null if n_ref == 0). Returns how many of the neuron's inputs were NaN or
// inf.
template <typename scalar_t>
NT_HD int64_t lif_scan_forward(const LifParams<scalar_t>& p, const LifConfig& cfg, int64_t T,
                               int64_t M, int64_t m, const scalar_t* x, scalar_t i, scalar_t v,
                               scalar_t a, scalar_t s, scalar_t ref, scalar_t* spikes,
                               scalar_t* v_out, scalar_t* i_out, scalar_t* a_out,
                               uint8_t* flags, scalar_t* ref_out) {
  const int64_t row = cfg.keep_traces ? M : 0;
  int64_t bad = 0;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t k = t * M + m, kt = t * row + m;
    bool held;
    bad += not_finite(x[k]);
    lif_step_forward<scalar_t>(p, cfg, x[k], i, v, a, s, ref, held);
    spikes[k] = s;
    v_out[kt] = v;
    if (i_out != nullptr) {
      i_out[kt] = i;
      a_out[kt] = a;
    }
    if (flags != nullptr) flags[kt] = held ? kHeld : uint8_t(0);
  }
  if (ref_out != nullptr) ref_out[m] = ref;
  return bad;
}

// Backward, over the traces a forward with cfg.keep_traces wrote: g_spikes is required; g_v,
// g_i, g_a (gradients of the state traces) may be null. Writes g_x (T, M), the initial-state
// gradients g_i0, g_v0, g_a0, g_s0 (M,; all null if unwanted) and, unless g_params is null,
// the parameter gradients
// of each neuron (8, M).
template <typename scalar_t>
NT_HD void lif_scan_backward(const LifParams<scalar_t>& p, const LifConfig& cfg, int64_t T,
                             int64_t M, int64_t m, const scalar_t* g_spikes,
                             const scalar_t* g_v, const scalar_t* g_i, const scalar_t* g_a,
                             scalar_t i_init, scalar_t v_init, scalar_t a_init, scalar_t s_init,
                             const scalar_t* spikes, const scalar_t* v_seq,
                             const scalar_t* i_seq, const scalar_t* a_seq,
                             const uint8_t* flags, scalar_t* g_x, scalar_t* g_i0,
                             scalar_t* g_v0, scalar_t* g_a0, scalar_t* g_s0,
                             scalar_t* g_params) {
  scalar_t gp[kNumParams];
  for (int q = 0; q < kNumParams; ++q) gp[q] = scalar_t(0);
  scalar_t gi = 0, gv = 0, ga = 0, gs = 0;
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t k = t * M + m;
    gs += g_spikes[k];
    if (g_v != nullptr) gv += g_v[k];
    if (g_i != nullptr) gi += g_i[k];
    if (g_a != nullptr) ga += g_a[k];
    const bool first = t == 0;
    const int64_t kp = k - M;
    const scalar_t i0 = first ? i_init : i_seq[kp];
    const scalar_t v0 = first ? v_init : v_seq[kp];
    const scalar_t a0 = first ? a_init : a_seq[kp];
    const scalar_t s0 = first ? s_init : spikes[kp];
    const bool held = flags != nullptr && (flags[k] & kHeld);
    const scalar_t sg = surrogate_grad<scalar_t>(cfg.surrogate, scalar_t(cfg.sg_alpha),
                                                 spike_arg(p, v_seq[k], a_seq[k]));
    g_x[k] = lif_step_backward<scalar_t>(p, cfg, i0, v0, a0, s0, i_seq[k], held, sg, gi, gv, ga,
                                         gs, gp);
  }
  if (g_i0 != nullptr) {  // (the four initial-state gradients are wanted together or not)
    g_i0[m] = gi;
    g_v0[m] = gv;
    g_a0[m] = ga;
    g_s0[m] = gs;
  }
  if (g_params != nullptr)
    for (int q = 0; q < kNumParams; ++q) g_params[q * M + m] = gp[q];
}

}  // namespace neuraltide
