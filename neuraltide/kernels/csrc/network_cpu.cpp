// A population network of LIF-family neurons run for many steps in one call: the compiled twin
// of Network.run for runs that need no gradient (no autograd), with pair-based STDP.
//
// Every step follows Network.run's order and arithmetic, one IEEE operation at a time, so the
// spikes are the same as the PyTorch path's event-driven propagation:
//   1. each population's input current: 0 + the current of each incoming projection, in order
//      (Delta: g; Exponential: g * c; Conductance: (g * c) * (e_rev - v), v before the step);
//   2. the neuron step (lif_step_forward, shared with the fused scan);
//   3. each projection: this step's presynaptic spikes (counts times weights) are summed per
//      delay in synapse (CSR) order into a fresh buffer, added to the ring slot `delay` steps
//      ahead, the slot due now arrives and g <- g * decay + arrivals (Delta: g <- arrivals);
//   4. each plastic projection: PairSTDP.step (neuraltide/plasticity/stdp.py) on the
//      presynaptic spikes arriving now and this step's postsynaptic spikes. Traces decay for
//      every neuron; weights change only at synapses whose pre or post neuron spiked (elsewhere
//      the rule adds exact zeros), plus every synapse in a call's first step (the additive
//      rule's clamp of weights given out of bounds).
//
//   neuraltide::network_scan(params (8, N), pops (P, 4) int64 [offset, size, reset, n_ref],
//       i, v, a, s, ref (B, N), ext (T, B, E), proj_int (J, 8) int64
//       [pre_space (0 ext, 1 neurons), pre_offset, n_pre, post_offset, n_post, kind, L, head],
//       proj_real (J, 3) float64 [decay, factor, e_rev], ptr[], post[], weight[], delay[],
//       g[] (B, n_post), ring[] (L, B, n_post), onto (P + 1 + J,) int64,
//       stdp_int (J, 5) int64 [plastic, pairing (0 all-to-all, 1 nearest), dependence
//       (0 additive, 1 multiplicative), sign (0 none, 1, -1), delay D], stdp_real (J, 6) float64
//       [decay x, decay y, a_plus, a_minus, w_min, w_max], stdp_index[] int64 [col_ptr
//       (n_post + 1), col_syn (S), syn_pre (S)], stdp_state[] [x (B, n_pre), y (B, n_post),
//       sent (D, B, n_pre) oldest first]); weight[] of a plastic projection holds magnitudes
//     -> (i, v, a, s, ref, g[], ring[], heads (J,), events (K, 3) int64 [step, batch, neuron],
//         weight[] (magnitudes of plastic projections, else empty), stdp_state[])
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "cpu_dispatch.h"
#include "lif_scan.h"

namespace neuraltide {
namespace {

enum SynapseKind : int64_t { SYN_DELTA = 0, SYN_EXPONENTIAL = 1, SYN_CONDUCTANCE = 2 };

constexpr int64_t kChunk = 64;  // neurons tested for a spike at once

// Pair-based STDP of one projection (PairSTDP.step with its batch mean as gather_outer sums it:
// trials in order, then divided by the batch size).
template <typename scalar_t>
struct PairStdp {
  bool on = false, nearest = false, multiplicative = false;
  scalar_t sign = 0, dx = 0, dy = 0, a_plus = 0, a_minus = 0, w_min = 0, w_max = 0;
  int64_t D = 0, sent_head = 0;
  const int64_t *col_ptr = nullptr, *col_syn = nullptr, *syn_pre = nullptr;
  scalar_t *m = nullptr, *x = nullptr, *y = nullptr, *sent = nullptr;
  std::vector<scalar_t> eff, arr;  // effective weights (S), arriving spikes (B, n_pre)
  std::vector<char> mark, any_pre;
  std::vector<int64_t> touched, pre_active, post_active;
  bool first = true;

  scalar_t effective(scalar_t w) const {
    if (sign == scalar_t(0)) return w;
    return nt_mul(sign, w > scalar_t(0) ? w : scalar_t(0));  // sign * relu(magnitude)
  }

  void step(int64_t B, int64_t n_pre, int64_t n_post, int64_t S, const scalar_t* pre,
            int64_t pre_stride, const scalar_t* post, int64_t post_stride, const int64_t* cp,
            const int64_t* cq) {
    // one pass over the presynaptic side: the spikes arriving now (sent D steps ago), the
    // trace's decay and the trace taking them; and the neurons active in any trial
    scalar_t* slot = D > 0 ? sent + sent_head * B * n_pre : nullptr;
    if (D > 0) sent_head = (sent_head + 1) % D;
    pre_active.clear();
    post_active.clear();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* now = pre + b * pre_stride;
      scalar_t* ar = arr.data() + b * n_pre;
      scalar_t* xb = x + b * n_pre;
      scalar_t* sb = slot ? slot + b * n_pre : nullptr;
      for (int64_t k = 0; k < n_pre; ++k) {
        scalar_t s = now[k];
        if (sb) std::swap(s, sb[k]);
        ar[k] = s;
        scalar_t xk = nt_mul(xb[k], dx);
        if (s != scalar_t(0)) {
          xk = nearest ? (s > scalar_t(0) ? scalar_t(1) : xk) : nt_add(xk, s);
          if (!any_pre[k]) {
            any_pre[k] = 1;
            pre_active.push_back(k);
          }
        }
        xb[k] = xk;
      }
    }
    for (const int64_t k : pre_active) any_pre[k] = 0;
    for (int64_t z = 0; z < B * n_post; ++z) y[z] = nt_mul(y[z], dy);
    for (int64_t q = 0; q < n_post; ++q)
      for (int64_t b = 0; b < B; ++b)
        if (post[b * post_stride + q] != scalar_t(0)) {
          post_active.push_back(q);
          break;
        }
    touched.clear();
    auto touch = [&](int64_t e) {
      if (!mark[e]) {
        mark[e] = 1;
        touched.push_back(e);
      }
    };
    if (first) {
      for (int64_t e = 0; e < S; ++e) touch(e);
      first = false;
    } else {
      for (const int64_t k : pre_active)
        for (int64_t e = cp[k]; e < cp[k + 1]; ++e) touch(e);
      for (const int64_t q : post_active)
        for (int64_t c = col_ptr[q]; c < col_ptr[q + 1]; ++c) touch(col_syn[c]);
    }
    const scalar_t batch = static_cast<scalar_t>(B);
    for (const int64_t e : touched) {
      mark[e] = 0;
      const int64_t k = syn_pre[e], q = cq[e];
      scalar_t dep = nt_mul(arr[k], y[q]);
      scalar_t pot = nt_mul(x[k], post[q]);
      for (int64_t b = 1; b < B; ++b) {
        dep = nt_add(dep, nt_mul(arr[b * n_pre + k], y[b * n_post + q]));
        pot = nt_add(pot, nt_mul(x[b * n_pre + k], post[b * post_stride + q]));
      }
      dep = nt_mul(a_minus, dep / batch);
      pot = nt_mul(a_plus, pot / batch);
      scalar_t w = m[e];
      if (multiplicative) {
        w = nt_sub(nt_add(w, nt_mul(pot, nt_sub(w_max, w))), nt_mul(dep, nt_sub(w, w_min)));
      } else {
        w = nt_sub(nt_add(w, pot), dep);
        w = w < w_min ? w_min : (w > w_max ? w_max : w);
      }
      m[e] = w;
      eff[e] = effective(w);
    }
    for (const int64_t q : post_active)  // the postsynaptic trace, after the potentiation
      for (int64_t b = 0; b < B; ++b) {
        scalar_t& yq = y[b * n_post + q];
        const scalar_t s = post[b * post_stride + q];
        yq = nearest ? (s > scalar_t(0) ? scalar_t(1) : yq) : nt_add(yq, s);
      }
  }

  // the sent spikes oldest first again (the state Network.run carries between calls)
  void finish(int64_t B, int64_t n_pre) {
    if (D > 0) std::rotate(sent, sent + sent_head * B * n_pre, sent + D * B * n_pre);
  }
};

// One step of n neurons of a population in one trial, state (i, v, a, s, ref) in place: prm
// points at the population's first column of the (8, N) parameters, x at its input currents.
// The reset kind and the refractory flag are template arguments (cpu_dispatch.h), so the loop
// has no branches left but the per-neuron selects and vectorises.
template <typename scalar_t, int RESET, bool REF>
NT_INLINE void population_step(int n_ref, int64_t N, int64_t n, const scalar_t* __restrict__ prm,
                               const scalar_t* __restrict__ x, scalar_t* __restrict__ i,
                               scalar_t* __restrict__ v, scalar_t* __restrict__ a,
                               scalar_t* __restrict__ s, scalar_t* __restrict__ ref) {
  const LifConfig cfg{RESET, REF ? n_ref : 0, true, SG_ATAN, 2.0};
  for (int64_t m = 0; m < n; ++m) {
    const LifParams<scalar_t> p{prm[P_BETA * N + m],   prm[P_ALPHA * N + m],
                                prm[P_RHO * N + m],    prm[P_ADAPT * N + m],
                                prm[P_V_REST * N + m], prm[P_GAIN * N + m],
                                prm[P_V_TH * N + m],   prm[P_V_RESET * N + m]};
    scalar_t ii = i[m], vv = v[m], aa = a[m], ss = s[m], rr = ref[m];
    bool held;
    lif_step_forward(p, cfg, x[m], ii, vv, aa, ss, rr, held);
    i[m] = ii;
    v[m] = vv;
    a[m] = aa;
    s[m] = ss;
    ref[m] = rr;
  }
}

// F<RESET, REF>::run of population_step; the float32 one cloned per instruction set.
template <typename scalar_t>
struct PopulationStep {
  template <int RESET, bool REF>
  struct Run {
    template <typename... Args>
    static void run(Args&&... args) {
      population_step<scalar_t, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <>
struct PopulationStep<float> {
  template <int RESET, bool REF>
  struct Run {
    template <typename... Args>
    NT_CPU_CLONES static void run(Args&&... args) {
      population_step<float, RESET, REF>(std::forward<Args>(args)...);
    }
  };
};

template <typename scalar_t>
NT_INLINE void scan(int64_t T, int64_t B, int64_t N, int64_t E, const at::Tensor& params,
          const at::Tensor& pops, at::Tensor& i, at::Tensor& v, at::Tensor& a, at::Tensor& s,
          at::Tensor& ref, const at::Tensor& ext, const at::Tensor& proj_int,
          const at::Tensor& proj_real, const std::vector<at::Tensor>& ptr,
          const std::vector<at::Tensor>& post, const std::vector<at::Tensor>& weight,
          const std::vector<at::Tensor>& delay, std::vector<at::Tensor>& g,
          std::vector<at::Tensor>& ring, const at::Tensor& onto, std::vector<int64_t>& heads,
          std::vector<PairStdp<scalar_t>>& stdp, std::vector<int64_t>& events) {
  const int64_t P = pops.size(0), J = proj_int.size(0);
  const int64_t* pp = pops.data_ptr<int64_t>();
  const int64_t* pj = proj_int.data_ptr<int64_t>();
  const double* pr = proj_real.data_ptr<double>();
  const int64_t* on = onto.data_ptr<int64_t>();
  const scalar_t* prm = params.data_ptr<scalar_t>();
  scalar_t *I = i.data_ptr<scalar_t>(), *V = v.data_ptr<scalar_t>(),
           *A = a.data_ptr<scalar_t>(), *S = s.data_ptr<scalar_t>(),
           *R = ref.data_ptr<scalar_t>();
  const scalar_t* X = ext.data_ptr<scalar_t>();
  // per projection: one buffer per delay value, and the targets each one touched
  std::vector<std::vector<scalar_t>> buf(J);
  std::vector<std::vector<std::vector<int64_t>>> touched(J);
  std::vector<std::vector<char>> mark(J);
  for (int64_t j = 0; j < J; ++j) {
    const int64_t L = pj[8 * j + 6], n_post = pj[8 * j + 4];
    buf[j].assign(static_cast<size_t>(L * B * n_post), scalar_t(0));
    mark[j].assign(static_cast<size_t>(L * B * n_post), 0);
    touched[j].resize(static_cast<size_t>(L));
  }
  std::vector<scalar_t> cur(static_cast<size_t>(B * N));
  std::vector<scalar_t> v_before;
  bool any_conductance = false;
  for (int64_t j = 0; j < J; ++j) any_conductance |= pj[8 * j + 5] == SYN_CONDUCTANCE;
  if (any_conductance) v_before.resize(static_cast<size_t>(B * N));
  std::vector<int64_t> active;
  std::vector<char> spiked(static_cast<size_t>(N), 0);  // this step, in any trial
  std::vector<int64_t> spiked_list;
  for (int64_t t = 0; t < T; ++t) {
    if (any_conductance) std::copy(V, V + B * N, v_before.begin());
    for (const int64_t m : spiked_list) spiked[m] = 0;
    spiked_list.clear();
    // 1-2. currents and neuron steps, population by population
    for (int64_t p = 0; p < P; ++p) {
      const int64_t off = pp[4 * p], n = pp[4 * p + 1];
      for (int64_t b = 0; b < B; ++b) std::fill_n(cur.data() + b * N + off, n, scalar_t(0));
      for (int64_t k = on[p]; k < on[p + 1]; ++k) {
        const int64_t j = on[P + 1 + k];
        const int64_t kind = pj[8 * j + 5], n_post = pj[8 * j + 4];
        const scalar_t factor = static_cast<scalar_t>(pr[3 * j + 1]);
        const scalar_t e_rev = static_cast<scalar_t>(pr[3 * j + 2]);
        const scalar_t* G = g[j].data_ptr<scalar_t>();
        for (int64_t b = 0; b < B; ++b) {
          scalar_t* c = cur.data() + b * N + off;
          const scalar_t* gb = G + b * n_post;
          if (kind == SYN_DELTA) {
            for (int64_t m = 0; m < n_post; ++m) c[m] = nt_add(c[m], gb[m]);
          } else if (kind == SYN_EXPONENTIAL) {
            for (int64_t m = 0; m < n_post; ++m) c[m] = nt_add(c[m], nt_mul(gb[m], factor));
          } else {
            const scalar_t* vb = v_before.data() + b * N + off;
            for (int64_t m = 0; m < n_post; ++m)
              c[m] = nt_add(c[m], nt_mul(nt_mul(gb[m], factor), nt_sub(e_rev, vb[m])));
          }
        }
      }
      const int reset = static_cast<int>(pp[4 * p + 2]), n_ref = static_cast<int>(pp[4 * p + 3]);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t q = b * N + off;
        dispatch<PopulationStep<scalar_t>::template Run>(reset, n_ref > 0, n_ref, N, n,
                                                         prm + off, cur.data() + q, I + q,
                                                         V + q, A + q, S + q, R + q);
        // spikes are rare: one vector test per chunk, the neurons of a hit chunk one by one
        for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
          const int64_t c1 = std::min(n, c0 + kChunk);
          bool any = false;
          for (int64_t m = c0; m < c1; ++m) any |= S[q + m] > scalar_t(0);
          if (!any) continue;
          for (int64_t m = c0; m < c1; ++m) {
            if (S[q + m] > scalar_t(0)) {
              events.push_back(t);
              events.push_back(b);
              events.push_back(off + m);
              if (!spiked[off + m]) {
                spiked[off + m] = 1;
                spiked_list.push_back(off + m);
              }
            }
          }
        }
      }
    }
    if (B > 1) std::sort(spiked_list.begin(), spiked_list.end());
    // 3. propagation, projection by projection
    for (int64_t j = 0; j < J; ++j) {
      const int64_t from_ext = pj[8 * j] == 0, pre_off = pj[8 * j + 1], n_pre = pj[8 * j + 2];
      const int64_t n_post = pj[8 * j + 4], kind = pj[8 * j + 5], L = pj[8 * j + 6];
      const scalar_t decay = static_cast<scalar_t>(pr[3 * j]);
      const int64_t* cp = ptr[j].data_ptr<int64_t>();
      const int64_t* cq = post[j].data_ptr<int64_t>();
      const int64_t* cd = delay[j].data_ptr<int64_t>();
      const scalar_t* cw = stdp[j].on ? stdp[j].eff.data() : weight[j].data_ptr<scalar_t>();
      const scalar_t* src = from_ext ? X + t * B * E : S;
      const int64_t stride = from_ext ? E : N;
      active.clear();
      if (from_ext) {
        for (int64_t k = 0; k < n_pre; ++k)
          for (int64_t b = 0; b < B; ++b)
            if (src[b * stride + pre_off + k] != scalar_t(0)) {
              active.push_back(k);
              break;
            }
      } else {  // the spiking neurons of this step, ascending, inside the source population
        for (const int64_t m : spiked_list)
          if (m >= pre_off && m < pre_off + n_pre) active.push_back(m - pre_off);
      }
      scalar_t* bj = buf[j].data();
      char* mk = mark[j].data();
      for (const int64_t k : active)
        for (int64_t e = cp[k]; e < cp[k + 1]; ++e) {
          const int64_t d = cd[e], q = cq[e];
          for (int64_t b = 0; b < B; ++b) {
            const scalar_t spk = src[b * stride + pre_off + k];
            const int64_t at = (d * B + b) * n_post + q;
            bj[at] = nt_add(bj[at], nt_mul(spk, cw[e]));
            if (!mk[at]) {
              mk[at] = 1;
              touched[j][d].push_back(b * n_post + q);
            }
          }
        }
      scalar_t* RG = ring[j].data_ptr<scalar_t>();
      const int64_t head = heads[j];
      for (int64_t d = 0; d < L; ++d) {
        if (touched[j][d].empty()) continue;
        scalar_t* slot = RG + ((head + d) % L) * B * n_post;
        for (const int64_t bq : touched[j][d]) {
          const int64_t at = d * B * n_post + bq;
          slot[bq] = nt_add(slot[bq], bj[at]);
          bj[at] = scalar_t(0);
          mk[at] = 0;
        }
        touched[j][d].clear();
      }
      scalar_t* arrive = RG + head * B * n_post;
      scalar_t* G = g[j].data_ptr<scalar_t>();
      if (kind == SYN_DELTA) {
        std::copy(arrive, arrive + B * n_post, G);
      } else {
        for (int64_t x = 0; x < B * n_post; ++x) G[x] = nt_add(nt_mul(G[x], decay), arrive[x]);
      }
      std::fill_n(arrive, B * n_post, scalar_t(0));
      heads[j] = (head + 1) % L;
    }
    // 4. plasticity, projection by projection
    for (int64_t j = 0; j < J; ++j) {
      if (!stdp[j].on) continue;
      const bool from_ext = pj[8 * j] == 0;
      const int64_t pre_off = pj[8 * j + 1], n_pre = pj[8 * j + 2];
      const scalar_t* pre = (from_ext ? X + t * B * E : S) + pre_off;
      stdp[j].step(B, n_pre, pj[8 * j + 4], post[j].numel(), pre, from_ext ? E : N,
                   S + pj[8 * j + 3], N, ptr[j].data_ptr<int64_t>(), post[j].data_ptr<int64_t>());
    }
  }
  for (int64_t j = 0; j < J; ++j)
    if (stdp[j].on) stdp[j].finish(B, pj[8 * j + 2]);
}

// scan(); the float32 one cloned per instruction set (its element-wise loops widen with it).
template <typename scalar_t>
struct Scan {
  template <typename... Args>
  static void run(Args&&... args) {
    scan<scalar_t>(std::forward<Args>(args)...);
  }
};

template <>
struct Scan<float> {
  template <typename... Args>
  NT_CPU_CLONES static void run(Args&&... args) {
    scan<float>(std::forward<Args>(args)...);
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>,
           std::vector<at::Tensor>, at::Tensor, at::Tensor, std::vector<at::Tensor>,
           std::vector<at::Tensor>>
network_scan_cpu(const at::Tensor& params, const at::Tensor& pops, const at::Tensor& i0,
                 const at::Tensor& v0, const at::Tensor& a0, const at::Tensor& s0,
                 const at::Tensor& ref0, const at::Tensor& ext, const at::Tensor& proj_int,
                 const at::Tensor& proj_real, at::TensorList ptr, at::TensorList post,
                 at::TensorList weight, at::TensorList delay, at::TensorList g0,
                 at::TensorList ring0, const at::Tensor& onto, const at::Tensor& stdp_int,
                 const at::Tensor& stdp_real, at::TensorList stdp_index,
                 at::TensorList stdp_state) {
  TORCH_CHECK(params.dim() == 2 && params.size(0) == kNumParams,
              "network_scan: params must be (8, N), got ", params.sizes());
  TORCH_CHECK(ext.dim() == 3, "network_scan: ext must be (T, B, E), got ", ext.sizes());
  const int64_t N = params.size(1), T = ext.size(0), B = ext.size(1), E = ext.size(2);
  const int64_t J = proj_int.size(0);
  TORCH_CHECK(pops.dim() == 2 && pops.size(1) == 4 && pops.scalar_type() == at::kLong,
              "network_scan: pops must be (P, 4) int64");
  TORCH_CHECK(proj_int.dim() == 2 && proj_int.size(1) == 8 && proj_int.scalar_type() == at::kLong,
              "network_scan: proj_int must be (J, 8) int64");
  TORCH_CHECK(proj_real.dim() == 2 && proj_real.size(0) == J && proj_real.size(1) == 3 &&
                  proj_real.scalar_type() == at::kDouble,
              "network_scan: proj_real must be (J, 3) float64");
  TORCH_CHECK(static_cast<int64_t>(ptr.size()) == J && static_cast<int64_t>(post.size()) == J &&
                  static_cast<int64_t>(weight.size()) == J &&
                  static_cast<int64_t>(delay.size()) == J &&
                  static_cast<int64_t>(g0.size()) == J && static_cast<int64_t>(ring0.size()) == J,
              "network_scan: one ptr, post, weight, delay, g and ring per projection");
  for (const at::Tensor* t : {&i0, &v0, &a0, &s0, &ref0}) {
    TORCH_CHECK(t->sizes() == at::IntArrayRef({B, N}) && t->scalar_type() == params.scalar_type(),
                "network_scan: neuron state must be (B, N) like params, got ", t->sizes());
  }
  const int64_t* pj = proj_int.data_ptr<int64_t>();
  for (int64_t j = 0; j < J; ++j) {
    const int64_t n_pre = pj[8 * j + 2], n_post = pj[8 * j + 4], L = pj[8 * j + 6];
    TORCH_CHECK(ptr[j].numel() == n_pre + 1 && ptr[j].scalar_type() == at::kLong,
                "network_scan: ptr of projection ", j, " must be (n_pre + 1,) int64");
    TORCH_CHECK(ring0[j].sizes() == at::IntArrayRef({L, B, n_post}),
                "network_scan: ring of projection ", j, " must be (L, B, n_post)");
    TORCH_CHECK(g0[j].sizes() == at::IntArrayRef({B, n_post}),
                "network_scan: g of projection ", j, " must be (B, n_post)");
    TORCH_CHECK(delay[j].numel() == post[j].numel() && weight[j].numel() == post[j].numel(),
                "network_scan: post, weight and delay of projection ", j, " differ in length");
  }
  TORCH_CHECK(stdp_int.dim() == 2 && stdp_int.size(0) == J && stdp_int.size(1) == 5 &&
                  stdp_int.scalar_type() == at::kLong,
              "network_scan: stdp_int must be (J, 5) int64");
  TORCH_CHECK(stdp_real.dim() == 2 && stdp_real.size(0) == J && stdp_real.size(1) == 6 &&
                  stdp_real.scalar_type() == at::kDouble,
              "network_scan: stdp_real must be (J, 6) float64");
  TORCH_CHECK(static_cast<int64_t>(stdp_index.size()) == J &&
                  static_cast<int64_t>(stdp_state.size()) == J,
              "network_scan: one stdp_index and stdp_state per projection");
  const int64_t* si = stdp_int.data_ptr<int64_t>();
  for (int64_t j = 0; j < J; ++j) {
    if (!si[5 * j]) continue;
    const int64_t n_pre = pj[8 * j + 2], n_post = pj[8 * j + 4], S = post[j].numel();
    TORCH_CHECK(stdp_index[j].numel() == n_post + 1 + 2 * S &&
                    stdp_index[j].scalar_type() == at::kLong,
                "network_scan: stdp_index of projection ", j, " must be (n_post + 1 + 2 S,)");
    TORCH_CHECK(stdp_state[j].numel() == B * (n_pre + n_post + si[5 * j + 4] * n_pre) &&
                    stdp_state[j].scalar_type() == params.scalar_type() &&
                    weight[j].scalar_type() == params.scalar_type(),
                "network_scan: stdp_state of projection ", j,
                " must hold B (n_pre + n_post + D n_pre) values, weights of the run's dtype");
  }
  at::Tensor i = i0.contiguous().clone(), v = v0.contiguous().clone(),
             a = a0.contiguous().clone(), s = s0.contiguous().clone(),
             ref = ref0.contiguous().clone();
  std::vector<at::Tensor> g, ring, c_ptr, c_post, c_weight, c_delay, w_out, st_out, c_index;
  std::vector<int64_t> heads(static_cast<size_t>(J));
  for (int64_t j = 0; j < J; ++j) {
    g.push_back(g0[j].contiguous().clone());
    ring.push_back(ring0[j].contiguous().clone());
    c_ptr.push_back(ptr[j].contiguous());
    c_post.push_back(post[j].contiguous());
    c_weight.push_back(weight[j].contiguous());
    c_delay.push_back(delay[j].contiguous());
    heads[j] = pj[8 * j + 7];
    const bool on = si[5 * j] != 0;
    w_out.push_back(on ? weight[j].contiguous().clone() : at::empty({0}, weight[j].options()));
    st_out.push_back(on ? stdp_state[j].contiguous().clone()
                        : at::empty({0}, params.options()));
    c_index.push_back(stdp_index[j].contiguous());
  }
  const double* sr = stdp_real.data_ptr<double>();
  std::vector<int64_t> events;
  AT_DISPATCH_FLOATING_TYPES(params.scalar_type(), "network_scan", [&] {
    std::vector<PairStdp<scalar_t>> stdp(static_cast<size_t>(J));
    for (int64_t j = 0; j < J; ++j) {
      if (!si[5 * j]) continue;
      PairStdp<scalar_t>& r = stdp[j];
      const int64_t n_pre = pj[8 * j + 2], n_post = pj[8 * j + 4], S = c_post[j].numel();
      r.on = true;
      r.nearest = si[5 * j + 1] == 1;
      r.multiplicative = si[5 * j + 2] == 1;
      r.sign = static_cast<scalar_t>(si[5 * j + 3]);
      r.D = si[5 * j + 4];
      r.dx = static_cast<scalar_t>(sr[6 * j]);
      r.dy = static_cast<scalar_t>(sr[6 * j + 1]);
      r.a_plus = static_cast<scalar_t>(sr[6 * j + 2]);
      r.a_minus = static_cast<scalar_t>(sr[6 * j + 3]);
      r.w_min = static_cast<scalar_t>(sr[6 * j + 4]);
      r.w_max = static_cast<scalar_t>(sr[6 * j + 5]);
      const int64_t* idx = c_index[j].data_ptr<int64_t>();
      r.col_ptr = idx;
      r.col_syn = idx + n_post + 1;
      r.syn_pre = idx + n_post + 1 + S;
      r.m = w_out[j].data_ptr<scalar_t>();
      r.x = st_out[j].data_ptr<scalar_t>();
      r.y = r.x + B * n_pre;
      r.sent = r.y + B * n_post;
      r.eff.resize(static_cast<size_t>(S));
      for (int64_t e = 0; e < S; ++e) r.eff[e] = r.effective(r.m[e]);
      r.arr.assign(static_cast<size_t>(B * n_pre), scalar_t(0));
      r.mark.assign(static_cast<size_t>(S), 0);
      r.any_pre.assign(static_cast<size_t>(n_pre), 0);
    }
    Scan<scalar_t>::run(T, B, N, E, params.contiguous(), pops.contiguous(), i, v, a, s, ref,
                   ext.contiguous(), proj_int.contiguous(), proj_real.contiguous(), c_ptr,
                   c_post, c_weight, c_delay, g, ring, onto.contiguous(), heads, stdp, events);
  });
  at::Tensor head_t = at::empty({J}, pops.options());
  std::copy(heads.begin(), heads.end(), head_t.data_ptr<int64_t>());
  const int64_t K = static_cast<int64_t>(events.size()) / 3;
  at::Tensor ev = at::empty({K, 3}, pops.options());
  std::copy(events.begin(), events.end(), ev.data_ptr<int64_t>());
  return {i, v, a, s, ref, g, ring, head_t, ev, w_out, st_out};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(neuraltide, m) {
  m.def(
      "network_scan(Tensor params, Tensor pops, Tensor i, Tensor v, Tensor a, Tensor s, "
      "Tensor ref, Tensor ext, Tensor proj_int, Tensor proj_real, Tensor[] ptr, Tensor[] post, "
      "Tensor[] weight, Tensor[] delay, Tensor[] g, Tensor[] ring, Tensor onto, "
      "Tensor stdp_int, Tensor stdp_real, Tensor[] stdp_index, Tensor[] stdp_state) -> (Tensor, "
      "Tensor, Tensor, Tensor, Tensor, Tensor[], Tensor[], Tensor, Tensor, Tensor[], Tensor[])");
}

TORCH_LIBRARY_IMPL(neuraltide, CPU, m) { m.impl("network_scan", &network_scan_cpu); }

}  // namespace neuraltide
