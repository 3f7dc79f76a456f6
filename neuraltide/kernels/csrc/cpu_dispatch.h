// Compile-time specialisation of the CPU loops over LIF-family neurons, shared by the fused
// scan (lif_cpu.cpp) and the network scan (network_cpu.cpp): `dispatch` turns the run-time
// reset kind and refractory flag into template arguments, so a loop over neurons that calls
// lif_step_forward has no loop-invariant branches left and vectorises; NT_CPU_CLONES builds a
// float32 loop for several instruction sets.
#pragma once

#include <utility>

#include "lif_scan.h"

// The float32 block loops are compiled for AVX-512, AVX2 and the baseline, the best one picked
// when the library loads (GCC's function multiversioning; the scan is compute-bound once its
// memory walk is prefetched, and wider vectors gave 1.5x here). Vector lanes round exactly
// like scalar code, and -ffp-contract=off keeps multiplies and adds apart in every clone.
// float64 (gradcheck, tests) keeps the baseline build: a third of the code to compile.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NT_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NT_CPU_CLONES
#endif
#if defined(__GNUC__)
#define NT_INLINE inline __attribute__((always_inline))
#else
#define NT_INLINE inline
#endif

namespace neuraltide {

// Calls F<RESET, REF>::run(args...) for the run-time reset kind and refractory flag.
template <template <int, bool> class F, typename... Args>
void dispatch(int reset, bool ref, Args&&... args) {
#define NT_CASE(R)                                     \
  case R:                                              \
    if (ref) {                                         \
      F<R, true>::run(std::forward<Args>(args)...);    \
    } else {                                           \
      F<R, false>::run(std::forward<Args>(args)...);   \
    }                                                  \
    break;
  switch (reset) {
    NT_CASE(RESET_SUBTRACT)
    NT_CASE(RESET_SUBTRACT_AFTER_LEAK)
    NT_CASE(RESET_TO_VALUE)
    default:
      NT_CASE(RESET_NONE)
  }
#undef NT_CASE
}

}  // namespace neuraltide
