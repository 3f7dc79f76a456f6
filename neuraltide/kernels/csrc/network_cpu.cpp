// A population network of LIF-family neurons run for many steps in one call: the compiled twin
// of Network.run for runs that need no gradient (no autograd, no plasticity).
//
// Every step follows Network.run's order and arithmetic, one IEEE operation at a time, so the
// spikes are the same as the PyTorch path's event-driven propagation:
//   1. each population's input current: 0 + the current of each incoming projection, in order
//      (Delta: g; Exponential: g * c; Conductance: (g * c) * (e_rev - v), v before the step);
//   2. the neuron step (lif_step_forward, shared with the fused scan);
//   3. each projection: this step's presynaptic spikes (counts times weights) are summed per
//      delay in synapse (CSR) order into a fresh buffer, added to the ring slot `delay` steps
//      ahead, the slot due now arrives and g <- g * decay + arrivals (Delta: g <- arrivals).
//
//   neuraltide::network_scan(params (8, N), pops (P, 4) int64 [offset, size, reset, n_ref],
//       i, v, a, s, ref (B, N), ext (T, B, E), proj_int (J, 8) int64
//       [pre_space (0 ext, 1 neurons), pre_offset, n_pre, post_offset, n_post, kind, L, head],
//       proj_real (J, 3) float64 [decay, factor, e_rev], ptr[], post[], weight[], delay[],
//       g[] (B, n_post), ring[] (L, B, n_post), onto (P + 1 + J,) int64)
//     -> (i, v, a, s, ref, g[], ring[], heads (J,), events (K, 3) int64 [step, batch, neuron])
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "lif_scan.h"

namespace neuraltide {
namespace {

enum SynapseKind : int64_t { SYN_DELTA = 0, SYN_EXPONENTIAL = 1, SYN_CONDUCTANCE = 2 };

template <typename scalar_t>
void scan(int64_t T, int64_t B, int64_t N, int64_t E, const at::Tensor& params,
          const at::Tensor& pops, at::Tensor& i, at::Tensor& v, at::Tensor& a, at::Tensor& s,
          at::Tensor& ref, const at::Tensor& ext, const at::Tensor& proj_int,
          const at::Tensor& proj_real, const std::vector<at::Tensor>& ptr,
          const std::vector<at::Tensor>& post, const std::vector<at::Tensor>& weight,
          const std::vector<at::Tensor>& delay, std::vector<at::Tensor>& g,
          std::vector<at::Tensor>& ring, const at::Tensor& onto, std::vector<int64_t>& heads,
          std::vector<int64_t>& events) {
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
  std::vector<LifParams<scalar_t>> lp(N);
  for (int64_t m = 0; m < N; ++m) lp[m] = load_params(prm, N, m);
  std::vector<LifConfig> cfg(P);
  for (int64_t p = 0; p < P; ++p) {
    cfg[p] = LifConfig{static_cast<int>(pp[4 * p + 2]), static_cast<int>(pp[4 * p + 3]), true,
                       SG_ATAN, 2.0};
  }
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
      for (int64_t b = 0; b < B; ++b)
        for (int64_t m = off; m < off + n; ++m) {
          const int64_t q = b * N + m;
          bool held;
          lif_step_forward(lp[m], cfg[p], cur[q], I[q], V[q], A[q], S[q], R[q], held);
          if (S[q] > scalar_t(0)) {
            events.push_back(t);
            events.push_back(b);
            events.push_back(m);
            if (!spiked[m]) {
              spiked[m] = 1;
              spiked_list.push_back(m);
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
      const scalar_t* cw = weight[j].data_ptr<scalar_t>();
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
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>,
           std::vector<at::Tensor>, at::Tensor, at::Tensor>
network_scan_cpu(const at::Tensor& params, const at::Tensor& pops, const at::Tensor& i0,
                 const at::Tensor& v0, const at::Tensor& a0, const at::Tensor& s0,
                 const at::Tensor& ref0, const at::Tensor& ext, const at::Tensor& proj_int,
                 const at::Tensor& proj_real, at::TensorList ptr, at::TensorList post,
                 at::TensorList weight, at::TensorList delay, at::TensorList g0,
                 at::TensorList ring0, const at::Tensor& onto) {
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
  at::Tensor i = i0.contiguous().clone(), v = v0.contiguous().clone(),
             a = a0.contiguous().clone(), s = s0.contiguous().clone(),
             ref = ref0.contiguous().clone();
  std::vector<at::Tensor> g, ring, c_ptr, c_post, c_weight, c_delay;
  std::vector<int64_t> heads(static_cast<size_t>(J));
  for (int64_t j = 0; j < J; ++j) {
    g.push_back(g0[j].contiguous().clone());
    ring.push_back(ring0[j].contiguous().clone());
    c_ptr.push_back(ptr[j].contiguous());
    c_post.push_back(post[j].contiguous());
    c_weight.push_back(weight[j].contiguous());
    c_delay.push_back(delay[j].contiguous());
    heads[j] = pj[8 * j + 7];
  }
  std::vector<int64_t> events;
  AT_DISPATCH_FLOATING_TYPES(params.scalar_type(), "network_scan", [&] {
    scan<scalar_t>(T, B, N, E, params.contiguous(), pops.contiguous(), i, v, a, s, ref,
                   ext.contiguous(), proj_int.contiguous(), proj_real.contiguous(), c_ptr,
                   c_post, c_weight, c_delay, g, ring, onto.contiguous(), heads, events);
  });
  at::Tensor head_t = at::empty({J}, pops.options());
  std::copy(heads.begin(), heads.end(), head_t.data_ptr<int64_t>());
  const int64_t K = static_cast<int64_t>(events.size()) / 3;
  at::Tensor ev = at::empty({K, 3}, pops.options());
  std::copy(events.begin(), events.end(), ev.data_ptr<int64_t>());
  return {i, v, a, s, ref, g, ring, head_t, ev};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(neuraltide, m) {
  m.def(
      "network_scan(Tensor params, Tensor pops, Tensor i, Tensor v, Tensor a, Tensor s, "
      "Tensor ref, Tensor ext, Tensor proj_int, Tensor proj_real, Tensor[] ptr, Tensor[] post, "
      "Tensor[] weight, Tensor[] delay, Tensor[] g, Tensor[] ring, Tensor onto) -> (Tensor, "
      "Tensor, Tensor, Tensor, Tensor, Tensor[], Tensor[], Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(neuraltide, CPU, m) { m.impl("network_scan", &network_scan_cpu); }

}  // namespace neuraltide
