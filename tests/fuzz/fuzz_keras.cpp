// libFuzzer target for the Keras model file's config reader (io::detail::model_from_config): any JSON must give a
// model or throw nerve::Error, and never allocate what the config merely claims (the file's tensors are fixed
// here: a 2 -> 4 -> 3 MLP). Built by tools/fuzz.sh keras; its seed corpus is tests/fuzz/corpus/keras.
#include <string>

#include "io/keras_file.h"
#include "nerve/ops/ops.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nerve::nn::StateDict tensors{{"model.dense.weight", nerve::ones({4, 2})},
                                            {"model.dense.bias", nerve::zeros({4})},
                                            {"model.dense_1.weight", nerve::ones({3, 4})},
                                            {"model.dense_1.bias", nerve::zeros({3})}};
  try {
    auto m = nerve::io::detail::model_from_config(std::string(reinterpret_cast<const char*>(data), size), tensors, "fuzz");
    m->eval();
    (void)m->predict(nerve::ones({2, 2}));
  } catch (const nerve::Error&) {
  }
  return 0;
}
