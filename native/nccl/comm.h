// The communicator: which rank this process is, and the collectives data-parallel training needs (all-reduce of a
// list of tensors, broadcast, barrier, small float64 reductions, abort). No N-API here (native/addon/dist.cc binds it).
//
// World: a process not started by a launcher (no OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_RANK / SLURM_NTASKS > 1)
// is a world of 1 with transport "none" and never calls MPI_Init. Under mpirun / srun --mpi=pmix: rank and size from
// MPI_COMM_WORLD, local rank from MPI_Comm_split_type(SHARED). Transport "nccl" when the build has CUDA, the rank
// uses a GPU and libnccl.so.2 (or MRIGAN_NCCL_LIB) loads on every rank; otherwise "mpi".
//
// CPU tensors (and GPU tensors under transport "mpi", staged through the host) are reduced by MPI on one
// communication thread that runs the queued collectives in order: OpenMPI gives no asynchronous progress to
// MPI_Iallreduce, so a non-blocking call would only advance inside wait() and overlap nothing with backward; a thread
// running blocking MPI_Allreduce does overlap, and one FIFO keeps the collective order identical on every rank.
// GPU tensors under "nccl" are reduced on a side stream that waits on the compute stream; wait() makes the compute
// stream wait on the side stream, so the host never blocks.
//
// Watchdog: a collective in flight longer than MRIGAN_COLLECTIVE_TIMEOUT seconds (default 300) prints a message
// naming the rank and calls MPI_Abort, so a dead or stuck peer ends every rank instead of hanging them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mrigan::dist {

struct World {
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;
  std::string transport = "none";  // "none" | "mpi" | "nccl"
  int device = kCPU;               // the rank's GPU (cuda:local_rank) when it uses one, else kCPU
  bool mpi = false;                // MPI_Init was called by this process
  int nccl_version = 0;            // e.g. 21805 when NCCL is loaded
  double timeout_s = 300;          // MRIGAN_COLLECTIVE_TIMEOUT
  bool shm = false;                // CPU all-reduce through the node's shared-memory window (shm.h)
};

enum class Device { Auto, Cpu, Cuda };
enum class Reduce { Sum, Mean, Max, Min };

// Idempotent: the first call decides the world; later calls return it. Throws with a message naming the rank when
// ranks on one node outnumber its GPUs (device Cuda, or Auto with GPUs present).
const World& init(Device want);
bool initialized();
bool launched_by_mpi();  // the environment says a launcher started us (without initialising anything)
bool mpi_initialized();  // MPI_Initialized(): for tests that a plain process never initialises MPI

// Blocking collectives, in place. Tensors: all on one device, no two sharing storage.
void all_reduce(const std::vector<Tensor>& ts, Reduce op);  // Sum or Mean
void broadcast(const std::vector<Tensor>& ts, int root);
void barrier();
void all_reduce_scalars(double* x, size_t n, Reduce op);    // Sum, Max or Min over float64 values

// Non-blocking all-reduce of a list (a gradient bucket): start() returns a handle, wait() completes it (after wait
// the tensors hold the result). Handles must be waited in any order, each exactly once.
int64_t start_all_reduce(const std::vector<Tensor>& ts, Reduce op);
void wait(int64_t handle);
size_t pending();  // handles not yet waited

// Prints "mrigan: rank R: message" to stderr and ends every rank with `code` (MPI_Abort); a plain process exits.
[[noreturn]] void abort(int code, const std::string& message);
// Drains the queue and calls MPI_Finalize (at process exit; also registered with atexit).
void finalize();

// ---- internal, shared by world.cc and nccl.cc ----
namespace nccl {
bool load(std::string* why);  // dlopen + symbol lookup + version check; why says what failed
int version();
void unique_id(char out[128]);
void init_rank(const char id[128], int size, int rank, int device);
// Enqueues an all-reduce (Sum/Mean) or broadcast of GPU tensors on the side stream; returns an opaque event.
void* enqueue(const std::vector<Tensor>& ts, Reduce op, int root, bool is_broadcast);
void stream_wait(void* event);   // compute stream waits on the event; the event is released
bool done(void* event);          // for the watchdog
void abort_comm();               // ncclCommAbort, before MPI_Abort
void destroy();
}  // namespace nccl

}  // namespace mrigan::dist
