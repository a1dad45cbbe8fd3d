// buildHnswFile: builds an hnswlib HNSW index on several threads and writes it with saveIndex.
//
// hnswlib-node 3.0.0 adds points one at a time on the JavaScript thread. hnswlib itself is safe for
// concurrent addPoint (its Python binding builds with num_threads this way: the first point alone,
// then the others from a shared counter on every thread). This addon does the same, off the event
// loop (an AsyncWorker), in the space hnswlib-node calls "cosine": every vector normalised exactly
// as its addon.cc normalizePoint does, then InnerProductSpace. The file is hnswlib's saveIndex
// output, read by hnswlib-node's readIndex.
//
// Levels: hnswlib draws each point's level from one std::default_random_engine seeded with the
// seed, inside addPoint, without a lock (a data race when threads add at once). Here the levels are
// drawn beforehand, in point order, from an engine seeded the same way (the very sequence a
// one-by-one build draws), and passed to addPoint; while points are added, mult_ is 0 so hnswlib's
// own draw can only give level 0 (then replaced by ours when ours is above 0). mult_ is put back
// before saveIndex (the file records it). So the level of every point does not depend on threads,
// and with one thread the file is byte-identical to hnswlib-node's addPoint build of the same
// points in the same order (same compiler flags for the distance code); with more threads the
// neighbour lists depend on the order in which threads finish, as in hnswlib's Python binding.
#include <napi.h>
#include <sys/mman.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "hnswlib/hnswlib.h"

namespace {

// hnswlib-node's addon.cc normalizePoint, verbatim in effect: a float inner product, divide when > 0.
void normalizeInto(const float* in, size_t dim, std::vector<float>& out) {
  out.assign(in, in + dim);
  const float norm = std::sqrt(std::fabs(std::inner_product(out.begin(), out.end(), out.begin(), 0.0f)));
  if (norm > 0.0f) {
    for (size_t i = 0; i < dim; i++) out[i] /= norm;
  }
}

struct Job {
  const float* vectors;
  const int32_t* labels;
  size_t count;
  size_t dim;
  size_t m;
  size_t efConstruction;
  size_t seed;
  size_t threads;
  std::string file;
};

class BuildWorker : public Napi::AsyncProgressWorker<uint32_t> {
 public:
  BuildWorker(Napi::Env env, Job job, Napi::TypedArray vectors, Napi::TypedArray labels, Napi::Function onProgress)
      : Napi::AsyncProgressWorker<uint32_t>(env, "hnswbuild"), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {
    vectorsRef_ = Napi::Persistent(vectors.As<Napi::Object>());
    labelsRef_ = Napi::Persistent(labels.As<Napi::Object>());
    if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      Build(progress);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnProgress(const uint32_t* done, size_t count) override {
    if (count == 0 || onProgress_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    onProgress_.Call({Napi::Number::New(Env(), *done)});
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Build(const ExecutionProgress& progress) {
    const Job& j = job_;
    // Checked here (off the event loop): a value that is not a number would make every distance NaN.
    for (size_t i = 0; i < j.count * j.dim; i++) {
      if (!std::isfinite(j.vectors[i])) {
        throw std::runtime_error("vector " + std::to_string(i / j.dim) + " (label " + std::to_string(j.labels[i / j.dim]) +
                                 ") holds a value that is not a number");
      }
    }
    {
      std::unordered_set<int32_t> seen;
      seen.reserve(j.count * 2);
      for (size_t i = 0; i < j.count; i++) {
        if (j.labels[i] < 0) throw std::runtime_error("label " + std::to_string(j.labels[i]) + " is negative");
        if (!seen.insert(j.labels[i]).second) throw std::runtime_error("label " + std::to_string(j.labels[i]) + " appears twice");
      }
    }
    // Fail before the long part when the file cannot be written (saveIndex itself does not check).
    {
      std::ofstream probe(j.file, std::ios::binary | std::ios::trunc);
      if (!probe.is_open()) throw std::runtime_error("cannot write the index file " + j.file);
    }

    hnswlib::InnerProductSpace space(j.dim);
    hnswlib::HierarchicalNSW<float> index(&space, j.count > 0 ? j.count : 1, j.m, j.efConstruction, j.seed);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Level 0 (links and vectors: 1.6 GB at 1M 384-d rows) in huge pages: inserting walks it at
    // random, and with 4 kB pages much of that time is TLB misses. A 1M build took 299 → 267 s here,
    // the same graph quality (scripts/bench/hnsw-build.ts --sse-addon, side by side). Only the
    // writer asks for it: a serving process's open must not wait for memory compaction.
    {
      const uintptr_t huge = uintptr_t{2} << 20;
      const uintptr_t start = reinterpret_cast<uintptr_t>(index.data_level0_memory_);
      const uintptr_t from = (start + huge - 1) & ~(huge - 1);
      const uintptr_t to = (start + index.max_elements_ * index.size_data_per_element_) & ~(huge - 1);
      if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);  // advice only: ignored where unsupported
    }
#endif

    std::vector<int> levels(j.count);
    {
      std::default_random_engine gen(j.seed);
      for (size_t i = 0; i < j.count; i++) {
        std::uniform_real_distribution<double> distribution(0.0, 1.0);
        levels[i] = static_cast<int>(-std::log(distribution(gen)) * index.mult_);
      }
    }
    const double mult = index.mult_;
    index.mult_ = 0.0;

    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    std::atomic<bool> failed{false};
    std::mutex errorLock;
    std::string error;
    const size_t chunk = 8192;

    auto addOne = [&](size_t i, std::vector<float>& buf) {
      normalizeInto(j.vectors + i * j.dim, j.dim, buf);
      index.addPoint(buf.data(), static_cast<hnswlib::labeltype>(j.labels[i]), levels[i]);
      const size_t d = done.fetch_add(1) + 1;
      if (d % chunk == 0) {
        const uint32_t report = static_cast<uint32_t>(d);
        progress.Send(&report, 1);
      }
    };
    auto work = [&]() {
      std::vector<float> buf;
      try {
        for (;;) {
          if (failed.load(std::memory_order_relaxed)) return;
          const size_t i = next.fetch_add(1);
          if (i >= j.count) return;
          addOne(i, buf);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(errorLock);
        if (!failed.exchange(true)) error = e.what();
      }
    };

    if (j.count > 0) {
      // The first point alone: it becomes the entry point, as in a one-by-one build.
      std::vector<float> buf;
      addOne(0, buf);
      next.store(1);
      const size_t threads = std::max<size_t>(1, std::min(j.threads, j.count));
      std::vector<std::thread> pool;
      for (size_t t = 1; t < threads; t++) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
      if (failed.load()) throw std::runtime_error(error);
    }

    index.mult_ = mult;
    index.saveIndex(j.file);
    std::ifstream written(j.file, std::ios::binary | std::ios::ate);
    if (!written.is_open() || static_cast<size_t>(written.tellg()) != index.indexFileSize()) {
      throw std::runtime_error("writing the index file " + j.file + " failed (disk full?)");
    }
  }

  Job job_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference vectorsRef_;
  Napi::ObjectReference labelsRef_;
  Napi::FunctionReference onProgress_;
};

Napi::Value Fail(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

size_t PositiveInt(const Napi::Object& o, const char* key, size_t max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return 0;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= static_cast<double>(max) && std::floor(d) == d)) return 0;
  return static_cast<size_t>(d);
}

// buildHnswFile({ vectors: Float32Array, labels: Int32Array, dim, m, efConstruction, seed, threads, file }, onProgress?)
// → Promise<void>. onProgress(done) is called on the JS thread every 8,192 points.
Napi::Value BuildHnswFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(env, "buildHnswFile expects an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value vv = o.Get("vectors");
  Napi::Value lv = o.Get("labels");
  if (!vv.IsTypedArray() || vv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return Fail(env, "vectors must be a Float32Array");
  if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) return Fail(env, "labels must be an Int32Array");
  Napi::Float32Array vectors = vv.As<Napi::Float32Array>();
  Napi::Int32Array labels = lv.As<Napi::Int32Array>();
  Job job;
  job.dim = PositiveInt(o, "dim", 1 << 16);
  job.m = PositiveInt(o, "m", 2048);
  job.efConstruction = PositiveInt(o, "efConstruction", 1 << 20);
  job.threads = PositiveInt(o, "threads", 1024);
  if (job.dim == 0) return Fail(env, "dim must be a whole number from 1 to 65536");
  if (job.m < 2) return Fail(env, "m must be a whole number from 2 to 2048");
  if (job.efConstruction == 0) return Fail(env, "efConstruction must be a positive whole number");
  if (job.threads == 0) return Fail(env, "threads must be a positive whole number");
  Napi::Value sv = o.Get("seed");
  if (!sv.IsNumber() || sv.As<Napi::Number>().DoubleValue() < 0 || sv.As<Napi::Number>().DoubleValue() > 4294967295.0)
    return Fail(env, "seed must be a whole number from 0 to 2^32-1");
  job.seed = sv.As<Napi::Number>().Uint32Value();
  Napi::Value fv = o.Get("file");
  if (!fv.IsString() || fv.As<Napi::String>().Utf8Value().empty()) return Fail(env, "file must be a path");
  job.file = fv.As<Napi::String>().Utf8Value();
  job.count = labels.ElementLength();
  if (vectors.ElementLength() != job.count * job.dim) {
    return Fail(env, "vectors hold " + std::to_string(vectors.ElementLength()) + " values, but " + std::to_string(job.count) + " labels of " +
                         std::to_string(job.dim) + " dimensions need " + std::to_string(job.count * job.dim));
  }
  if (job.count == 0) return Fail(env, "there are no vectors to index");
  job.vectors = vectors.Data();
  job.labels = labels.Data();
  Napi::Function onProgress;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsFunction()) return Fail(env, "onProgress must be a function");
    onProgress = info[1].As<Napi::Function>();
  }
  auto* worker = new BuildWorker(env, std::move(job), vectors, labels, onProgress);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitGraph(Napi::Env env, Napi::Object exports);
void InitPostings(Napi::Env env, Napi::Object exports);

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildHnswFile", Napi::Function::New(env, BuildHnswFile));
  InitGraph(env, exports);
  InitPostings(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(hnswbuild, Init)
