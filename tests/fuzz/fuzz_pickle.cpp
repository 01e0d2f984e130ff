// libFuzzer target for the restricted unpickler alone (src/io/pickle.h; the torch target reaches it only through
// zip entries whose CRC a mutation usually breaks): any input must give a value or throw nerve::Error. Every
// persistent id stands for a 16-float storage here, and every tensor view that comes out is read end to end, so a
// view the bounds check let through past its storage is an ASan report. Built by tools/fuzz.sh pickle; its seed
// corpus is tests/fuzz/corpus/pickle (the data.pkl of files torch.save wrote).
#include <cstring>
#include <functional>

#include "io/pickle.h"

using nerve::io::detail::PRef;
using nerve::io::detail::PValue;

namespace {
constexpr int64_t kNumel = 16;

void visit(const PValue& v, const std::function<void(const PValue&)>& f) {
  f(v);
  for (const PRef& c : v.items) visit(*c, f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    PRef root = nerve::io::detail::unpickle({data, size}, "fuzz", [](const PValue& pid) {
      auto v = std::make_shared<PValue>();
      v->kind = PValue::Kind::storage;
      v->storage = std::make_shared<nerve::io::detail::LazyStorage>(
          nerve::io::detail::LazyStorage{"0", nerve::DType::f32, kNumel, nullptr});
      return v;
    });
    visit(*root, [](const PValue& v) {
      if (v.kind != PValue::Kind::tensor) return;
      auto impl = std::make_shared<nerve::TensorImpl>();
      impl->storage = std::make_shared<nerve::Storage>(kNumel * 4);
      std::memset(impl->storage->data(), 0, kNumel * 4);
      impl->shape = v.tensor->shape;
      impl->strides = v.tensor->strides;
      impl->offset = v.tensor->offset;
      nerve::Tensor t(impl);
      if (t.numel() < (1 << 16)) (void)t.contiguous();
    });
  } catch (const nerve::Error&) {
  }
  return 0;
}
