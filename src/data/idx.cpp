// IDX reader and writer: header validation (magic, type byte, dims, overflow), exact data length, big-endian
// conversion, gzip via zlib's inflate with the output bounded by what the header promises.
#include "nerve/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <optional>

#include "core/file_util.h"

namespace nerve::data {

namespace {

struct IdxType {
  uint8_t code;
  const char* name;
  size_t size;  // bytes per element in the file
  DType dtype;  // dtype of the tensor it becomes
};
constexpr IdxType kTypes[] = {{0x08, "u8", 1, DType::u8},   {0x09, "i8", 1, DType::i32},  {0x0B, "i16", 2, DType::i32},
                              {0x0C, "i32", 4, DType::i32}, {0x0D, "f32", 4, DType::f32}, {0x0E, "f64", 8, DType::f64}};
constexpr uint64_t kMaxBytes = uint64_t{1} << 62;
constexpr const char* kTypeList = "0x08 (u8), 0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32), 0x0E (f64)";

struct IdxHeader {
  const IdxType* type;
  Shape shape;
  size_t header_bytes;
  uint64_t data_bytes;
  size_t total() const { return header_bytes + data_bytes; }
};

std::string hex(uint64_t v, int digits) {
  static const char* d = "0123456789ABCDEF";
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += d[(v >> (4 * i)) & 0xF];
  return s;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string describe(const IdxHeader& h) {
  return ::nerve::detail::str_cat("shape ", to_string(h.shape), ", type ", hex(h.type->code, 2), " ", h.type->name);
}

// Checks as much of the header as `b` holds; returns it once complete, nullopt while more bytes are needed.
std::optional<IdxHeader> try_parse_header(std::span<const uint8_t> b, std::string_view name) {
  if (b.size() >= 2)
    NERVE_CHECK(b[0] == 0 && b[1] == 0, "idx: ", name, ": wrong magic ", hex(b[0], 2), " ", hex(b[1], 2),
                " at byte 0, expected 0x00 0x00 then a type byte and the number of dims (not an IDX file?)");
  const IdxType* type = nullptr;
  if (b.size() >= 3) {
    for (const IdxType& t : kTypes)
      if (t.code == b[2]) type = &t;
    NERVE_CHECK(type != nullptr, "idx: ", name, ": unknown data type byte ", hex(b[2], 2),
                " at byte 2, expected one of ", kTypeList);
  }
  if (b.size() < 4) return std::nullopt;
  int ndims = b[3];
  NERVE_CHECK(ndims >= 1 && ndims <= kIdxMaxDims, "idx: ", name, ": ", ndims, " dims at byte 3, expected 1 to ",
              kIdxMaxDims);
  size_t header_bytes = 4 + 4 * static_cast<size_t>(ndims);
  if (b.size() < header_bytes) return std::nullopt;
  IdxHeader h{type, Shape(ndims), header_bytes, type->size};
  // The product of the nonzero dims is bounded too: strides of an empty tensor use it.
  uint64_t bound = type->size;
  for (int i = 0; i < ndims; ++i) {
    uint32_t d = load_be32(&b[4 + 4 * i]);
    h.shape[i] = d;
    h.data_bytes *= d;
    NERVE_CHECK(!__builtin_mul_overflow(bound, uint64_t{d > 0 ? d : 1}, &bound) && bound <= kMaxBytes, "idx: ", name,
                ": dims ", to_string(Shape(h.shape.begin(), h.shape.begin() + i + 1)), " (up to byte ", 8 + 4 * i,
                ") multiply to more than 2^62 bytes (corrupt or hostile header)");
  }
  return h;
}

IdxHeader parse_header(std::span<const uint8_t> b, std::string_view name) {
  std::optional<IdxHeader> h = try_parse_header(b, name);
  if (!h) {
    size_t need = b.size() < 4 ? 4 : 4 + 4 * static_cast<size_t>(b[3]);
    NERVE_CHECK(false, "idx: ", name, ": truncated at byte ", b.size(), ", expected a header of ", need, " bytes");
  }
  return *h;
}

template <class T, size_t N>
T load_be(const uint8_t* p) {
  uint8_t tmp[N];
  if constexpr (std::endian::native == std::endian::little)
    for (size_t i = 0; i < N; ++i) tmp[i] = p[N - 1 - i];
  else
    std::memcpy(tmp, p, N);
  T v;
  std::memcpy(&v, tmp, N);
  return v;
}

// The tensor behind a complete, exactly sized IDX image in `b`.
Tensor parse_idx(std::span<const uint8_t> b, std::string_view name) {
  IdxHeader h = parse_header(b, name);
  size_t have = b.size() - h.header_bytes;
  NERVE_CHECK(have >= h.data_bytes, "idx: ", name, ": truncated at byte ", b.size(), ", header promises ", h.data_bytes,
              " bytes of data (", describe(h), "), found ", have);
  NERVE_CHECK(have == h.data_bytes, "idx: ", name, ": trailing bytes after byte ", h.total(), ", header promises ",
              h.data_bytes, " bytes of data (", describe(h), ")");
  Tensor t = empty(h.shape, h.type->dtype);
  const uint8_t* src = b.data() + h.header_bytes;
  int64_t n = t.numel();
  switch (h.type->code) {
    case 0x08: std::memcpy(t.raw_data(), src, static_cast<size_t>(n)); break;
    case 0x09: {
      int32_t* out = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int8_t>(src[i]);
      break;
    }
    case 0x0B: {
      int32_t* out = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = load_be<int16_t, 2>(src + 2 * i);
      break;
    }
    case 0x0C: {
      int32_t* out = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = load_be<int32_t, 4>(src + 4 * i);
      break;
    }
    case 0x0D: {
      float* out = t.data<float>();
      for (int64_t i = 0; i < n; ++i) out[i] = load_be<float, 4>(src + 4 * i);
      break;
    }
    case 0x0E: {
      double* out = t.data<double>();
      for (int64_t i = 0; i < n; ++i) out[i] = load_be<double, 8>(src + 8 * i);
      break;
    }
  }
  return t;
}

struct Inflater {
  z_stream zs{};
  Inflater() { NERVE_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "idx: zlib inflateInit2 failed"); }
  ~Inflater() { inflateEnd(&zs); }
};

// Decompresses a gzip stream (concatenated members allowed). Output stops one byte past what the IDX header
// promises, so a small hostile file cannot make it allocate more than its real content. `complete` tells
// whether the stream ended properly.
std::vector<uint8_t> gunzip(std::span<const uint8_t> in, std::string_view name, bool& complete) {
  Inflater inf;
  z_stream& zs = inf.zs;
  std::vector<uint8_t> out;
  std::optional<IdxHeader> header;
  size_t limit = 4 + 4 * kIdxMaxDims;  // until the header is known
  size_t fed = 0;
  complete = false;
  for (;;) {
    if (!header && (header = try_parse_header(out, name))) limit = header->total();
    if (out.size() > limit) break;  // more data than promised: parse_idx reports it
    if (zs.avail_in == 0 && fed < in.size()) {
      size_t chunk = std::min<size_t>(in.size() - fed, UINT_MAX);
      zs.next_in = const_cast<Bytef*>(in.data() + fed);
      zs.avail_in = static_cast<uInt>(chunk);
      fed += chunk;
    }
    size_t old = out.size();
    size_t room = std::min<size_t>({std::max<size_t>(old, 1 << 16), limit + 1 - old, UINT_MAX});
    out.resize(old + room);
    zs.next_out = out.data() + old;
    zs.avail_out = static_cast<uInt>(room);
    int ret = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + room - zs.avail_out);
    if (ret == Z_STREAM_END) {
      if (zs.avail_in == 0 && fed == in.size()) {
        complete = true;
        break;
      }
      NERVE_CHECK(inflateReset(&zs) == Z_OK, "idx: ", name, ": zlib inflateReset failed");
      continue;
    }
    if (ret == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size()) break;  // input ended mid-stream
    NERVE_CHECK(ret == Z_OK, "idx: ", name, ": corrupt gzip data at compressed byte ", fed - zs.avail_in,
                " (zlib: ", zs.msg ? zs.msg : zError(ret), ")");
  }
  return out;
}

std::vector<uint8_t> gzip(std::span<const uint8_t> in, const std::string& path) {
  z_stream zs{};
  NERVE_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
              "write_idx: ", path, ": zlib deflateInit2 failed");
  NERVE_CHECK(in.size() <= UINT_MAX, "write_idx: ", path, ": ", in.size(), " bytes is too large to gzip in one piece");
  std::vector<uint8_t> out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int ret = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  NERVE_CHECK(ret == Z_STREAM_END, "write_idx: ", path, ": zlib deflate failed (", zError(ret), ")");
  return out;
}

template <class T>
void store_be(uint8_t* p, T v) {
  uint8_t tmp[sizeof(T)];
  std::memcpy(tmp, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::little) std::reverse(tmp, tmp + sizeof(T));
  std::memcpy(p, tmp, sizeof(T));
}

}  // namespace

Tensor read_idx_from_memory(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) return parse_idx(bytes, name);
  bool complete = false;
  std::vector<uint8_t> raw = gunzip(bytes, name, complete);
  Tensor t = parse_idx(raw, name);
  NERVE_CHECK(complete, "idx: ", name, ": gzip stream ends early at compressed byte ", bytes.size(),
              " (missing end of stream or CRC); the file is truncated");
  return t;
}

Tensor read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = nerve::detail::read_file_bytes(path, "idx");
  return read_idx_from_memory(bytes, path);
}

void write_idx(const std::string& path, const Tensor& t_in) {
  NERVE_CHECK(t_in.defined(), "write_idx: ", path, ": undefined tensor");
  const IdxType* type = nullptr;
  for (const IdxType& k : kTypes)
    if (k.dtype == t_in.dtype() && (k.code == 0x08 || k.code >= 0x0C)) type = &k;
  NERVE_CHECK(type != nullptr, "write_idx: ", path, ": cannot store ", dtype_name(t_in.dtype()),
              " tensors; IDX holds u8, i32, f32 and f64 (convert with .to(DType::i32) or .to(DType::u8))");
  NERVE_CHECK(t_in.dim() >= 1 && t_in.dim() <= kIdxMaxDims, "write_idx: ", path, ": tensor has ", t_in.dim(), " dims ",
              to_string(t_in.shape()), ", IDX needs 1 to ", kIdxMaxDims);
  for (int64_t d : t_in.shape())
    NERVE_CHECK(d <= UINT32_MAX, "write_idx: ", path, ": dim ", d, " of ", to_string(t_in.shape()),
                " does not fit the 32-bit IDX header");
  Tensor t = t_in.contiguous();
  size_t n = static_cast<size_t>(t.numel()), header = 4 + 4 * static_cast<size_t>(t.dim());
  std::vector<uint8_t> bytes(header + n * type->size);
  bytes[2] = type->code;
  bytes[3] = static_cast<uint8_t>(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) store_be<uint32_t>(&bytes[4 + 4 * i], static_cast<uint32_t>(t.size(i)));
  uint8_t* dst = bytes.data() + header;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(t.raw_data());
    for (size_t i = 0; i < n; ++i) store_be<T>(dst + i * sizeof(T), src[i]);
  });
  bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  nerve::detail::write_file_atomic(path, gz ? gzip(bytes, path) : bytes, "write_idx");
}

}  // namespace nerve::data
