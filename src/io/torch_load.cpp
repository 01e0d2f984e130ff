// load_torch: the zip layer (libzip) of PyTorch's checkpoint format: <prefix>/data.pkl, the pickled state dict,
// and <prefix>/data/<key>, the raw little-endian bytes of each storage. See pickle.cpp for the unpickler.
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "io/mapped_file.h"
#include "io/pickle.h"
#include "nerve/io/torch.h"

namespace nerve::io {

namespace {

using detail::LazyStorage;
using detail::PRef;
using detail::PValue;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

template <class... A>
[[noreturn]] void fail(const std::string& file, const A&... a) {
  ::nerve::detail::throw_error(::nerve::detail::str_cat("load_torch: ", file, ": ", a...));
}

class Archive {
 public:
  Archive(zip_t* z, uint64_t archive_bytes, std::string file)
      : z_(z), archive_bytes_(archive_bytes), file_(std::move(file)) {
    find_prefix();
  }

  nn::StateDict load() {
    const std::string pkl_name = prefix_ + "data.pkl";
    check_byteorder();
    std::vector<uint8_t> pkl = read_entry(pkl_name, archive_bytes_ * 1100, "the pickle");
    PRef root = detail::unpickle(pkl, "load_torch: " + file_ + ": " + pkl_name,
                                 [this](const PValue& pid) { return persistent_load(pid); });
    if (root->kind != PValue::Kind::dict) fail(file_, pkl_name, " holds no dict (not a state dict)");
    nn::StateDict out;
    flatten("", *root, out);
    return out;
  }

 private:
  // torch names the archive's folder after the file ("archive/" since 1.9, the file stem before)
  void find_prefix() {
    const zip_int64_t n = zip_get_num_entries(z_.get(), 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(z_.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (!name) continue;
      std::string s(name);
      const size_t slash = s.find('/');
      if (slash != std::string::npos && s.compare(slash, std::string::npos, "/data.pkl") == 0) {
        prefix_ = s.substr(0, slash + 1);
        return;
      }
    }
    fail(file_, "no <folder>/data.pkl entry in the zip (not a torch.save checkpoint)");
  }

  void check_byteorder() {
    if (zip_name_locate(z_.get(), (prefix_ + "byteorder").c_str(), ZIP_FL_ENC_RAW) < 0) return;  // older: little
    std::vector<uint8_t> b = read_entry(prefix_ + "byteorder", 16, "the byte order");
    if (std::string(b.begin(), b.end()) != "little")
      fail(file_, prefix_, "byteorder is '", std::string(b.begin(), b.end()), "': only little-endian files are read");
  }

  // Reads an entry whole. `cap` bounds its size; memory grows with the bytes actually decompressed, never with
  // the size the zip directory claims.
  std::vector<uint8_t> read_entry(const std::string& name, uint64_t cap, const char* what) {
    const zip_int64_t idx = zip_name_locate(z_.get(), name.c_str(), ZIP_FL_ENC_RAW);
    if (idx < 0) fail(file_, "zip entry '", name, "' (", what, ") is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z_.get(), static_cast<zip_uint64_t>(idx), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      fail(file_, "zip entry '", name, "': cannot read its size (", zip_strerror(z_.get()), ")");
    if (st.size > cap) fail(file_, "zip entry '", name, "' (", what, ") claims ", st.size, " bytes, more than ", cap);
    std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(z_.get(), static_cast<zip_uint64_t>(idx), 0));
    if (!f) fail(file_, "zip entry '", name, "': cannot open (", zip_strerror(z_.get()), ")");
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    for (;;) {
      const zip_int64_t k = zip_fread(f.get(), buf, sizeof(buf));
      if (k < 0) fail(file_, "zip entry '", name, "': read error after byte ", out.size(), " (", zip_file_strerror(f.get()), ")");
      if (k == 0) break;
      if (out.size() + static_cast<uint64_t>(k) > st.size)
        fail(file_, "zip entry '", name, "' holds more than the ", st.size, " bytes its header claims");
      out.insert(out.end(), buf, buf + k);
    }
    if (out.size() != st.size)
      fail(file_, "zip entry '", name, "' is truncated at byte ", out.size(), " of ", st.size);
    return out;
  }

  // A stored (uncompressed) entry, as torch writes them, is read straight into the tensor's storage, without the
  // CRC-32 (a third of the time of a large load; PyTorch's reader skips it too, MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS).
  // Compressed entries are checked.
  std::shared_ptr<Storage> read_storage(const LazyStorage& s, const std::string& tensor) {
    const std::string name = prefix_ + "data/" + s.key;
    const std::string what = "storage of tensor '" + tensor + "'";
    const zip_int64_t idx = zip_name_locate(z_.get(), name.c_str(), ZIP_FL_ENC_RAW);
    if (idx < 0) fail(file_, "zip entry '", name, "' (", what, ") is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z_.get(), static_cast<zip_uint64_t>(idx), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      fail(file_, "zip entry '", name, "': cannot read its size (", zip_strerror(z_.get()), ")");
    uint64_t want = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(s.numel), itemsize(s.dtype), &want) || st.size != want)
      fail(file_, "zip entry '", name, "' (", what, ") holds ", st.size, " bytes, the pickle claims ", s.numel, " ",
           dtype_name(s.dtype), " elements");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      fail(file_, "zip entry '", name, "' (", what, ") is encrypted");
    const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
    if (!stored || want > archive_bytes_) {  // compressed: read with a growing buffer, then copy
      std::vector<uint8_t> bytes = read_entry(name, want, what.c_str());
      auto out = std::make_shared<Storage>(bytes.size());
      if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
      return out;
    }
    auto out = std::make_shared<Storage>(want);
    std::unique_ptr<zip_file_t, ZipFileCloser> f(
        zip_fopen_index(z_.get(), static_cast<zip_uint64_t>(idx), ZIP_FL_COMPRESSED));
    if (!f) fail(file_, "zip entry '", name, "': cannot open (", zip_strerror(z_.get()), ")");
    uint64_t got = 0;
    auto* p = static_cast<uint8_t*>(out->data());
    while (got < want) {
      const zip_int64_t k = zip_fread(f.get(), p + got, want - got);
      if (k <= 0)
        fail(file_, "zip entry '", name, "' (", what, ") is truncated at byte ", got, " of ", want,
             k < 0 ? std::string(" (") + zip_file_strerror(f.get()) + ")" : std::string());
      got += static_cast<uint64_t>(k);
    }
    uint8_t extra;
    if (zip_fread(f.get(), &extra, 1) != 0)
      fail(file_, "zip entry '", name, "' (", what, ") holds more than the ", want, " bytes its header claims");
    return out;
  }

  PRef persistent_load(const PValue& pid) {
    // ('storage', torch.FloatStorage, key, location, numel)
    const auto& a = pid.items;
    if (pid.kind != PValue::Kind::tuple || a.size() != 5 || a[0]->kind != PValue::Kind::string ||
        a[0]->s != "storage" || a[1]->kind != PValue::Kind::global || a[2]->kind != PValue::Kind::string ||
        a[3]->kind != PValue::Kind::string || a[4]->kind != PValue::Kind::integer || a[4]->i < 0)
      fail(file_, "a persistent id is not ('storage', type, key, location, numel)");
    const DType dt = detail::storage_dtype(a[1]->s, "load_torch: " + file_);
    auto& s = storages_[a[2]->s];
    if (!s) {
      s = std::make_shared<LazyStorage>(LazyStorage{a[2]->s, dt, a[4]->i, nullptr});
    } else if (s->dtype != dt || s->numel != a[4]->i) {
      fail(file_, "storage '", a[2]->s, "' is named twice with different types or sizes");
    }
    auto v = std::make_shared<PValue>();
    v->kind = PValue::Kind::storage;
    v->storage = s;
    return v;
  }

  void flatten(const std::string& prefix, const PValue& dict, nn::StateDict& out) {
    for (size_t k = 0; k + 1 < dict.items.size(); k += 2) {
      const PValue& key = *dict.items[k];
      const PValue& v = *dict.items[k + 1];
      if (v.kind == PValue::Kind::dict) {
        if (key.kind == PValue::Kind::string) flatten(prefix + key.s + ".", v, out);
        continue;
      }
      if (v.kind != PValue::Kind::tensor) continue;
      if (key.kind != PValue::Kind::string) fail(file_, "a tensor is stored under a key that is not a string");
      out.emplace_back(prefix + key.s, materialize(*v.tensor, prefix + key.s));
    }
  }

  Tensor materialize(const detail::LazyTensor& t, const std::string& name) {
    LazyStorage& s = *t.storage;
    if (!s.loaded) {
      s.loaded = read_storage(s, name);
      if (s.dtype == DType::b8) {
        const auto* p = static_cast<const uint8_t*>(s.loaded->data());
        for (int64_t i = 0; i < s.numel; ++i)
          if (p[i] > 1) fail(file_, "tensor '", name, "': bool byte ", int(p[i]), " at byte ", i, " of its storage");
      }
    }
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = s.loaded;
    impl->shape = t.shape;
    impl->strides = t.strides;
    impl->offset = t.offset;
    impl->dtype = s.dtype;
    return Tensor(std::move(impl));
  }

  std::unique_ptr<zip_t, ZipCloser> z_;
  uint64_t archive_bytes_;
  std::string file_, prefix_;
  std::map<std::string, std::shared_ptr<LazyStorage>> storages_;
};

[[noreturn]] void open_failed(const std::string& file, zip_error_t* err, const uint8_t* head, size_t n) {
  std::string why = zip_error_strerror(err);
  zip_error_fini(err);
  if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
    fail(file, "a pickle, not a zip: the legacy format of torch < 1.6 (or _use_new_zipfile_serialization=False) "
               "is not read; save it again with a newer torch");
  fail(file, "not a zip archive (", why, ")");
}

}  // namespace

nn::StateDict parse_torch(std::span<const uint8_t> bytes, const std::string& name) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (!src) open_failed(name, &err, nullptr, 0);
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!z) {
    zip_source_free(src);
    open_failed(name, &err, bytes.data(), bytes.size());
  }
  zip_error_fini(&err);
  return Archive(z, bytes.size(), name).load();
}

nn::StateDict load_torch(const std::string& path) {
  // through the file (read calls straight into each storage), not a mapping: a mapping would fault every page in
  // a second time, and cost a third more on a 400 MB checkpoint (bench/io.sh)
  auto probe = detail::MappedFile::open(path, "load_torch");  // the file errors: missing, directory, FIFO
  const uint64_t size = probe->size();
  uint8_t head[2] = {0, 0};
  if (size > 0) std::memcpy(head, probe->data(), std::min<uint64_t>(size, 2));
  probe.reset();
  zip_error_t err;
  zip_error_init(&err);
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!z) {
    zip_error_init_with_code(&err, code);
    open_failed(path, &err, head, size);
  }
  zip_error_fini(&err);
  return Archive(z, size, path).load();
}

}  // namespace nerve::io
