// The world, the MPI communication thread, the watchdog and abort. See comm.h for the design.
// Everything MPI is under MRIGAN_MPI so that the node-gyp build (no MPI) still builds and answers a world of 1.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <sched.h>
#include <unistd.h>

#include "core/error.h"
#include "core/parallel.h"
#include "nccl/comm.h"

#ifdef MRIGAN_CUDA
#include "cuda/api.h"
#endif

#ifdef MRIGAN_MPI
#include <dlfcn.h>
#include <mpi.h>

#include "nccl/shm.h"
#endif

namespace mrigan::dist {

using Clock = std::chrono::steady_clock;

namespace {

World g_world;
bool g_init = false;
std::mutex g_init_mu;

// One queued collective. The Tensor copies keep the storage alive until wait(); host staging for GPU tensors
// under transport "mpi" lives in `host`.
struct Op {
  enum Kind { AllReduce, Broadcast, Barrier, Scalars } kind;
  std::vector<Tensor> ts;
  Reduce red = Reduce::Sum;
  int root = 0;
  double* scalars = nullptr;
  size_t n = 0;
  std::vector<float> host;  // staged GPU data (mpi transport) or the packed list
  bool done = false;
  std::string error;
  void* gpu_event = nullptr;  // nccl transport: completion event on the side stream
  Clock::time_point started;
  const char* name() const {
    switch (kind) {
      case AllReduce: return "all-reduce";
      case Broadcast: return "broadcast";
      case Barrier: return "barrier";
      default: return "scalar all-reduce";
    }
  }
};
using OpPtr = std::shared_ptr<Op>;

std::mutex g_mu;
std::condition_variable g_cv;       // queue non-empty / op done / shutdown
std::deque<OpPtr> g_queue;
std::map<int64_t, OpPtr> g_handles;  // started, not yet waited
int64_t g_next_handle = 1;
OpPtr g_running;                     // the op inside MPI now (watchdog)
uint64_t g_count = 0;                // collectives issued (for messages)
bool g_stop = false;
std::thread g_comm, g_watch;

bool env_true(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

}  // namespace

bool launched_by_mpi() {
  if (env_true("OMPI_COMM_WORLD_SIZE") || env_true("PMI_SIZE") || env_true("PMIX_RANK")) return true;
  const char* nt = std::getenv("SLURM_NTASKS");
  return nt && std::atoi(nt) > 1;
}

bool initialized() { return g_init; }

bool mpi_initialized() {
#ifdef MRIGAN_MPI
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
#else
  return false;
#endif
}

[[noreturn]] void abort(int code, const std::string& message) {
  std::fprintf(stderr, "mrigan: rank %d of %d: %s\n", g_world.rank, g_world.size, message.c_str());
  std::fflush(stderr);
  if (code == 0) code = 1;
#ifdef MRIGAN_MPI
  if (g_world.mpi) {
    if (g_world.transport == "nccl") nccl::abort_comm();
    MPI_Abort(MPI_COMM_WORLD, code);
  }
#endif
  std::_Exit(code);
}

#ifdef MRIGAN_MPI
void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(cat(what, " failed: ", std::string(msg, len)));
}

namespace {

// MPI counts are int: reduce in chunks of 2^30 elements.
constexpr size_t kChunk = size_t(1) << 30;

void allreduce_floats(float* p, size_t n, Reduce op) {
  for (size_t o = 0; o < n; o += kChunk)
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, p + o, (int)std::min(kChunk, n - o), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
  if (op == Reduce::Mean) {
    float s = (float)g_world.size;  // sum, then divide (as torch DDP's average): correctly rounded for any size
    for (size_t i = 0; i < n; ++i) p[i] /= s;
  }
}

void bcast_floats(float* p, size_t n, int root) {
  for (size_t o = 0; o < n; o += kChunk)
    mpi_check(MPI_Bcast(p + o, (int)std::min(kChunk, n - o), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
}

size_t total(const std::vector<Tensor>& ts) {
  size_t n = 0;
  for (auto& t : ts) n += t.numel();
  return n;
}

// A list of one CPU tensor is reduced in place; anything else through one packed buffer (one collective per bucket,
// not one per tensor: a bucket holds many small bias vectors). GPU tensors were staged into op.host by the caller.
void run_op(Op& op) {
  switch (op.kind) {
    case Op::Barrier: mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); return;
    case Op::Scalars: {
      MPI_Op m = op.red == Reduce::Max ? MPI_MAX : op.red == Reduce::Min ? MPI_MIN : MPI_SUM;
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, op.scalars, (int)op.n, MPI_DOUBLE, m, MPI_COMM_WORLD), "MPI_Allreduce");
      return;
    }
    default: break;
  }
  bool gpu = !op.ts.empty() && !op.ts[0].on_cpu();  // already staged into op.host by submit()
  bool single = op.ts.size() == 1 && !gpu;
  size_t n = total(op.ts);
  if (op.kind == Op::AllReduce && shm::active()) {  // straight from and to the tensors through the node's window
    std::vector<shm::Seg> segs;
    if (gpu) segs.push_back({op.host.data(), n});
    else for (auto& t : op.ts) segs.push_back({t.data(), t.numel()});
    shm::all_reduce(segs, n, op.red == Reduce::Mean);
    return;
  }
  if (!single && !gpu) {  // CPU list: pack
    op.host.resize(n);
    size_t o = 0;
    for (auto& t : op.ts) { std::memcpy(op.host.data() + o, t.data(), t.numel() * sizeof(float)); o += t.numel(); }
  }
  float* buf = single ? op.ts[0].data() : op.host.data();
  if (op.kind == Op::AllReduce) allreduce_floats(buf, n, op.red);
  else bcast_floats(buf, n, op.root);
  if (!single && !gpu) {  // unpack
    size_t o = 0;
    for (auto& t : op.ts) { std::memcpy(t.data(), op.host.data() + o, t.numel() * sizeof(float)); o += t.numel(); }
  }
}

void comm_loop() {
  for (;;) {
    OpPtr op;
    {
      std::unique_lock<std::mutex> lk(g_mu);
      g_cv.wait(lk, [] { return g_stop || !g_queue.empty(); });
      if (g_queue.empty()) return;  // stop requested and drained
      op = g_queue.front();
      g_queue.pop_front();
      op->started = Clock::now();
      g_running = op;
    }
    std::string err;
    try {
      run_op(*op);
    } catch (const std::exception& e) {
      err = e.what();
    }
    {
      std::lock_guard<std::mutex> lk(g_mu);
      op->error = err;
      op->done = true;
      g_running.reset();
    }
    g_cv.notify_all();
  }
}

// Checks once a second whether the running MPI collective, or any started NCCL one, is older than the timeout.
void watch_loop() {
  std::unique_lock<std::mutex> lk(g_mu);
  while (!g_stop) {
    g_cv.wait_for(lk, std::chrono::seconds(1));
    if (g_stop) break;
    auto now = Clock::now();
    auto late = [&](const OpPtr& op) {
      return std::chrono::duration<double>(now - op->started).count() > g_world.timeout_s;
    };
    const Op* stuck = nullptr;
    if (g_running && late(g_running)) stuck = g_running.get();
    for (auto& [h, op] : g_handles)
      if (op->gpu_event && late(op) && !nccl::done(op->gpu_event)) stuck = op.get();
    if (stuck) {
      std::string msg = cat("collective ", stuck->name(), " (issued by this rank) has not completed after ", g_world.timeout_s,
                            " s (MRIGAN_COLLECTIVE_TIMEOUT); a peer rank probably died or stopped calling collectives."
                            " Aborting all ranks.");
      lk.unlock();
      abort(3, msg);
    }
  }
}

}  // namespace
#endif  // MRIGAN_MPI

const World& init(Device want) {
  std::lock_guard<std::mutex> lk(g_init_mu);
  if (g_init) return g_world;
  if (const char* t = std::getenv("MRIGAN_COLLECTIVE_TIMEOUT")) {
    char* end = nullptr;
    double v = std::strtod(t, &end);
    MRIGAN_CHECK(end && *end == 0 && v > 0, "MRIGAN_COLLECTIVE_TIMEOUT must be a positive number of seconds, got '", t, "'");
    g_world.timeout_s = v;
  }
  int gpus = cuda_device_count();
  bool use_gpu = want == Device::Cuda || (want == Device::Auto && gpus > 0);
  MRIGAN_CHECK(!(want == Device::Cuda && gpus == 0), "distributed init: device cuda requested but ", cuda_status());
  if (!launched_by_mpi()) {
    g_world.device = use_gpu ? 0 : kCPU;
    // MRIGAN_NCCL_SELF=1: a plain process on a GPU builds a 1-rank NCCL communicator (the unique id needs no MPI), so
    // a one-GPU machine runs the whole NCCL path: buckets on the side stream, events, ncclAvg over one rank.
    if (env_true("MRIGAN_NCCL_SELF") && std::string(std::getenv("MRIGAN_NCCL_SELF")) != "0") {
      MRIGAN_CHECK(use_gpu, "MRIGAN_NCCL_SELF: NCCL needs a GPU, but this process uses the CPU (", cuda_status(), ")");
      std::string why;
      MRIGAN_CHECK(nccl::load(&why), "MRIGAN_NCCL_SELF: ", why);
      char id[128];
      nccl::unique_id(id);
      nccl::init_rank(id, 1, 0, g_world.device);
      g_world.transport = "nccl";
      g_world.nccl_version = nccl::version();
    }
    g_init = true;
    return g_world;
  }
#ifndef MRIGAN_MPI
  throw Error("this process was started by an MPI launcher (mpirun/srun) but this mrigan build has no MPI; rebuild "
              "with libopenmpi-dev installed (npm run build:native)");
#else
  // libmpi's own plugins (dlopen'ed by MPI_Init) need its symbols global; Node loaded us RTLD_LOCAL. (docs/design.md §7)
  dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  int provided = 0;
  mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  g_world.mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  MRIGAN_CHECK(provided >= MPI_THREAD_SERIALIZED, "rank ", g_world.rank, ": this MPI library gives thread level ",
               provided, "; mrigan needs MPI_THREAD_SERIALIZED or better");
  MPI_Comm node;
  mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &g_world.local_rank);
  MPI_Comm_size(node, &g_world.local_size);
  {  // default threads: this rank's CPUs divided among the node's ranks bound to overlapping CPUs (all of them when
     // the launcher did not bind, one when it bound each rank to its own cores), unless MRIGAN_THREADS / --threads chose
    cpu_set_t mine;
    CPU_ZERO(&mine);
    const bool known = sched_getaffinity(0, sizeof mine, &mine) == 0;  // every rank joins the collective either way
    std::vector<cpu_set_t> all((size_t)g_world.local_size);
    mpi_check(MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all.data(), (int)sizeof mine, MPI_BYTE, node), "MPI_Allgather(affinity)");
    int sharing = 0;
    for (cpu_set_t& other : all) {
      cpu_set_t both;
      CPU_AND(&both, &mine, &other);
      sharing += CPU_COUNT(&both) > 0;
    }
    if (known) share_cores(sharing);
  }

  // Every rank must agree on the device and transport before anything rank-local can throw, or the others hang.
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  int bad_gpu = use_gpu && g_world.local_size > gpus ? 1 : 0, any_bad = 0;
  MPI_Allreduce(&bad_gpu, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_bad) {
    MPI_Comm_free(&node);
    MPI_Finalize();
    g_world.mpi = false;
    throw Error(cat("rank ", g_world.rank, " on ", host, ": ", g_world.local_size, " ranks on this node but ", gpus,
                    " GPU(s); start at most one rank per GPU (NCCL refuses two ranks on one GPU) or use --device cpu"));
  }
  g_world.device = use_gpu ? g_world.local_rank : kCPU;
#ifdef MRIGAN_CUDA
  if (use_gpu) cuda::stream_handle(g_world.device);  // one GPU per rank: makes cuda:localRank current (cudaSetDevice)
#endif
  std::string why;
  int can = use_gpu && nccl::load(&why) ? 1 : 0, all = 0;
  MPI_Allreduce(&can, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (all) {
    char id[128];
    if (g_world.rank == 0) nccl::unique_id(id);
    mpi_check(MPI_Bcast(id, 128, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast(nccl id)");
    nccl::init_rank(id, g_world.size, g_world.rank, g_world.device);
    g_world.transport = "nccl";
    g_world.nccl_version = nccl::version();
  } else {
    g_world.transport = "mpi";
    if (use_gpu && g_world.rank == 0 && !why.empty())
      std::fprintf(stderr, "mrigan: NCCL not used (%s); GPU tensors are reduced by MPI through host memory\n", why.c_str());
    std::string no_shm;
    g_world.shm = shm::setup(node, g_world.size, &no_shm);
  }
  MPI_Comm_free(&node);
  g_comm = std::thread(comm_loop);
  g_watch = std::thread(watch_loop);
  std::atexit(finalize);
  g_init = true;
  return g_world;
#endif
}

// ---------------------------------------------------------------- collectives
namespace {

void check_list(const std::vector<Tensor>& ts, const char* fn) {
  MRIGAN_CHECK(g_init, fn, ": call distInit() first");
  for (size_t i = 0; i < ts.size(); ++i) {
    MRIGAN_CHECK(ts[i].device() == ts[0].device(), fn, ": tensor ", i, " is on ", device_str(ts[i].device()),
                 " but tensor 0 is on ", device_str(ts[0].device()), "; one list holds tensors of one device");
    for (size_t j = 0; j < i; ++j)
      MRIGAN_CHECK(!ts[i].st || ts[i].st != ts[j].st, fn, ": tensor ", i, " shares storage with tensor ", j,
                   " (it would be reduced twice)");
  }
}

#ifdef MRIGAN_MPI
OpPtr submit(OpPtr op) {
  if (op->ts.size() && !op->ts[0].on_cpu() && (op->kind == Op::AllReduce || op->kind == Op::Broadcast)) {
    op->host.resize(total(op->ts));  // transport mpi: stage through the host on this (the CUDA) thread
    size_t o = 0;
    for (auto& t : op->ts) { cuda_copy(op->host.data() + o, kCPU, t.data(), t.device(), t.numel() * 4); o += t.numel(); }
  }
  {
    std::lock_guard<std::mutex> lk(g_mu);
    ++g_count;
    g_queue.push_back(op);
  }
  g_cv.notify_all();
  return op;
}

void complete(Op& op) {
  {
    std::unique_lock<std::mutex> lk(g_mu);
    g_cv.wait(lk, [&] { return op.done; });
  }
  MRIGAN_CHECK(op.error.empty(), "rank ", g_world.rank, ": ", op.name(), ": ", op.error);
  if (!op.host.empty() && !op.ts.empty() && !op.ts[0].on_cpu()) {  // unstage
    size_t o = 0;
    for (auto& t : op.ts) { cuda_copy(t.data(), t.device(), op.host.data() + o, kCPU, t.numel() * 4); o += t.numel(); }
  }
}
#endif

bool trivial() { return g_world.size == 1 && !g_world.mpi; }

// GPU tensors under transport "nccl" go straight onto the side stream, no comm thread involved (with or without MPI:
// MRIGAN_NCCL_SELF has no MPI).
bool on_nccl(const Op& op) { return g_world.transport == "nccl" && !op.ts.empty() && !op.ts[0].on_cpu(); }
void enqueue_nccl(Op& op) {
  op.started = Clock::now();
  op.gpu_event = nccl::enqueue(op.ts, op.red, op.root, op.kind == Op::Broadcast);
}
void complete_nccl(Op& op) {
  nccl::stream_wait(op.gpu_event);
  op.gpu_event = nullptr;
}

OpPtr make(Op::Kind k, const std::vector<Tensor>& ts, Reduce red, int root) {
  auto op = std::make_shared<Op>();
  op->kind = k;
  op->ts = ts;
  op->red = red;
  op->root = root;
  return op;
}

}  // namespace

void all_reduce(const std::vector<Tensor>& ts, Reduce op) { wait(start_all_reduce(ts, op)); }

int64_t start_all_reduce(const std::vector<Tensor>& ts, Reduce red) {
  check_list(ts, "allReduce");
  MRIGAN_CHECK(red == Reduce::Sum || red == Reduce::Mean, "allReduce: tensors are reduced by sum or mean");
  auto op = make(Op::AllReduce, ts, red, 0);
  if (on_nccl(*op)) enqueue_nccl(*op);
#ifdef MRIGAN_MPI
  else if (!trivial()) op = submit(op);
#endif
  else op->done = true;
  std::lock_guard<std::mutex> lk(g_mu);
  int64_t h = g_next_handle++;
  g_handles[h] = op;
  return h;
}

void wait(int64_t handle) {
  OpPtr op;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_handles.find(handle);
    MRIGAN_CHECK(it != g_handles.end(), "wait: handle ", handle, " is unknown or was already waited");
    op = it->second;
    g_handles.erase(it);  // before complete(): the watchdog must not query a GPU event that complete() destroys
  }
  if (op->gpu_event) return complete_nccl(*op);
#ifdef MRIGAN_MPI
  if (!trivial()) complete(*op);
#endif
}

size_t pending() {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_handles.size();
}

void broadcast(const std::vector<Tensor>& ts, int root) {
  check_list(ts, "broadcast");
  MRIGAN_CHECK(root >= 0 && root < g_world.size, "broadcast: root ", root, " is not a rank of this world of ",
               g_world.size);
  auto op = make(Op::Broadcast, ts, Reduce::Sum, root);
  if (on_nccl(*op)) {
    enqueue_nccl(*op);
    return complete_nccl(*op);
  }
#ifdef MRIGAN_MPI
  if (trivial()) return;
  complete(*submit(op));
#endif
}

void barrier() {
  MRIGAN_CHECK(g_init, "barrier: call distInit() first");
#ifdef MRIGAN_MPI
  if (trivial()) return;
  auto op = submit(make(Op::Barrier, {}, Reduce::Sum, 0));
  complete(*op);
#endif
}

void all_reduce_scalars(double* x, size_t n, Reduce red) {
  MRIGAN_CHECK(g_init, "allReduceScalars: call distInit() first");
  MRIGAN_CHECK(red != Reduce::Mean, "allReduceScalars: op must be sum, max or min");
  MRIGAN_CHECK(n <= (size_t(1) << 24), "allReduceScalars: at most 2^24 values (it is for statistics), got ", n);
#ifdef MRIGAN_MPI
  if (trivial() || n == 0) return;
  auto op = make(Op::Scalars, {}, red, 0);
  op->scalars = x;
  op->n = n;
  complete(*submit(op));
#endif
}

void finalize() {
#ifdef MRIGAN_MPI
  static std::atomic<bool> once{false};
  if (!g_world.mpi || once.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_stop = true;
  }
  g_cv.notify_all();
  if (g_comm.joinable()) g_comm.join();
  if (g_watch.joinable()) g_watch.join();
  if (g_world.transport == "nccl") nccl::destroy();
  shm::teardown();
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
#endif
}

}  // namespace mrigan::dist
