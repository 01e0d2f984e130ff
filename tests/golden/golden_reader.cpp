// The golden file reader (the format: golden_reader.h).
#include "golden_reader.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

namespace nerve::golden {

namespace {

[[noreturn]] void fail(const std::string& path, int line, const std::string& what) {
  throw FormatError(path + ":" + std::to_string(line) + ": " + what);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> tok;
  std::istringstream is(line);
  for (std::string s; is >> s;) tok.push_back(std::move(s));
  return tok;
}

std::optional<DType> dtype_from_name(const std::string& s) {
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8, DType::bf16, DType::f16,
                  DType::i8})
    if (s == dtype_name(d)) return d;
  return std::nullopt;
}

// A whole-token integer, or nullopt.
std::optional<int64_t> to_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

// A whole-token number (Python's repr and %g forms, nan, inf), or nullopt.
std::optional<double> to_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

const std::set<std::string> kTensorTags = {"t", "in", "out", "gout", "grad"};
const std::set<std::string> kListTags = {"param", "keys"};
constexpr int64_t kMaxDims = 16;

GTensor parse_tensor(const std::vector<std::string>& tok, const std::string& path, int ln) {
  // TAG NAME DTYPE NDIM D1 .. Dn V1 .. Vm
  if (tok.size() < 4) fail(path, ln, "tensor record '" + tok[0] + "' needs TAG NAME DTYPE NDIM ..., found " +
                                         std::to_string(tok.size()) + " tokens");
  GTensor t;
  t.tag = tok[0];
  t.name = tok[1];
  t.line = ln;
  auto d = dtype_from_name(tok[2]);
  if (!d) fail(path, ln, "tensor " + t.name + ": unknown dtype '" + tok[2] + "' (expected f32 f64 i64 i32 u8 b8 bf16 f16 i8)");
  t.dtype = *d;
  auto nd = to_int(tok[3]);
  if (!nd || *nd < 0 || *nd > kMaxDims)
    fail(path, ln, "tensor " + t.name + ": NDIM must be an integer in [0, 16], found '" + tok[3] + "'");
  if (tok.size() < 4 + static_cast<size_t>(*nd))
    fail(path, ln, "tensor " + t.name + ": " + std::to_string(*nd) + " dims announced, " +
                       std::to_string(tok.size() - 4) + " tokens follow");
  int64_t n = 1;
  for (int64_t i = 0; i < *nd; ++i) {
    auto s = to_int(tok[4 + i]);
    if (!s || *s < 0 || *s > (int64_t{1} << 31))
      fail(path, ln, "tensor " + t.name + ": dim " + std::to_string(i) + " must be an integer in [0, 2^31], found '" +
                         tok[4 + i] + "'");
    t.shape.push_back(*s);
    n *= *s;
    if (n > (int64_t{1} << 31)) fail(path, ln, "tensor " + t.name + ": more than 2^31 elements");
  }
  const size_t first = 4 + static_cast<size_t>(*nd);
  if (static_cast<int64_t>(tok.size() - first) != n)
    fail(path, ln, "tensor " + t.name + " of shape " + to_string(t.shape) + ": expected " + std::to_string(n) +
                       " values, found " + std::to_string(tok.size() - first));
  t.values.reserve(static_cast<size_t>(n));
  for (size_t i = first; i < tok.size(); ++i) {
    auto v = to_double(tok[i]);
    if (!v) fail(path, ln, "tensor " + t.name + ": value " + std::to_string(i - first) + " is not a number: '" + tok[i] + "'");
    t.values.push_back(*v);
  }
  return t;
}

GList parse_list(const std::vector<std::string>& tok, const std::string& path, int ln) {
  // TAG NAME N S1 .. SN
  if (tok.size() < 3) fail(path, ln, "list record '" + tok[0] + "' needs TAG NAME N ..., found " +
                                         std::to_string(tok.size()) + " tokens");
  GList l;
  l.tag = tok[0];
  l.name = tok[1];
  l.line = ln;
  auto n = to_int(tok[2]);
  if (!n || *n < 0) fail(path, ln, "list " + l.name + ": N must be a count, found '" + tok[2] + "'");
  if (static_cast<int64_t>(tok.size() - 3) != *n)
    fail(path, ln, "list " + l.name + ": expected " + std::to_string(*n) + " items, found " +
                       std::to_string(tok.size() - 3));
  l.items.assign(tok.begin() + 3, tok.end());
  return l;
}

}  // namespace

// ------------------------------------------------------------------ GTensor
Tensor GTensor::tensor(std::optional<DType> d) const {
  DeviceGuard cpu(Device::cpu);  // golden values live on the cpu, also under a test's DeviceGuard(meta)
  const DType dt = d.value_or(dtype);
  if (is_storage_only(dt)) return GTensor{tag, name, DType::f64, shape, values, line}.tensor(DType::f64).to(dt);
  Tensor t = empty(shape, dt);
  visit_dtype(dt, [&](auto tag_) {
    using T = decltype(tag_);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

// ------------------------------------------------------------------ Case
bool Case::has(const std::string& n, const std::string& tag) const { return tindex_.count({tag, n}) != 0; }
bool Case::has_list(const std::string& n, const std::string& tag) const { return lindex_.count({tag, n}) != 0; }

const GTensor& Case::at(const std::string& n, const std::string& tag) const {
  auto it = tindex_.find({tag, n});
  NERVE_CHECK(it != tindex_.end(), "golden: ", file, name.empty() ? std::string() : " case " + name,
              " has no tensor record '", tag, " ", n, "'");
  return tensors[it->second];
}

const GList& Case::list(const std::string& n, const std::string& tag) const {
  auto it = lindex_.find({tag, n});
  NERVE_CHECK(it != lindex_.end(), "golden: ", file, name.empty() ? std::string() : " case " + name,
              " has no list record '", tag, " ", n, "'");
  return lists[it->second];
}

int64_t Case::num(const std::string& key, int64_t def) const {
  auto it = kv.find(key);
  if (it == kv.end()) return def;
  auto v = to_int(it->second);
  NERVE_CHECK(v.has_value(), "golden: ", file, ":", line, ": case ", name, ": ", key, "=", it->second,
              " is not an integer");
  return *v;
}

std::string Case::str(const std::string& key, const std::string& def) const {
  auto it = kv.find(key);
  return it == kv.end() ? def : it->second;
}

// ------------------------------------------------------------------ File
File File::parse(std::istream& in, const std::string& path) {
  File f;
  f.path = path;
  f.top.file = path;
  Case* cur = &f.top;
  bool open = false;
  std::string line;
  int ln = 0;
  auto add_tensor = [&](GTensor t) {
    if (!cur->tindex_.emplace(std::make_pair(t.tag, t.name), cur->tensors.size()).second)
      fail(path, t.line, "duplicate tensor record '" + t.tag + " " + t.name + "'" +
                             (open ? " in case " + cur->name : std::string()));
    cur->tensors.push_back(std::move(t));
  };
  auto add_list = [&](GList l) {
    if (!cur->lindex_.emplace(std::make_pair(l.tag, l.name), cur->lists.size()).second)
      fail(path, l.line, "duplicate list record '" + l.tag + " " + l.name + "'" +
                             (open ? " in case " + cur->name : std::string()));
    cur->lists.push_back(std::move(l));
  };
  while (std::getline(in, line)) {
    ++ln;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> tok = split(line);
    if (tok.empty() || tok[0][0] == '#') continue;
    const std::string& tag = tok[0];
    if (tag == "case") {
      if (open) fail(path, ln, "case inside case " + cur->name + " (line " + std::to_string(cur->line) + "): missing end");
      if (tok.size() < 3) fail(path, ln, "case needs NAME KIND, found " + std::to_string(tok.size() - 1) + " tokens");
      Case c;
      c.file = path;
      c.name = tok[1];
      c.kind = tok[2];
      c.line = ln;
      for (size_t i = 3; i < tok.size(); ++i) {
        auto eq = tok[i].find('=');
        if (eq == std::string::npos || eq == 0)
          fail(path, ln, "case " + c.name + ": expected KEY=VALUE, found '" + tok[i] + "'");
        if (!c.kv.emplace(tok[i].substr(0, eq), tok[i].substr(eq + 1)).second)
          fail(path, ln, "case " + c.name + ": key " + tok[i].substr(0, eq) + " given twice");
      }
      for (const Case& o : f.cases)
        if (o.name == c.name) fail(path, ln, "duplicate case name " + c.name + " (first at line " + std::to_string(o.line) + ")");
      f.cases.push_back(std::move(c));
      cur = &f.cases.back();
      open = true;
    } else if (tag == "end") {
      if (!open) fail(path, ln, "end outside a case");
      if (tok.size() != 1) fail(path, ln, "end takes no arguments");
      cur = &f.top;
      open = false;
    } else if (kTensorTags.count(tag)) {
      add_tensor(parse_tensor(tok, path, ln));
    } else if (kListTags.count(tag)) {
      add_list(parse_list(tok, path, ln));
    } else {
      fail(path, ln, "unknown record '" + tag + "' (expected case, end, t, in, out, gout, grad, param or keys)");
    }
  }
  if (open) fail(path, ln, "case " + cur->name + " (line " + std::to_string(cur->line) + ") has no end");
  return f;
}

File File::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FormatError(path + ": cannot open the golden file");
  return parse(in, path);
}

const File& File::cached(const std::string& rel) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<File>> files;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = files[rel];
  if (!slot) slot = std::make_unique<File>(read(std::string(NERVE_TEST_DATA_DIR) + "/" + rel));
  return *slot;
}

}  // namespace nerve::golden

namespace nerve::testing {

::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(a.shape()) << " != " << to_string(b.shape());
  auto va = a.to(DType::f64).to_vector<double>(), vb = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    bool both_inf = std::isinf(va[i]) && va[i] == vb[i];
    if (!both_inf && !(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << va[i] << " vs expected " << vb[i] << " (diff " << va[i] - vb[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace nerve::testing
