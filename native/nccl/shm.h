// Node-local all-reduce through an MPI-3 shared-memory window (shm.cc says why and how). MPI builds only; used by
// world.cc's communication thread for CPU tensors and host-staged GPU tensors.
#pragma once
#ifdef MRIGAN_MPI
#include <mpi.h>

#include <string>
#include <vector>

namespace mrigan::dist {
// Throws "WHAT failed: <MPI's error string>" unless rc is MPI_SUCCESS (world.cc).
void mpi_check(int rc, const char* what);
}  // namespace mrigan::dist

namespace mrigan::dist::shm {

struct Seg { float* p; size_t n; };

// Collective over MPI_COMM_WORLD (call on every rank after MPI_Init). False, with why, when it is not used: turned
// off (MRIGAN_SHM_ALLREDUCE=0), one rank per node, uneven nodes, or the window could not be allocated.
bool setup(MPI_Comm node, int world_size, std::string* why);
bool active();
// In-place sum (or mean over the world) of the concatenation of segs (n floats in all); every rank calls it in the
// same order with the same n.
void all_reduce(const std::vector<Seg>& segs, size_t n, bool mean);
void teardown();  // before MPI_Finalize

}  // namespace mrigan::dist::shm
#endif
