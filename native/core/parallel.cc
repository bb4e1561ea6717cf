#include "core/parallel.h"

#include <cstdlib>
#include <thread>

#ifdef MRIGAN_OPENBLAS
#include <cblas.h>
#endif

namespace mrigan {

static int g_threads = [] {
  int n = (int)std::thread::hardware_concurrency();
  if (const char* e = std::getenv("MRIGAN_THREADS")) {
    int v = std::atoi(e);
    if (v > 0) n = v;
  }
  if (n < 1) n = 1;
  omp_set_num_threads(n);
  omp_set_max_active_levels(1);
#ifdef MRIGAN_OPENBLAS
  openblas_set_num_threads(n);
#endif
  return n;
}();

int num_threads() { return g_threads; }

void set_num_threads(int n) {
  g_threads = n < 1 ? 1 : n;
  omp_set_num_threads(g_threads);
#ifdef MRIGAN_OPENBLAS
  openblas_set_num_threads(g_threads);
#endif
}

}  // namespace mrigan
