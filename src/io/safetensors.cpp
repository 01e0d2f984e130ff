// safetensors reader and writer. The reader checks every claim of the header against the real size of the file
// before it touches the data, so a hostile file can make it throw but never read out of bounds or allocate what
// the file merely claims.
#include "nerve/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "core/file_util.h"
#include "io/mapped_file.h"
#include "nerve/autograd/grad_mode.h"

namespace nerve::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

using Json = nlohmann::ordered_json;
constexpr uint64_t kMaxHeader = 100'000'000;  // the limit of the reference implementation
constexpr int kMaxDepth = 8;                  // a header nests 3 deep: {name: {shape: [..]}}

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {{DType::f64, "F64"}, {DType::f32, "F32"},   {DType::bf16, "BF16"},
                                 {DType::f16, "F16"}, {DType::i64, "I64"},   {DType::i32, "I32"},
                                 {DType::i8, "I8"},   {DType::u8, "U8"},     {DType::b8, "BOOL"}};

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDTypes) s += std::string(s.empty() ? "" : ", ") + d.name;
  return s;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// "<file>: tensor '<name>': " prefix of the reader's errors
std::string where(const std::string& file, const std::string& tensor) {
  return "load_safetensors: " + file + ": tensor '" + tensor + "': ";
}

Entry parse_entry(const std::string& file, const std::string& name, const Json& v, uint64_t header_end) {
  const std::string at = where(file, name);
  const std::string hdr = " (in the header, bytes 8.." + std::to_string(header_end) + ")";
  NERVE_CHECK(v.is_object(), at, "expected an object {dtype, shape, data_offsets}, got ", v.type_name(), hdr);
  auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
  NERVE_CHECK(dt != v.end() && dt->is_string(), at, "missing or non-string \"dtype\"", hdr);
  NERVE_CHECK(sh != v.end() && sh->is_array(), at, "missing or non-array \"shape\"", hdr);
  NERVE_CHECK(off != v.end() && off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
                  (*off)[1].is_number_unsigned(),
              at, "\"data_offsets\" must be two non-negative integers [begin, end]", hdr);
  Entry e{name, DType::f32, {}, (*off)[0].get<uint64_t>(), (*off)[1].get<uint64_t>()};
  const std::string dname = dt->get<std::string>();
  const DTypeName* found = nullptr;
  for (const auto& d : kDTypes)
    if (dname == d.name) found = &d;
  NERVE_CHECK(found, at, "unknown or unsupported dtype '", dname, "' (nerve reads ", known_dtypes(), ")", hdr);
  e.dtype = found->dtype;
  uint64_t n = 1;
  for (const auto& d : *sh) {
    NERVE_CHECK(d.is_number_unsigned(), at, "shape entries must be non-negative integers, got ", d.dump(), hdr);
    uint64_t k = d.get<uint64_t>();
    NERVE_CHECK(k <= uint64_t{INT64_MAX} && !__builtin_mul_overflow(n, k, &n) && n <= uint64_t{INT64_MAX}, at,
                "the element count of shape ", sh->dump(), " overflows 64 bits", hdr);
    e.shape.push_back(static_cast<int64_t>(k));
  }
  uint64_t bytes = 0;
  NERVE_CHECK(!__builtin_mul_overflow(n, itemsize(e.dtype), &bytes), at, "the byte size of shape ", sh->dump(),
              " overflows 64 bits", hdr);
  NERVE_CHECK(e.begin <= e.end, at, "data_offsets [", e.begin, ", ", e.end, "] end before they begin", hdr);
  NERVE_CHECK(e.end - e.begin == bytes, at, "data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
              " bytes, shape ", sh->dump(), " ", dname, " needs ", bytes, hdr);
  return e;
}

// Throws from the JSON parser's callback when the header nests deeper than a header can.
struct TooDeep {};

SafetensorsFile parse(const uint8_t* data, size_t size, const std::string& file,
                      const std::shared_ptr<detail::MappedFile>& owner) {
  NERVE_CHECK(size >= 8, "load_safetensors: ", file, ": truncated: ", size,
              " bytes, fewer than the 8-byte header length");
  const uint64_t n = read_u64_le(data);
  NERVE_CHECK(n <= size - 8, "load_safetensors: ", file, ": header length ", n, " (at byte 0) runs past the end of the ",
              size, "-byte file (truncated, or not a safetensors file)");
  NERVE_CHECK(n <= kMaxHeader, "load_safetensors: ", file, ": header length ", n, " is over the limit of ", kMaxHeader);
  const uint64_t header_end = 8 + n, data_size = size - header_end;
  Json root;
  try {
    int depth_seen = 0;
    root = Json::parse(data + 8, data + header_end, [&](int depth, Json::parse_event_t, Json&) {
      depth_seen = depth;
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    NERVE_CHECK(false, "load_safetensors: ", file, ": the JSON header nests deeper than ", kMaxDepth, " levels");
  } catch (const Json::parse_error& e) {
    NERVE_CHECK(false, "load_safetensors: ", file, ": bad JSON header at byte ", 8 + (e.byte ? e.byte - 1 : 0), ": ",
                e.what());
  } catch (const Json::exception& e) {  // e.g. out_of_range: a number too large for a double (found by fuzzing)
    NERVE_CHECK(false, "load_safetensors: ", file, ": bad JSON header (bytes 8..", header_end, "): ", e.what());
  }
  NERVE_CHECK(root.is_object(), "load_safetensors: ", file, ": the header (bytes 8..", header_end,
              ") must be a JSON object, got ", root.type_name());

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, v] : root.items()) {
    if (key == "__metadata__") {
      NERVE_CHECK(v.is_object(), "load_safetensors: ", file, ": \"__metadata__\" must be an object of strings");
      for (const auto& [mk, mv] : v.items()) {
        NERVE_CHECK(mv.is_string(), "load_safetensors: ", file, ": \"__metadata__\" entry '", mk,
                    "' is not a string: ", mv.dump());
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(file, key, v, header_end));
  }

  // the data must be covered exactly once, in order of the offsets: no overlap, no gap, nothing outside
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(entries[a].begin, entries[a].end) < std::tie(entries[b].begin, entries[b].end);
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (size_t i : order) {
    const Entry& e = entries[i];
    const std::string at = where(file, e.name);
    NERVE_CHECK(e.end <= data_size, at, "data_offsets [", e.begin, ", ", e.end, "] point outside the ", data_size,
                " bytes of data (file byte ", header_end + e.end, " > file size ", size, "; truncated?)");
    NERVE_CHECK(e.begin >= covered, at, "data_offsets [", e.begin, ", ", e.end, "] overlap tensor '", prev->name,
                "' [", prev->begin, ", ", prev->end, "] (at file byte ", header_end + e.begin, ")");
    NERVE_CHECK(e.begin == covered, at, "a gap of ", e.begin - covered, " bytes before its data (file bytes ",
                header_end + covered, "..", header_end + e.begin, " belong to no tensor)");
    covered = e.end;
    prev = &e;
  }
  NERVE_CHECK(covered == data_size, "load_safetensors: ", file, ": ", data_size - covered,
              " bytes after the last tensor's data (file bytes ", header_end + covered, "..", size,
              " belong to no tensor)");

  for (const Entry& e : entries) {
    const uint8_t* p = data + header_end + e.begin;
    const size_t bytes = e.end - e.begin;
    if (e.dtype == DType::b8)
      for (size_t k = 0; k < bytes; ++k)
        NERVE_CHECK(p[k] <= 1, where(file, e.name), "BOOL byte ", static_cast<int>(p[k]), " at file byte ",
                    header_end + e.begin + k, " is neither 0 nor 1");
    Tensor t;
    if (owner && bytes > 0 && reinterpret_cast<uintptr_t>(p) % itemsize(e.dtype) == 0) {
      auto impl = std::make_shared<TensorImpl>();
      impl->storage = std::make_shared<Storage>(const_cast<uint8_t*>(p), bytes, [owner](void*) {});
      impl->shape = e.shape;
      impl->strides = contiguous_strides(e.shape);
      impl->dtype = e.dtype;
      t = Tensor(std::move(impl));
    } else {
      t = empty(e.shape, e.dtype);
      if (bytes) std::memcpy(t.raw_data(), p, bytes);
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

const char* safetensors_dtype_name(DType d) {
  for (const auto& x : kDTypes)
    if (x.dtype == d) return x.name;
  return "?";
}

namespace {
// The whole file in one buffer, left uninitialized until written (a 400 MB std::vector would be zeroed first).
struct Serialized {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
};

Serialized serialize(const nn::StateDict& tensors, const Metadata& metadata) {
  NoGradGuard no_grad;
  std::set<std::string> names;
  std::vector<Tensor> contig;
  for (const auto& [name, t] : tensors) {
    NERVE_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    NERVE_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is reserved, not a tensor name");
    NERVE_CHECK(names.insert(name).second, "save_safetensors: tensor name '", name, "' appears twice");
    contig.push_back(t.contiguous());
  }
  // data by decreasing item size (stable), so each tensor sits at a multiple of its item size
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return itemsize(contig[a].dtype()) > itemsize(contig[b].dtype()); });
  std::vector<uint64_t> begin(tensors.size());
  uint64_t total = 0;
  for (size_t i : order) {
    begin[i] = total;
    total += static_cast<uint64_t>(contig[i].numel()) * itemsize(contig[i].dtype());
  }
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = contig[i];
    header[tensors[i].first] = {
        {"dtype", safetensors_dtype_name(t.dtype())},
        {"shape", t.shape()},
        {"data_offsets", {begin[i], begin[i] + static_cast<uint64_t>(t.numel()) * itemsize(t.dtype())}}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    NERVE_CHECK(false, "save_safetensors: a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-aligned
  Serialized out{std::unique_ptr<uint8_t[]>(new uint8_t[8 + text.size() + total]), 8 + text.size() + total};
  const uint64_t n = text.size();
  std::memcpy(out.data.get(), &n, 8);
  std::memcpy(out.data.get() + 8, text.data(), text.size());
  uint8_t* d = out.data.get() + 8 + text.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t bytes = static_cast<size_t>(contig[i].numel()) * itemsize(contig[i].dtype());
    if (bytes) std::memcpy(d + begin[i], contig[i].raw_data(), bytes);
  }
  return out;
}
}  // namespace

std::vector<uint8_t> safetensors_bytes(const nn::StateDict& tensors, const Metadata& metadata) {
  Serialized s = serialize(tensors, metadata);
  return std::vector<uint8_t>(s.data.get(), s.data.get() + s.size);
}

void save_safetensors(const nn::StateDict& tensors, const std::string& path, const Metadata& metadata) {
  Serialized bytes = serialize(tensors, metadata);
  nerve::detail::write_file_atomic(path, {bytes.data.get(), bytes.size}, "save_safetensors");
}

SafetensorsFile read_safetensors(const std::string& path) {
  auto m = detail::MappedFile::open(path, "load_safetensors");
  return parse(m->data(), m->size(), path, m);
}

nn::StateDict load_safetensors(const std::string& path) { return read_safetensors(path).tensors; }

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name) {
  return parse(bytes.data(), bytes.size(), name, nullptr);
}

}  // namespace nerve::io
