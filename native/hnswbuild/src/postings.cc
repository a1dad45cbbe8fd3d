// searchPostings: the keyword engine's MaxScore loop (src/search/postings/engine.ts, searchSegment)
// run on a libuv thread, so a question's keyword search runs beside its dense search instead of on
// the JavaScript thread, and in compiled code (~3× faster here on the 1M scale rows' slow questions).
//
// The caller (PostingsIndex.queryAsync) does everything else: analysing the question, typo
// expansion, idf, each term's upper bound. This file only walks the postings, with the very same
// arithmetic in the very same order (doubles, no fused multiply-adds: the pragma below), so its
// scores equal the JavaScript engine's bit for bit and ties break the same way (a test checks it).
// The typed arrays are held by reference until the search is done; the caller must not change them
// meanwhile (segments are immutable; an index with a search in flight refuses deletions).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace {

constexpr double kPruneSlack = 1 + 1e-9;  // engine.ts PRUNE_SLACK

struct Cursor {
  double pos, end, scale, ub;
  int32_t group;
};

struct SegmentInput {
  const uint32_t* docs;
  size_t docsLength;
  const uint8_t* tfs;
  const uint32_t* labels;
  size_t docCount;
  const double* norm;
  const uint8_t* deleted;  // a bit per doc, or null
  std::vector<Cursor> cursors;
};

// The k best (score, label, matched): higher score first, lower label on ties (engine.ts TopK).
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  double Threshold() const { return heap_.size() < k_ ? -std::numeric_limits<double>::infinity() : heap_[0].score; }
  bool Offer(double score, double label, int32_t matched) {
    if (heap_.size() == k_) {
      const Entry& w = heap_[0];
      if (score < w.score || (score == w.score && label > w.label)) return false;
      heap_[0] = {score, label, matched};
      Down(0);
      return true;
    }
    heap_.push_back({score, label, matched});
    Up(heap_.size() - 1);
    return true;
  }
  struct Entry {
    double score, label;
    int32_t matched;
  };
  std::vector<Entry> Sorted() const {
    std::vector<Entry> out = heap_;
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.score > b.score || (a.score == b.score && a.label < b.label); });
    return out;
  }

 private:
  bool Worse(size_t i, size_t j) const {
    const Entry& a = heap_[i];
    const Entry& b = heap_[j];
    return a.score < b.score || (a.score == b.score && a.label > b.label);
  }
  void Up(size_t i) {
    while (i > 0) {
      const size_t p = (i - 1) >> 1;
      if (!Worse(i, p)) break;
      std::swap(heap_[i], heap_[p]);
      i = p;
    }
  }
  void Down(size_t i) {
    for (;;) {
      const size_t l = 2 * i + 1, r = l + 1;
      size_t w = i;
      if (l < heap_.size() && Worse(l, w)) w = l;
      if (r < heap_.size() && Worse(r, w)) w = r;
      if (w == i) return;
      std::swap(heap_[i], heap_[w]);
      i = w;
    }
  }
  size_t k_;
  std::vector<Entry> heap_;
};

// First position in docs[pos, end) holding a doc ≥ target (galloping, then binary search).
size_t Advance(const uint32_t* docs, size_t pos, size_t end, uint32_t target) {
  if (pos >= end || docs[pos] >= target) return pos;
  size_t lo = pos, step = 1;
  while (lo + step < end && docs[lo + step] < target) {
    lo += step;
    step *= 2;
  }
  size_t hi = std::min(lo + step, end);
  lo++;
  while (lo < hi) {
    const size_t mid = (lo + hi) >> 1;
    if (docs[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

struct Query {
  size_t groupCount;
  bool coordination;
  double delta, k1p1;
};

// engine.ts searchSegment, line for line.
void SearchSegment(const SegmentInput& s, const Query& q, TopK& top) {
  const size_t m = s.cursors.size();
  if (m == 0) return;
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.cursors[a].ub < s.cursors[b].ub || (s.cursors[a].ub == s.cursors[b].ub && a < b); });
  std::vector<size_t> pos(m), end(m);
  std::vector<double> scale(m), prefixUb(m + 1, 0.0);
  std::vector<int32_t> group(m), prefixGroups(m + 1, 0);
  std::vector<char> seen(q.groupCount + 1, 0);
  int32_t distinct = 0;
  for (size_t i = 0; i < m; i++) {
    const Cursor& c = s.cursors[order[i]];
    pos[i] = static_cast<size_t>(c.pos);
    end[i] = static_cast<size_t>(c.end);
    scale[i] = c.scale;
    group[i] = c.group;
    prefixUb[i + 1] = prefixUb[i] + c.ub;
    if (!seen[c.group]) {
      seen[c.group] = 1;
      distinct++;
    }
    prefixGroups[i + 1] = distinct;
  }
  const auto bound = [&](double sum, int32_t groups) {
    return (q.coordination ? sum * std::min<double>(groups, static_cast<double>(q.groupCount)) : sum) * kPruneSlack;
  };
  double theta = top.Threshold();
  size_t e = 0;
  const auto raise = [&]() {
    while (e < m && bound(prefixUb[e + 1], prefixGroups[e + 1]) < theta) e++;
  };
  raise();
  std::vector<double> contrib(m, 0.0);
  std::vector<int32_t> groupMark(q.groupCount, -1);
  const uint32_t* docs = s.docs;
  const uint8_t* tfs = s.tfs;
  while (e < m) {
    uint32_t d = 0xffffffffu;
    for (size_t i = e; i < m; i++)
      if (pos[i] < end[i] && docs[pos[i]] < d) d = docs[pos[i]];
    if (d == 0xffffffffu) break;
    double sum = 0;
    int32_t matched = 0;
    std::fill(contrib.begin(), contrib.end(), 0.0);
    const double nd = s.norm[d];
    // Cursor i is on doc d: its term's contribution (BM25+ of its tf), and its group counted once.
    const auto take = [&](size_t i) {
      const double tf = tfs[pos[i]];
      const double v = scale[i] * (q.delta + (tf * q.k1p1) / (tf + nd));
      contrib[order[i]] = v;
      sum += v;
      if (groupMark[group[i]] != static_cast<int32_t>(d)) {
        groupMark[group[i]] = static_cast<int32_t>(d);
        matched++;
      }
    };
    for (size_t i = e; i < m; i++) {
      if (pos[i] < end[i] && docs[pos[i]] == d) {
        take(i);
        pos[i]++;
      }
    }
    if (s.deleted && (s.deleted[d >> 3] & (1u << (d & 7)))) continue;
    bool pruned = false;
    for (size_t i = e; i-- > 0;) {
      if (bound(sum + prefixUb[i + 1], matched + prefixGroups[i + 1]) < theta) {
        pruned = true;
        break;
      }
      pos[i] = Advance(docs, pos[i], end[i], d);
      if (pos[i] < end[i] && docs[pos[i]] == d) take(i);
    }
    if (pruned) continue;
    // Summed in canonical order, as the JavaScript engine sums.
    double score = 0;
    for (size_t ci = 0; ci < m; ci++) score += contrib[ci];
    if (q.coordination) score *= matched;
    if (top.Offer(score, s.labels[d], matched)) {
      const double next = top.Threshold();
      if (next > theta) {
        theta = next;
        raise();
      }
    }
  }
}

class SearchWorker : public Napi::AsyncWorker {
 public:
  SearchWorker(Napi::Env env, std::vector<SegmentInput> segments, std::vector<Napi::ObjectReference> held, Query q, size_t k)
      : Napi::AsyncWorker(env, "postings-search"), segments_(std::move(segments)), held_(std::move(held)), q_(q), k_(k), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    // Every posting a cursor covers must name a doc of its segment (the JavaScript engine would read
    // undefined; this must not read out of bounds at all): checked here, off the event loop.
    for (const auto& s : segments_)
      for (const auto& c : s.cursors)
        for (size_t p = static_cast<size_t>(c.pos); p < static_cast<size_t>(c.end); p++)
          if (s.docs[p] >= s.docCount) return SetError("a posting names a doc beyond its segment");
    TopK top(k_);
    for (const auto& s : segments_) SearchSegment(s, q_, top);
    result_ = top.Sorted();
  }
  void OnOK() override {
    Napi::Env env = Env();
    const size_t n = result_.size();
    Napi::Float64Array labels = Napi::Float64Array::New(env, n);
    Napi::Float64Array scores = Napi::Float64Array::New(env, n);
    Napi::Int32Array matched = Napi::Int32Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      labels[i] = result_[i].label;
      scores[i] = result_[i].score;
      matched[i] = result_[i].matched;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("labels", labels);
    out.Set("scores", scores);
    out.Set("matched", matched);
    held_.clear();
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override {
    held_.clear();
    deferred_.Reject(e.Value());
  }

 private:
  std::vector<SegmentInput> segments_;
  std::vector<Napi::ObjectReference> held_;
  Query q_;
  size_t k_;
  std::vector<TopK::Entry> result_;
  Napi::Promise::Deferred deferred_;
};

template <typename T>
bool TypedArrayOf(const Napi::Value& v, napi_typedarray_type type, T& out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) return false;
  out = v.As<T>();
  return true;
}

// searchPostings(segments, { groupCount, coordination, delta, k1p1, k }) → Promise<{ labels, scores, matched }>
// segments[i]: { docs: Uint32Array, tfs: Uint8Array, labels: Uint32Array, norms: Float64Array,
//                deleted?: Uint8Array, cursors: Float64Array (pos, end, scale, ub, group per term, in canonical order) }
Napi::Value SearchPostings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto fail = [&](const std::string& msg) {
    Napi::TypeError::New(env, "searchPostings: " + msg).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject()) return fail("(segments: object[], query: object)");
  Napi::Object qo = info[1].As<Napi::Object>();
  const auto num = [&](const char* key) { return qo.Get(key).IsNumber() ? qo.Get(key).As<Napi::Number>().DoubleValue() : std::nan(""); };
  const double groupCount = num("groupCount"), delta = num("delta"), k1p1 = num("k1p1"), k = num("k");
  if (!(groupCount >= 0 && groupCount < 1e6 && std::floor(groupCount) == groupCount)) return fail("groupCount");
  if (!(k >= 1 && k <= 1e6 && std::floor(k) == k)) return fail("k must be a whole number from 1");
  if (!std::isfinite(delta) || !std::isfinite(k1p1)) return fail("delta and k1p1");
  Query q{static_cast<size_t>(groupCount), qo.Get("coordination").ToBoolean().Value(), delta, k1p1};
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<SegmentInput> segments;
  std::vector<Napi::ObjectReference> held;
  for (uint32_t si = 0; si < arr.Length(); si++) {
    if (!arr.Get(si).IsObject()) return fail("a segment is not an object");
    Napi::Object so = arr.Get(si).As<Napi::Object>();
    Napi::Uint32Array docs, labels;
    Napi::Uint8Array tfs, deleted;
    Napi::Float64Array norms, cursors;
    if (!TypedArrayOf(so.Get("docs"), napi_uint32_array, docs) || !TypedArrayOf(so.Get("tfs"), napi_uint8_array, tfs) ||
        !TypedArrayOf(so.Get("labels"), napi_uint32_array, labels) || !TypedArrayOf(so.Get("norms"), napi_float64_array, norms) ||
        !TypedArrayOf(so.Get("cursors"), napi_float64_array, cursors))
      return fail("segment " + std::to_string(si) + " needs docs, tfs, labels (Uint32Array, Uint8Array, Uint32Array), norms and cursors (Float64Array)");
    const bool hasDeleted = !so.Get("deleted").IsUndefined();
    if (hasDeleted && !TypedArrayOf(so.Get("deleted"), napi_uint8_array, deleted)) return fail("deleted must be a Uint8Array");
    const size_t docCount = labels.ElementLength();
    if (tfs.ElementLength() != docs.ElementLength() || norms.ElementLength() != docCount || (hasDeleted && deleted.ElementLength() * 8 < docCount) ||
        cursors.ElementLength() % 5 != 0)
      return fail("segment " + std::to_string(si) + "'s arrays do not fit together");
    SegmentInput s{docs.Data(), docs.ElementLength(), tfs.Data(), labels.Data(), docCount, norms.Data(), hasDeleted ? deleted.Data() : nullptr, {}};
    for (size_t c = 0; c < cursors.ElementLength(); c += 5) {
      const double pos = cursors[c], end = cursors[c + 1], group = cursors[c + 4];
      if (!(pos >= 0 && pos <= end && end <= static_cast<double>(docs.ElementLength()) && std::floor(pos) == pos && std::floor(end) == end))
        return fail("a cursor lies outside the postings");
      if (!(group >= 0 && group < groupCount && std::floor(group) == group)) return fail("a cursor's group is out of range");
      s.cursors.push_back({pos, end, cursors[c + 2], cursors[c + 3], static_cast<int32_t>(group)});
    }
    segments.push_back(std::move(s));
    for (const Napi::Value v : {so.Get("docs"), so.Get("tfs"), so.Get("labels"), so.Get("norms")}) held.push_back(Napi::Persistent(v.As<Napi::Object>()));
    if (hasDeleted) held.push_back(Napi::Persistent(so.Get("deleted").As<Napi::Object>()));
  }
  auto* worker = new SearchWorker(env, std::move(segments), std::move(held), q, static_cast<size_t>(k));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace

void InitPostings(Napi::Env env, Napi::Object exports) { exports.Set("searchPostings", Napi::Function::New(env, SearchPostings)); }
