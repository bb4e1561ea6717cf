#include "core/parallel.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#ifdef MRIGAN_OPENBLAS
#include <cblas.h>
#endif

namespace mrigan {

static bool g_chosen = false;  // MRIGAN_THREADS or set_num_threads gave the count

// The CPUs this process may run on (its affinity mask: taskset, cpusets, an MPI launcher's binding).
static int bound_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::max(1, (int)std::thread::hardware_concurrency());
  return std::max(1, CPU_COUNT(&set));
}

static int g_threads = 1;

static void apply(int n) {
  g_threads = n < 1 ? 1 : n;
  omp_set_num_threads(g_threads);
#ifdef MRIGAN_OPENBLAS
  openblas_set_num_threads(g_threads);
#endif
}

// At load: MRIGAN_THREADS, else the CPUs this process may run on.
static const bool g_loaded = [] {
  int n = bound_cores();
  if (const char* e = std::getenv("MRIGAN_THREADS")) {
    const int v = std::atoi(e);
    if (v > 0) {
      n = v;
      g_chosen = true;
    }
  }
  omp_set_max_active_levels(1);
  apply(n);
  return true;
}();

int num_threads() { return g_threads; }

void set_num_threads(int n) {
  g_chosen = true;
  apply(n);
}

void share_cores(int sharing) {
  if (!g_chosen) apply(std::max(1, bound_cores() / std::max(1, sharing)));
}

}  // namespace mrigan
