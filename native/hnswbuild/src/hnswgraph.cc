// HnswGraph: an hnswlib index file read into this process's memory and searched off the event loop.
//
// hnswlib-node's readIndex reads the file element by element (a small read and a malloc for every
// element's upper links, a hash map of every label: ~1.6 s at 1M 384-d passages) and searches on
// the JavaScript thread. Here the file is read in large blocks into one private buffer on a libuv
// thread, hnswlib's HierarchicalNSW is pointed at that buffer (its upper-level link lists in place,
// no label map: the caller marks deletions by element), and each search runs on a libuv thread,
// so the keyword search runs beside it on the JavaScript thread. The graph and distance code are
// hnswlib's own (compiled with this machine's SIMD flags). The copy is private on purpose: a file
// edited or truncated on disk while the bot serves must not reach a search (a mapping would).
//
// The caller (src/store/fs/snapshot.ts) checks the file's structure and checksum before searching;
// reading it here is memory-safe whatever it holds (sizes are bounds-checked), searching is not.
#include <napi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnswlib/hnswlib.h"

namespace {

constexpr size_t kHeaderBytes = 96;

struct Graph {
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  char* base = nullptr;
  size_t length = 0;
  size_t dim;

  /** The first element whose vector holds a NaN or an infinity, or -1 (found while loading, off the event loop). */
  int64_t firstNonFinite = -1;

  /** Entry points of the level-0 search: the best `seeds` of a beam search on level 1 (1: hnswlib's own search, one entry point). */
  size_t seeds = 1;

  explicit Graph(size_t d) : space(d), dim(d) {}

  using Scored = std::pair<float, hnswlib::tableint>;

  float Distance(const float* q, hnswlib::tableint id) const { return index->fstdistfunc_(q, index->getDataByInternalId(id), index->dist_func_param_); }

  // Beam search on one level from several entry points: the `ef` nearest elements found (worst on
  // top). On level 0 elements marked deleted are walked through but not returned, as in hnswlib.
  std::priority_queue<Scored> Beam(const float* q, const std::vector<hnswlib::tableint>& from, size_t ef, int level) const {
    auto* h = index.get();
    const bool skipDeleted = level == 0 && h->num_deleted_ > 0;
    hnswlib::VisitedList* vl = h->visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = vl->mass;
    const hnswlib::vl_type tag = vl->curV;
    std::priority_queue<Scored> top;
    std::priority_queue<Scored, std::vector<Scored>, std::greater<Scored>> frontier;
    float worst = std::numeric_limits<float>::infinity();
    auto consider = [&](hnswlib::tableint id, float d) {
      frontier.emplace(d, id);
      if (!skipDeleted || !h->isMarkedDeleted(id)) {
        top.emplace(d, id);
        if (top.size() > ef) top.pop();
      }
      if (top.size() >= ef) worst = top.top().first;
    };
    for (const auto id : from) {
      if (visited[id] == tag) continue;
      visited[id] = tag;
      consider(id, Distance(q, id));
    }
    while (!frontier.empty()) {
      const Scored best = frontier.top();
      if (best.first > worst) break;
      frontier.pop();
      auto* ll = level == 0 ? h->get_linklist0(best.second) : h->get_linklist(best.second, level);
      const size_t n = h->getListCount(ll);
      const auto* next = reinterpret_cast<const hnswlib::tableint*>(ll + 1);
      for (size_t j = 0; j < n; j++) __builtin_prefetch(h->getDataByInternalId(next[j]));
      for (size_t j = 0; j < n; j++) {
        const hnswlib::tableint e = next[j];
        if (visited[e] == tag) continue;
        visited[e] = tag;
        const float d = Distance(q, e);
        if (top.size() < ef || d < worst) consider(e, d);
      }
    }
    h->visited_list_pool_->releaseVisitedList(vl);
    return top;
  }

  // hnswlib's searchKnn, except that level 0 starts from the `seeds` best of a beam search on level 1
  // instead of one element: a query far from every element (a question the corpus does not answer
  // well) otherwise follows one greedy path and misses neighbours in other regions of the graph.
  std::priority_queue<std::pair<float, hnswlib::labeltype>> Search(const float* q, size_t k) const {
    auto* h = index.get();
    if (seeds <= 1 || h->maxlevel_ < 1) return h->searchKnn(q, k);
    std::priority_queue<std::pair<float, hnswlib::labeltype>> result;
    if (h->cur_element_count == 0) return result;
    hnswlib::tableint cur = h->enterpoint_node_;
    float curDist = Distance(q, cur);
    for (int level = h->maxlevel_; level > 1; level--) {
      for (bool changed = true; changed;) {
        changed = false;
        auto* ll = h->get_linklist(cur, level);
        const size_t n = h->getListCount(ll);
        const auto* next = reinterpret_cast<const hnswlib::tableint*>(ll + 1);
        for (size_t j = 0; j < n; j++) {
          const float d = Distance(q, next[j]);
          if (d < curDist) {
            curDist = d;
            cur = next[j];
            changed = true;
          }
        }
      }
    }
    auto upper = Beam(q, {cur}, seeds, 1);
    std::vector<hnswlib::tableint> from;
    while (!upper.empty()) {
      from.push_back(upper.top().second);
      upper.pop();
    }
    auto top = Beam(q, from, std::max(h->ef_, k), 0);
    while (top.size() > k) top.pop();
    while (!top.empty()) {
      result.emplace(top.top().first, h->getExternalLabel(top.top().second));
      top.pop();
    }
    return result;
  }

  ~Graph() {
    if (index) {
      // The level-0 block and the link lists live in `base`: hnswlib must not free them.
      index->data_level0_memory_ = nullptr;
      index->cur_element_count = 0;
      index.reset();
    }
    std::free(base);
  }

  template <typename T>
  T at(size_t offset) const {
    T v;
    std::memcpy(&v, base + offset, sizeof(T));
    return v;
  }

  // fd: the caller's descriptor of the file (the caller keeps it open).
  void Open(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kHeaderBytes)) throw std::runtime_error("the index file is too short");
    length = static_cast<size_t>(st.st_size);
    // No MADV_HUGEPAGE: reading into huge pages took 0.25 s instead of 0.87 s at 1M rows when
    // memory was free, but a fresh process's first open then waited up to 4 s for compaction.
    base = static_cast<char*>(std::malloc(length));
    if (!base) throw std::runtime_error("not enough memory for the index file");
    for (size_t got = 0; got < length;) {
      const ssize_t n = pread(fd, base + got, std::min<size_t>(length - got, 64 << 20), static_cast<off_t>(got));
      if (n <= 0) throw std::runtime_error("the index file could not be read to its end");
      got += static_cast<size_t>(n);
    }

    auto* h = new hnswlib::HierarchicalNSW<float>(&space);
    index.reset(h);
    size_t p = 0;
    const auto sz = [&]() {
      const size_t v = at<size_t>(p);
      p += sizeof(size_t);
      return v;
    };
    h->offsetLevel0_ = sz();
    const size_t maxElements = sz();
    const size_t count = sz();
    h->size_data_per_element_ = sz();
    h->label_offset_ = sz();
    h->offsetData_ = sz();
    h->maxlevel_ = at<int>(p);
    p += sizeof(int);
    h->enterpoint_node_ = at<hnswlib::tableint>(p);
    p += sizeof(hnswlib::tableint);
    h->maxM_ = sz();
    h->maxM0_ = sz();
    h->M_ = sz();
    h->mult_ = at<double>(p);
    p += sizeof(double);
    h->ef_construction_ = sz();
    (void)maxElements;
    if (p != kHeaderBytes) throw std::runtime_error("unexpected HNSW header size");
    const size_t level0 = count * h->size_data_per_element_;
    if (h->size_data_per_element_ == 0 || level0 / h->size_data_per_element_ != count || kHeaderBytes + level0 > length)
      throw std::runtime_error("the index file is shorter than its elements");
    if (h->offsetData_ + dim * sizeof(float) > h->size_data_per_element_) throw std::runtime_error("the index file's vectors are not " + std::to_string(dim) + "-d");

    h->data_size_ = space.get_data_size();
    h->fstdistfunc_ = space.get_dist_func();
    h->dist_func_param_ = space.get_dist_func_param();
    h->max_elements_ = count;
    h->cur_element_count = count;
    h->data_level0_memory_ = base + kHeaderBytes;
    h->size_links_per_element_ = h->maxM_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
    h->size_links_level0_ = h->maxM0_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
    h->visited_list_pool_.reset(new hnswlib::VisitedListPool(1, count > 0 ? count : 1));
    h->linkLists_ = static_cast<char**>(malloc(sizeof(void*) * (count > 0 ? count : 1)));
    if (!h->linkLists_) throw std::runtime_error("not enough memory for the link lists");
    h->element_levels_ = std::vector<int>(count);
    h->revSize_ = 1.0 / h->mult_;
    h->ef_ = 10;
    // Upper levels: each element's link-list size, then its lists, pointed at in place.
    p = kHeaderBytes + level0;
    for (size_t i = 0; i < count; i++) {
      if (p + sizeof(unsigned int) > length) throw std::runtime_error("the index file ends inside its link lists");
      const unsigned int size = at<unsigned int>(p);
      p += sizeof(unsigned int);
      if (size == 0) {
        h->element_levels_[i] = 0;
        h->linkLists_[i] = nullptr;
      } else {
        if (p + size > length) throw std::runtime_error("the index file ends inside its link lists");
        h->element_levels_[i] = static_cast<int>(size / h->size_links_per_element_);
        h->linkLists_[i] = base + p;
        p += size;
      }
    }
    if (p != length) throw std::runtime_error("the index file has bytes after its link lists");
    // No label map: the caller knows each label's element from its own check of the file and marks
    // deletions by element. Elements the file marks deleted count as hnswlib's loadIndex counts them.
    size_t deleted = 0;
    for (size_t i = 0; i < count; i++) deleted += h->isMarkedDeleted(static_cast<hnswlib::tableint>(i)) ? 1 : 0;
    h->num_deleted_ = deleted;
    // The caller's check of the file trusts this scan for its vectors (a float whose exponent bits
    // are all ones is a NaN or an infinity): ~0.1 s at 1M × 384 here, instead of ~0.5 s in JavaScript.
    for (size_t i = 0; i < count && firstNonFinite < 0; i++) {
      const char* v = base + kHeaderBytes + i * h->size_data_per_element_ + h->offsetData_;
      uint32_t bad = 0;
      for (size_t d = 0; d < dim; d++) {
        uint32_t bits;
        std::memcpy(&bits, v + d * sizeof(float), sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;
      }
      if (bad) firstNonFinite = static_cast<int64_t>(i);
    }
  }
};

void NormalizeInto(const float* in, size_t dim, std::vector<float>& out) {
  out.assign(in, in + dim);
  const float norm = std::sqrt(std::fabs(std::inner_product(out.begin(), out.end(), out.begin(), 0.0f)));
  if (norm > 0.0f) {
    for (size_t i = 0; i < dim; i++) out[i] /= norm;
  }
}

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, int fd, size_t dim)
      : Napi::AsyncWorker(env, "hnswgraph-load"), fd_(fd), graph_(std::make_shared<Graph>(dim)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      graph_->Open(fd_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override;
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  std::shared_ptr<Graph> graph_;
  Napi::Promise::Deferred deferred_;
};

class HnswGraph : public Napi::ObjectWrap<HnswGraph> {
 public:
  static Napi::FunctionReference* constructor;
  static std::shared_ptr<Graph>* pending;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "HnswGraph",
                       {InstanceMethod("search", &HnswGraph::Search), InstanceMethod("markDeleteElement", &HnswGraph::MarkDelete),
                        InstanceMethod("setEf", &HnswGraph::SetEf), InstanceMethod("setSeeds", &HnswGraph::SetSeeds), InstanceMethod("readVectors", &HnswGraph::ReadVectors), InstanceMethod("bytes", &HnswGraph::Bytes), InstanceMethod("firstNonFiniteElement", &HnswGraph::FirstNonFinite), InstanceMethod("getEf", &HnswGraph::GetEf),
                        InstanceMethod("getCurrentCount", &HnswGraph::Count), InstanceMethod("close", &HnswGraph::Close)});
  }

  explicit HnswGraph(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HnswGraph>(info) {
    if (!pending || !*pending) {
      Napi::TypeError::New(info.Env(), "HnswGraph is made by loadHnswGraph").ThrowAsJavaScriptException();
      return;
    }
    graph_ = std::move(*pending);
  }

 private:
  std::shared_ptr<Graph> Live(Napi::Env env) {
    if (!graph_) Napi::Error::New(env, "the graph was closed").ThrowAsJavaScriptException();
    return graph_;
  }

  Napi::Value Search(const Napi::CallbackInfo& info);

  Napi::Value MarkDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto g = Live(env);
    if (!g) return env.Undefined();
    const double d = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && std::floor(d) == d && d < static_cast<double>(g->index->cur_element_count))) {
      Napi::Error::New(env, "no element " + std::to_string(static_cast<long long>(d))).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const auto internal = static_cast<hnswlib::tableint>(d);
    if (g->index->isMarkedDeleted(internal)) {
      Napi::Error::New(env, "the element is already deleted").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    g->index->markDeletedInternal(internal);
    return env.Undefined();
  }

  Napi::Value SetEf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto g = Live(env);
    if (!g) return env.Undefined();
    const double ef = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
    if (!(ef >= 1 && ef <= 1e6)) {
      Napi::TypeError::New(env, "ef must be from 1 to 1e6").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    g->index->setEf(static_cast<size_t>(ef));
    return env.Undefined();
  }

  // readVectors(elements: Int32Array, out: Float32Array): row i of out ← element i's stored vector (-1: left as it is).
  Napi::Value ReadVectors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto g = Live(env);
    if (!g) return env.Undefined();
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Napi::TypeError::New(env, "readVectors(elements: Int32Array, out: Float32Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Int32Array elements = info[0].As<Napi::Int32Array>();
    Napi::Float32Array out = info[1].As<Napi::Float32Array>();
    const size_t n = elements.ElementLength();
    if (out.ElementLength() < n * g->dim) {
      Napi::TypeError::New(env, "out is shorter than elements × dimensions").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const size_t count = g->index->cur_element_count;
    for (size_t i = 0; i < n; i++) {
      const int32_t e = elements[i];
      if (e == -1) continue;
      if (e < 0 || static_cast<size_t>(e) >= count) {
        Napi::Error::New(env, "no element " + std::to_string(e)).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      std::memcpy(out.Data() + i * g->dim, g->index->getDataByInternalId(static_cast<hnswlib::tableint>(e)), g->dim * sizeof(float));
    }
    return env.Undefined();
  }

  // bytes(): the loaded file as a Buffer over the graph's own memory (no copy); the Buffer holds a
  // reference to the graph, so it stays valid after close().
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto g = Live(env);
    if (!g) return env.Undefined();
    auto* hold = new std::shared_ptr<Graph>(g);
    return Napi::Buffer<char>::New(env, g->base, g->length, [](Napi::Env, char*, std::shared_ptr<Graph>* h) { delete h; }, hold);
  }

  Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
    auto g = Live(info.Env());
    return g ? Napi::Number::New(info.Env(), static_cast<double>(g->firstNonFinite)) : info.Env().Undefined();
  }

  Napi::Value SetSeeds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto g = Live(env);
    if (!g) return env.Undefined();
    const double n = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
    if (!(n >= 1 && n <= 4096 && std::floor(n) == n)) {
      Napi::TypeError::New(env, "seeds must be a whole number from 1 to 4096").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    g->seeds = static_cast<size_t>(n);
    return env.Undefined();
  }

  Napi::Value GetEf(const Napi::CallbackInfo& info) {
    auto g = Live(info.Env());
    return g ? Napi::Number::New(info.Env(), static_cast<double>(g->index->ef_)) : info.Env().Undefined();
  }

  Napi::Value Count(const Napi::CallbackInfo& info) {
    auto g = Live(info.Env());
    return g ? Napi::Number::New(info.Env(), static_cast<double>(g->index->cur_element_count)) : info.Env().Undefined();
  }

  // Frees the graph once no search in flight holds it (each holds its own reference).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    graph_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Graph> graph_;
};

Napi::FunctionReference* HnswGraph::constructor = nullptr;
std::shared_ptr<Graph>* HnswGraph::pending = nullptr;

void OpenWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  std::shared_ptr<Graph> g = graph_;
  HnswGraph::pending = &g;
  Napi::Object obj = HnswGraph::constructor->New({});
  HnswGraph::pending = nullptr;
  deferred_.Resolve(obj);
}

class SearchWorker : public Napi::AsyncWorker {
 public:
  SearchWorker(Napi::Env env, std::shared_ptr<Graph> g, std::vector<float> query, size_t k)
      : Napi::AsyncWorker(env, "hnswgraph-search"), graph_(std::move(g)), query_(std::move(query)), k_(k), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      auto result = graph_->Search(query_.data(), k_);
      const size_t n = result.size();
      labels_.resize(n);
      distances_.resize(n);
      // hnswlib gives the farthest first: fill from the back for best first.
      for (size_t i = n; i-- > 0;) {
        distances_[i] = result.top().first;
        labels_[i] = static_cast<int32_t>(result.top().second);
        result.pop();
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    }
    graph_.reset();  // the graph may go now (a close during the search waited for this)
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    Napi::Int32Array labels = Napi::Int32Array::New(env, labels_.size());
    Napi::Float32Array distances = Napi::Float32Array::New(env, distances_.size());
    std::memcpy(labels.Data(), labels_.data(), labels_.size() * sizeof(int32_t));
    std::memcpy(distances.Data(), distances_.data(), distances_.size() * sizeof(float));
    out.Set("neighbors", labels);
    out.Set("distances", distances);
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<Graph> graph_;
  std::vector<float> query_;
  size_t k_;
  std::vector<int32_t> labels_;
  std::vector<float> distances_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value HnswGraph::Search(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = Live(env);
  if (!g) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "search(query: Float32Array, k: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float32Array q = info[0].As<Napi::Float32Array>();
  if (q.ElementLength() != g->dim) {
    Napi::TypeError::New(env, "the query has " + std::to_string(q.ElementLength()) + " dimensions, the graph " + std::to_string(g->dim)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double k = info[1].As<Napi::Number>().DoubleValue();
  if (!(k >= 1 && k <= 1e6 && std::floor(k) == k)) {
    Napi::TypeError::New(env, "k must be a whole number from 1").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<float> query;
  NormalizeInto(q.Data(), g->dim, query);
  auto* worker = new SearchWorker(env, g, std::move(query), static_cast<size_t>(k));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// loadHnswGraph(fd, dim) → Promise<HnswGraph>
Napi::Value LoadHnswGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "loadHnswGraph(fd: number, dim: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double fd = info[0].As<Napi::Number>().DoubleValue();
  if (!(fd >= 0 && fd < 1e9 && std::floor(fd) == fd)) {
    Napi::TypeError::New(env, "fd must be an open file descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double dim = info[1].As<Napi::Number>().DoubleValue();
  if (!(dim >= 1 && dim <= 65536 && std::floor(dim) == dim)) {
    Napi::TypeError::New(env, "dim must be from 1 to 65536").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new OpenWorker(env, static_cast<int>(fd), static_cast<size_t>(dim));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace

void InitGraph(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = HnswGraph::Define(env);
  HnswGraph::constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("loadHnswGraph", Napi::Function::New(env, LoadHnswGraph));
}
