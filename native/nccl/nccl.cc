// NCCL, loaded at run time: libnccl.so.2 (or MRIGAN_NCCL_LIB) through dlopen, so the build needs no NCCL headers and
// this file compiles in every build. The few types and functions used are declared here from the public NCCL API
// (nccl.h: ncclResult_t, ncclDataType_t, ncclRedOp_t, ncclUniqueId of 128 bytes). ncclAvg needs NCCL >= 2.10.
//
// Streams: collectives run on a side stream of the rank's GPU. Before enqueueing, the side stream waits on an event
// recorded on the compute stream (the gradients are written); wait() makes the compute stream wait on the event
// recorded after the collective. The caching allocator reuses blocks in compute-stream order, and the op keeps its
// tensors alive until wait(), so no block can be reused while NCCL still reads or writes it.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "nccl/comm.h"

#ifdef MRIGAN_CUDA
#include <cuda_runtime_api.h>

#include "cuda/api.h"
#endif

namespace mrigan::dist::nccl {

namespace {

// ---- the public NCCL ABI (nccl.h), declared here ----
typedef struct ncclComm* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
typedef int ncclResult_t;       // ncclSuccess = 0, ncclInProgress = 7
constexpr int ncclSuccess = 0, ncclInProgress = 7;
constexpr int ncclFloat32 = 7;  // ncclDataType_t
constexpr int ncclSum = 0, ncclAvg = 4;  // ncclRedOp_t

struct Api {
  ncclResult_t (*GetVersion)(int*);
  ncclResult_t (*GetUniqueId)(ncclUniqueId*);
  ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, int, int, ncclComm_t, void*);
  ncclResult_t (*Broadcast)(const void*, void*, size_t, int, int, ncclComm_t, void*);
  ncclResult_t (*GroupStart)();
  ncclResult_t (*GroupEnd)();
  ncclResult_t (*CommAbort)(ncclComm_t);
  ncclResult_t (*CommDestroy)(ncclComm_t);
  ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t*);
  const char* (*GetErrorString)(ncclResult_t);
};

Api api;
void* lib = nullptr;
int ver = 0;
ncclComm_t comm = nullptr;

void check(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return;
  throw Error(cat(what, " failed: ", api.GetErrorString ? api.GetErrorString(r) : "unknown NCCL error", " (", r, ")"));
}

template <typename F>
bool sym(F& f, const char* name, std::string* why) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  if (!f && why) *why = cat("symbol ", name, " missing from the NCCL library");
  return f != nullptr;
}

#ifdef MRIGAN_CUDA
int gpu = -1;
cudaStream_t side = nullptr;
void cuda_check(cudaError_t e, const char* what) {
  MRIGAN_CHECK(e == cudaSuccess, what, " failed: ", cudaGetErrorString(e));
}
#endif

}  // namespace

bool load(std::string* why) {
#ifndef MRIGAN_CUDA
  *why = "this mrigan build has no CUDA";
  return false;
#else
  if (lib) return true;
  const char* path = std::getenv("MRIGAN_NCCL_LIB");
  if (!path || !*path) path = "libnccl.so.2";
  lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    *why = cat("cannot load ", path, ": ", e ? e : "?", " (set MRIGAN_NCCL_LIB to libnccl.so.2's path)");
    return false;
  }
  bool ok = sym(api.GetVersion, "ncclGetVersion", why) && sym(api.GetUniqueId, "ncclGetUniqueId", why) &&
            sym(api.CommInitRank, "ncclCommInitRank", why) && sym(api.AllReduce, "ncclAllReduce", why) &&
            sym(api.Broadcast, "ncclBroadcast", why) && sym(api.GroupStart, "ncclGroupStart", why) &&
            sym(api.GroupEnd, "ncclGroupEnd", why) && sym(api.CommAbort, "ncclCommAbort", why) &&
            sym(api.CommDestroy, "ncclCommDestroy", why) &&
            sym(api.CommGetAsyncError, "ncclCommGetAsyncError", why) &&
            sym(api.GetErrorString, "ncclGetErrorString", why);
  if (ok && api.GetVersion(&ver) == ncclSuccess && ver < 21000) {
    *why = cat(path, " is NCCL ", ver, "; mrigan needs 2.10 or newer (ncclAvg)");
    ok = false;
  }
  if (!ok) {
    dlclose(lib);
    lib = nullptr;
  }
  return ok;
#endif
}

int version() { return ver; }

void unique_id(char out[128]) {
  ncclUniqueId id;
  check(api.GetUniqueId(&id), "ncclGetUniqueId");
  for (int i = 0; i < 128; ++i) out[i] = id.internal[i];
}

void init_rank(const char id[128], int size, int rank, int device) {
#ifdef MRIGAN_CUDA
  gpu = device;
  cuda::stream_handle(device);  // makes the device current through the runtime (and creates its compute stream)
  cuda_check(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking), "cudaStreamCreate (NCCL side stream)");
  ncclUniqueId u;
  for (int i = 0; i < 128; ++i) u.internal[i] = id[i];
  check(api.CommInitRank(&comm, size, u, rank), "ncclCommInitRank");
#else
  throw Error("NCCL needs a CUDA build");
#endif
}

void* enqueue(const std::vector<Tensor>& ts, Reduce op, int root, bool is_broadcast) {
#ifdef MRIGAN_CUDA
  MRIGAN_CHECK(ts.empty() || ts[0].device() == gpu, "NCCL collective: tensors are on ", device_str(ts[0].device()),
               " but this rank's GPU is cuda:", gpu);
  cudaStream_t compute = (cudaStream_t)cuda::stream_handle(gpu);
  cudaEvent_t ready, done;
  cuda_check(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
  cuda_check(cudaEventRecord(ready, compute), "cudaEventRecord");
  cuda_check(cudaStreamWaitEvent(side, ready, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(ready);  // destruction is deferred until the wait is satisfied
  check(api.GroupStart(), "ncclGroupStart");
  for (auto& t : ts) {
    if (!t.numel()) continue;
    if (is_broadcast) check(api.Broadcast(t.data(), t.data(), t.numel(), ncclFloat32, root, comm, side), "ncclBroadcast");
    else check(api.AllReduce(t.data(), t.data(), t.numel(), ncclFloat32, op == Reduce::Mean ? ncclAvg : ncclSum, comm,
                             side), "ncclAllReduce");
  }
  check(api.GroupEnd(), "ncclGroupEnd");
  cuda_check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
  cuda_check(cudaEventRecord(done, side), "cudaEventRecord");
  return (void*)done;
#else
  throw Error("NCCL needs a CUDA build");
#endif
}

void stream_wait(void* event) {
#ifdef MRIGAN_CUDA
  cudaEvent_t e = (cudaEvent_t)event;
  cuda_check(cudaStreamWaitEvent((cudaStream_t)cuda::stream_handle(gpu), e, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(e);
  ncclResult_t async = ncclSuccess;
  if (comm && api.CommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess && async != ncclInProgress)
    check(async, "NCCL (asynchronous error)");
#endif
}

bool done(void* event) {
#ifdef MRIGAN_CUDA
  return cudaEventQuery((cudaEvent_t)event) != cudaErrorNotReady;
#else
  return true;
#endif
}

void abort_comm() {
  if (comm && api.CommAbort) api.CommAbort(comm);
  comm = nullptr;
}

void destroy() {
#ifdef MRIGAN_CUDA
  if (side) cudaStreamSynchronize(side);
#endif
  if (comm && api.CommDestroy) api.CommDestroy(comm);
  comm = nullptr;
}

}  // namespace mrigan::dist::nccl
