// Error messages of the op frontends: each starts with the op's name and shows the shapes (and dtypes, dims or
// indices) involved, so a user can fix the call from the message alone.
#include <gtest/gtest.h>

#include <nerve/nerve.h>

namespace {

using namespace nerve;

// Expects f() to throw nerve::Error whose message starts with "op:" and contains every fragment.
template <class F>
void expect_error(const std::string& op, F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << op << ": no error thrown";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind(op + ": ", 0), 0u) << "message does not start with '" << op << ": ': " << m;
    for (const std::string& s : fragments)
      EXPECT_NE(m.find(s), std::string::npos) << "message lacks '" << s << "': " << m;
  }
}

TEST(OpErrors, BroadcastMismatch) {
  expect_error("add", [] { add(zeros({2, 3}), zeros({4})); }, {"[2, 3]", "[4]", "cannot be broadcast"});
  expect_error("mul", [] { zeros({2, 3}) * zeros({2, 2}); }, {"[2, 3]", "[2, 2]"});
  expect_error("sub", [] { zeros({5}) - zeros({2, 4}); }, {"[5]", "[2, 4]"});
  expect_error("where", [] { where(zeros({3}, DType::b8), zeros({4}), zeros({})); }, {"[3]", "[4]"});
}

TEST(OpErrors, BoolArithmetic) {
  expect_error("add", [] { add(zeros({2}, DType::b8), zeros({2}, DType::b8)); }, {"bool", "[2]"});
}

TEST(OpErrors, MatmulShapes) {
  expect_error("matmul", [] { matmul(zeros({4, 3}), zeros({5, 2})); }, {"(3)", "(5)", "[4, 3]", "[5, 2]", "f32"});
  expect_error("matmul", [] { matmul(zeros({3}), zeros({4})); }, {"b.shape[0] (4)", "[3]", "[4]"});
  expect_error("matmul", [] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"[2, 3, 4]", "[3, 4, 5]"});
  expect_error("matmul", [] { matmul(zeros({}), zeros({3})); }, {"at least 1 dim", "[]", "[3]"});
  expect_error("matmul", [] { matmul(zeros({2, 2}, DType::i64), zeros({2, 2}, DType::i64)); }, {"floating", "i64"});
}

TEST(OpErrors, BmmShapes) {
  expect_error("bmm", [] { bmm(zeros({3, 4}), zeros({2, 4, 5})); }, {"3-D", "[3, 4]", "[2, 4, 5]"});
  expect_error("bmm", [] { bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"batch sizes differ (2 and 3)", "[3, 4, 5]"});
  expect_error("bmm", [] { bmm(zeros({2, 3, 4}), zeros({2, 5, 6})); }, {"a.shape[2] (4) != b.shape[1] (5)"});
  expect_error("bmm", [] { bmm(zeros({1, 2, 2}), zeros({1, 2, 2}, DType::f64)); }, {"f32", "f64"});
  expect_error("bmm", [] { bmm(zeros({1, 2, 2}, DType::i64), zeros({1, 2, 2}, DType::i64)); }, {"i64"});
  expect_error("baddbmm", [] { baddbmm(zeros({2, 4, 5}), zeros({2, 3, 4}), zeros({2, 4, 5})); },
               {"[2, 4, 5]", "[2, 3, 5]"});
  expect_error("baddbmm", [] { baddbmm(zeros({3, 5}, DType::f64), zeros({2, 3, 4}), zeros({2, 4, 5})); },
               {"f64", "f32"});
  expect_error("bmm", [] { baddbmm(zeros({3, 5}), zeros({3, 4}), zeros({2, 4, 5})); }, {"3-D"});
}

TEST(OpErrors, LinearShapes) {
  expect_error("linear", [] { linear(zeros({32, 783}), zeros({128, 784})); },
               {"783", "784", "[32, 783] f32", "[128, 784] f32"});
  expect_error("linear", [] { linear(zeros({2, 3}), zeros({3})); }, {"weight must be 2-D", "[3]"});
  expect_error("linear", [] { linear(zeros({2, 3}), zeros({4, 3}), zeros({5})); }, {"bias", "(4)", "[5]"});
  expect_error("linear", [] { linear(zeros({2, 3}, DType::f64), zeros({4, 3})); }, {"f64", "f32"});
}

TEST(OpErrors, CatAndStack) {
  expect_error("cat", [] { cat({zeros({2, 3}), zeros({2, 4})}, 0); }, {"[2, 3]", "[2, 4]", "dim 0"});
  expect_error("cat", [] { cat({zeros({2, 3}), zeros({3})}, 0); }, {"[3]", "[2, 3]"});
  expect_error("cat", [] { cat({zeros({2}), zeros({2, 1}, DType::f64)}); }, {"tensor 1", "[2, 1]", "1 dims", "[2]"});
  expect_error("cat", [] { cat({}); }, {"non-empty"});
  expect_error("cat", [] { cat({zeros({}), zeros({})}); }, {"zero-dimensional"});
  expect_error("cat", [] { cat({zeros({2, 3})}, 2); }, {"dim 2", "2-d"});
  expect_error("stack", [] { stack({zeros({2, 3}), zeros({3, 2})}); }, {"[2, 3]", "[3, 2]"});
}

TEST(OpErrors, BadDims) {
  Tensor x = zeros({3, 4});
  expect_error("sum", [&] { sum(x, {2}); }, {"dim 2", "2-d", "[-2, 1]"});
  expect_error("sum", [&] { sum(x, {1, -1}); }, {"multiple times"});
  expect_error("mean", [&] { mean(x, {-3}); }, {"dim -3", "2-d"});
  expect_error("softmax", [&] { softmax(x, 2); }, {"dim 2", "2-d"});
  expect_error("transpose", [&] { transpose(x, 0, 5); }, {"dim 5", "2-d"});
  expect_error("permute", [&] { permute(x, {0}); }, {"[0]", "[3, 4]"});
  expect_error("permute", [&] { permute(x, {1, 1}); }, {"repeated dim 1"});
  expect_error("unsqueeze", [&] { unsqueeze(x, 4); }, {"dim 4"});
  expect_error("flatten", [&] { flatten(x, 1, 0); }, {"start_dim 1", "end_dim 0"});
  expect_error("max", [&] { max(x, 2); }, {"dim 2"});
  expect_error("argmax", [&] { argmax(x, -3); }, {"dim -3"});
  expect_error("select", [&] { select(x, 0, 3); }, {"index 3", "size 3", "[3, 4]"});
  expect_error("narrow", [&] { narrow(x, 1, 2, 3); }, {"start 2", "length 3", "[3, 4]"});
  expect_error("slice", [&] { slice(x, 0, 0, 2, 0); }, {"step"});
  expect_error("expand", [&] { expand(x, {3, 5}); }, {"[3, 4]", "[3, 5]"});
  expect_error("expand", [&] { expand(x, {4}); }, {"[3, 4]", "[4]"});
  expect_error("sum_to", [&] { sum_to(x, {2, 3, 4}); }, {"[3, 4]", "[2, 3, 4]"});
  expect_error("sum_to", [&] { sum_to(x, {5}); }, {"[3, 4]", "[5]"});
}

TEST(OpErrors, NewReductionsAndOrdering) {
  Tensor x = zeros({3, 4});
  expect_error("std", [&] { nerve::std(x, {2}); }, {"dim 2"});
  expect_error("std", [&] { nerve::std(zeros({3}, DType::i64)); }, {"floating", "i64"});
  expect_error("amin", [&] { amin(zeros({0, 3}), {0}); }, {"non-empty", "[0, 3]"});
  expect_error("logsumexp", [&] { logsumexp(x, {0, -2}); }, {"dim 0", "multiple"});
  expect_error("logsumexp", [&] { logsumexp(x, {5}); }, {"dim 5"});
  expect_error("norm", [&] { norm(x, INFINITY, {3}); }, {"dim 3"});
  expect_error("norm", [&] { norm(x, 1, {-3}); }, {"dim -3"});
  expect_error("norm", [&] { norm(zeros({3}, DType::i64), 2); }, {"floating", "i64"});
  expect_error("cumsum", [&] { cumsum(x, 2); }, {"dim 2"});
  expect_error("topk", [&] { topk(x, 5, 1); }, {"k = 5", "dim 1", "size 4", "[3, 4] f32"});
  expect_error("topk", [&] { topk(x, -1); }, {"k = -1"});
  expect_error("tril", [&] { tril(zeros({3})); }, {"at least 2 dims", "[3]"});
  expect_error("triu", [&] { triu(zeros({})); }, {"at least 2 dims", "[]"});
}

TEST(OpErrors, GatherScatterIndexOutOfRange) {
  Tensor x = zeros({3, 4});
  expect_error("gather", [&] { gather(x, 1, from_vector<int64_t>({0, 5}, {1, 2})); },
               {"index 5", "dim 1", "size 4", "[3, 4]"});
  expect_error("gather", [&] { gather(x, 0, from_vector<int64_t>({-1}, {1, 1})); }, {"index -1", "[3, 4]"});
  expect_error("gather", [&] { gather(x, 0, from_vector<int64_t>({0}, {1})); }, {"[1]", "[3, 4]"});
  expect_error("gather", [&] { gather(x, 0, zeros({1, 1})); }, {"i64", "f32"});
  expect_error("scatter_add", [&] { scatter_add(x, 0, from_vector<int64_t>({3}, {1, 1}), zeros({1, 1})); },
               {"index 3", "dim 0", "size 3", "[3, 4]"});
  expect_error("scatter_add", [&] { scatter_add(x, 0, from_vector<int64_t>({0, 1}, {1, 2}), zeros({1, 1})); },
               {"[1, 2]", "[1, 1]"});
  expect_error("scatter", [&] { scatter(x, 1, from_vector<int64_t>({4}, {1, 1}), zeros({1, 1})); },
               {"index 4", "dim 1", "size 4"});
}

TEST(OpErrors, IndexAdd) {
  Tensor x = zeros({3, 4});
  expect_error("index_add", [&] { index_add(x, 0, from_vector<int64_t>({3}), zeros({1, 4})); },
               {"index 3", "dim 0", "size 3", "[3, 4]"});
  expect_error("index_add", [&] { index_add(x, 1, from_vector<int64_t>({0, 1}), zeros({3, 3})); },
               {"source [3, 3]", "[3, 4]", "dim 1 of size 2"});
  expect_error("index_add", [&] { index_add(x, 0, zeros({1}), zeros({1, 4})); }, {"i64", "f32"});
  expect_error("index_add", [&] { index_add(x, 0, from_vector<int64_t>({0}), zeros({1, 4}, DType::f64)); },
               {"f32", "f64"});
}

TEST(OpErrors, MaskedSelect) {
  expect_error("masked_select", [] { masked_select(zeros({2, 3}), zeros({2, 3})); }, {"bool", "f32"});
  expect_error("masked_select", [] { masked_select(zeros({2, 3}), zeros({4}, DType::b8)); }, {"[2, 3]", "[4]"});
}

TEST(OpErrors, IndexSelectOutOfRange) {
  Tensor x = zeros({3, 4});
  expect_error("index_select", [&] { index_select(x, 0, from_vector<int64_t>({1, 7})); },
               {"index 7", "dim 0", "size 3", "[3, 4]"});
  expect_error("index_select", [&] { index_select(x, 1, from_vector<int64_t>({-1})); }, {"index -1", "size 4"});
  expect_error("index_select", [&] { index_select(x, 0, from_vector<int64_t>({0, 1}, {1, 2})); }, {"1-D", "[1, 2]"});
  expect_error("index_select", [&] { index_select(x, 0, zeros({2})); }, {"i64", "[2] f32"});
}

TEST(OpErrors, ViewNeedsCompatibleStrides) {
  Tensor t = zeros({3, 4}).t();
  expect_error("view", [&] { view(t, {12}); }, {"[12]", "[4, 3]", "strides [1, 4]", "reshape"});
  expect_error("view", [&] { view(narrow(zeros({3, 8}), 1, 0, 4), {12}); }, {"[3, 4]", "strides [8, 1]"});
  EXPECT_NO_THROW(view(slice(zeros({3, 8}), 1, 0, 8, 2), {12}));  // strides [8, 2] merge into one stride 2
  EXPECT_NO_THROW(reshape(t, {12}));  // reshape copies instead
}

TEST(OpErrors, ReshapeInvalidSize) {
  Tensor x = zeros({3, 4});
  expect_error("reshape", [&] { reshape(x, {5, -1}); }, {"[5, -1]", "size 12", "[3, 4]"});
  expect_error("reshape", [&] { reshape(x, {5, 3}); }, {"[5, 3]", "size 12", "[3, 4]"});
  expect_error("reshape", [&] { reshape(x, {-1, -1}); }, {"only one dimension can be -1"});
  expect_error("reshape", [&] { reshape(x, {-2, 6}); }, {"-2"});
  expect_error("view", [&] { view(x, {7}); }, {"[7]", "size 12", "[3, 4]"});
}

TEST(OpErrors, DtypeAndValueChecks) {
  expect_error("mean", [] { mean(zeros({3}, DType::i64)); }, {"i64"});
  expect_error("var", [] { var(zeros({3}, DType::i64)); }, {"i64"});
  expect_error("where", [] { where(zeros({2}), zeros({2}), zeros({2})); }, {"bool", "[2] f32"});
  expect_error("masked_fill", [] { masked_fill(zeros({2}), zeros({2, 2}, DType::b8), 1.0); }, {"[2, 2]", "[2]"});
  expect_error("one_hot", [] { one_hot(from_vector<int64_t>({0, 3}), 3); }, {"3", "num_classes 3"});
  expect_error("one_hot", [] { one_hot(from_vector<int64_t>({-1})); }, {"-1"});
  expect_error("max", [] { max(zeros({0, 3})); }, {"non-empty", "[0, 3]"});
  expect_error("amax", [] { amax(zeros({0, 3}), {0}); }, {"non-empty", "dim 0", "[0, 3]"});
  expect_error("max", [] { max(zeros({3, 0}), -1); }, {"non-empty", "dim 1", "[3, 0]"});
  expect_error("argmin", [] { argmin(zeros({0}), 0); }, {"non-empty", "dim 0", "[0]"});
  expect_error("clamp", [] { clamp(zeros({2}), std::nullopt, std::nullopt); }, {"min", "max"});
  expect_error("split", [] { split(zeros({4}), 0); }, {"split_size", "0"});
  expect_error("chunk", [] { chunk(zeros({4}), 0); }, {"chunks", "0"});
}

TEST(OpErrors, InPlace) {
  Tensor leaf = zeros({2, 3}).requires_grad_();
  expect_error("add_", [&] { leaf.add_(ones({2, 3})); }, {"requires grad", "[2, 3] f32", "NoGradGuard"});
  Tensor y = zeros({3});
  expect_error("add_", [&] { y.add_(ones({2, 3})); }, {"[3]", "[2, 3]"});
  expect_error("copy_", [&] { y.copy_(ones({4})); }, {"[4]", "[3]"});
}

}  // namespace

// The fused linear_relu equals relu(linear(...)) in value and in every gradient, on a product large enough for the
// threaded GEMM paths, with the same error messages as linear.
// Without a gradient for x (a first layer) each dW tile applies the ReLU mask and sums the bias gradient itself.
TEST(Fused, LinearReluEqualsTheComposite) {
  for (int threads : {1, 2, 3})
    for (bool x_grad : {true, false}) {
      const int prev = get_num_threads();
      set_num_threads(threads);
      manual_seed(9);
      Tensor x = randn({48, 300}), w = randn({200, 300}) * 0.1, b = randn({200});
      std::vector<Tensor> a{x.clone().requires_grad_(x_grad), w.clone().requires_grad_(), b.clone().requires_grad_()};
      std::vector<Tensor> c{x.clone().requires_grad_(x_grad), w.clone().requires_grad_(), b.clone().requires_grad_()};
      Tensor ya = linear_relu(a[0], a[1], a[2]), yc = relu(linear(c[0], c[1], c[2]));
      Tensor gout = randn(ya.shape());
      sum(ya * gout).backward();
      sum(yc * gout).backward();
      EXPECT_LE(max(abs(ya - yc)).item<double>(), 0.0) << threads;
      for (int i = x_grad ? 0 : 1; i < 3; ++i)  // the fused bias sum may add in another order
        EXPECT_LE(max(abs(a[i].grad() - c[i].grad())).item<double>(), i == 2 ? 1e-5 : 0.0) << threads << " " << i;
      EXPECT_STREQ(ya.grad_fn()->name(), "LinearReluBackward");
      set_num_threads(prev);
    }
  EXPECT_THROW(linear_relu(randn({2, 3}), randn({4, 5})), Error);
}

// A plain linear whose input needs no gradient takes the same per-tile path (no mask): dW and db equal the
// composite's on 1-3 threads.
TEST(Fused, LinearWithoutInputGradientEqualsTheComposite) {
  for (int threads : {1, 2, 3}) {
    const int prev = get_num_threads();
    set_num_threads(threads);
    manual_seed(4);
    Tensor x = randn({48, 300}), w = randn({200, 300}) * 0.1, b = randn({200});
    std::vector<Tensor> a{w.clone().requires_grad_(), b.clone().requires_grad_()};
    std::vector<Tensor> c{w.clone().requires_grad_(), b.clone().requires_grad_()};
    Tensor ya = linear(x, a[0], a[1]), yc = matmul(x, transpose(c[0], 0, 1)) + c[1];
    Tensor gout = randn(ya.shape());
    sum(ya * gout).backward();
    sum(yc * gout).backward();
    EXPECT_LE(max(abs(ya - yc)).item<double>(), 1e-4) << threads;
    EXPECT_LE(max(abs(a[0].grad() - c[0].grad())).item<double>(), 1e-4) << threads;
    EXPECT_LE(max(abs(a[1].grad() - c[1].grad())).item<double>(), 1e-4) << threads;
    set_num_threads(prev);
  }
}

// linear_u8 (Rescaling fused into Dense) equals the cast, scale, offset and linear (+ ReLU) in value and in the
// weight and bias gradients, on 1-3 threads (row tiles, C^T tiles, the GEMV split), with and without bias and
// ReLU, for 2-D and 3-D inputs; twice in a row on new bytes (the per-thread conversion is not reused stale).
TEST(Fused, LinearU8EqualsTheComposite) {
  for (int threads : {1, 2, 3}) {
    const int prev = get_num_threads();
    set_num_threads(threads);
    manual_seed(21);
    for (const Shape& xs : {Shape{48, 300}, Shape{1, 300}, Shape{4, 6, 300}})
      for (int variant = 0; variant < 4; ++variant) {
        const bool relu = variant & 1, has_bias = variant & 2;
        Tensor w = randn({200, 300}) * 0.1, b = randn({200});
        std::vector<Tensor> a{w.clone().requires_grad_(), b.clone().requires_grad_()};
        std::vector<Tensor> c{w.clone().requires_grad_(), b.clone().requires_grad_()};
        for (int rep = 0; rep < 2; ++rep) {
          Tensor x = randint(0, 256, xs, DType::u8);
          Tensor ya = linear_u8(x, 1.0 / 255, -0.25, a[0], has_bias ? a[1] : Tensor(), relu);
          Tensor lc = linear(x.to(DType::f32) * (1.0 / 255) + (-0.25), c[0], has_bias ? c[1] : Tensor());
          Tensor yc = relu ? nerve::relu(lc) : lc;
          ASSERT_EQ(ya.shape(), yc.shape());
          Tensor gout = randn(ya.shape());
          sum(ya * gout).backward();
          sum(yc * gout).backward();
          const std::string what = std::to_string(threads) + " threads, " + to_string(xs) + " relu " +
                                   std::to_string(relu) + " bias " + std::to_string(has_bias);
          EXPECT_LE(max(abs(ya - yc)).item<double>(), 1e-4) << what;
          EXPECT_LE(max(abs(a[0].grad() - c[0].grad())).item<double>(), 1e-3) << what;
          if (has_bias) {
            EXPECT_LE(max(abs(a[1].grad() - c[1].grad())).item<double>(), 1e-4) << what;
          }
        }
      }
    set_num_threads(prev);
  }
  // no gradient flows into the bytes; bad inputs are errors that name the shapes
  Tensor w = randn({4, 3}).requires_grad_();
  EXPECT_FALSE(linear_u8(randint(0, 256, {2, 3}, DType::u8), 1.0, 0.0, w).grad_fn() == nullptr);
  expect_error("linear_u8", [&] { linear_u8(randn({2, 3}), 1.0, 0.0, w); }, {"uint8", "[2, 3]"});
  expect_error("linear_u8", [&] { linear_u8(randint(0, 256, {2, 5}, DType::u8), 1.0, 0.0, w); }, {"[2, 5]", "[4, 3]"});
  expect_error("linear_u8", [&] { linear_u8(randint(0, 256, {2, 3}, DType::u8), 1.0, 0.0, w, randn({5})); },
               {"(4)", "[5]"});
  // the saved bytes modified in place before backward: an error, not a stale gradient
  Tensor x = randint(0, 256, {2, 3}, DType::u8);
  Tensor y = linear_u8(x, 1.0, 0.0, w, Tensor(), true);
  x.fill_(3);
  EXPECT_THROW(sum(y).backward(), Error);
}

// bf16, f16 and i8 are storage dtypes: made, filled, viewed, copied, converted and read; any other op says so and
// names the conversion to ask for
TEST(StorageDtypes, MakeConvertReadAndRefuseTheRest) {
  for (DType d : {DType::bf16, DType::f16, DType::i8}) {
    SCOPED_TRACE(dtype_name(d));
    Tensor z = zeros({2, 3}, d);
    EXPECT_EQ(z.dtype(), d);
    EXPECT_EQ(z.to_vector<double>(), std::vector<double>(6, 0.0));
    Tensor x = full({2, 3}, -3.0, d);
    EXPECT_EQ(x.t().contiguous().shape(), (Shape{3, 2}));
    EXPECT_EQ(x.to(DType::f32).sum().item<double>(), -18.0);
    EXPECT_EQ(x.t().clone().to_vector<int64_t>(), std::vector<int64_t>(6, -3));
    EXPECT_EQ(select(select(x, 0, 1), 0, 2).item<double>(), -3.0);
    Tensor y = empty({2, 3}, d);
    y.copy_(arange(6).reshape({2, 3}));
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
    expect_error("exp", [&] { exp(x); }, {dtype_name(d), "storage only", ".to(DType::f32)"});
    // ops that reach the dtype switch say so without their name (yet)
    for (auto f : {+[](const Tensor& t) { (void)(t + t); }, +[](const Tensor& t) { (void)sum(t); }}) {
      try {
        f(x);
        ADD_FAILURE() << "no error thrown";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(std::string(dtype_name(d)) + " tensors are storage only"),
                  std::string::npos) << e.what();
      }
    }
  }
  // f16 overflows to inf and keeps NaN; bf16 keeps float's range
  EXPECT_TRUE(std::isinf(full({}, 1e5, DType::f16).item<double>()));
  EXPECT_TRUE(std::isnan(full({}, std::nan(""), DType::bf16).item<double>()));
  EXPECT_EQ(full({}, 1e5, DType::bf16).item<double>(), 99840.0);  // 1e5 to 8 bits of mantissa
}

namespace {

TEST(OpErrors, Conv2d) {
  const Tensor x = zeros({2, 3, 5, 5});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 2, 3, 3})); }, {"3 channels", "[4, 2, 3, 3]", "expects 2", "[2, 3, 5, 5]"});
  expect_error("conv2d", [&] { conv2d(zeros({3, 5, 5}), zeros({4, 3, 3, 3})); }, {"4-D input", "[3, 5, 5]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3})); }, {"4-D weight", "[4, 3, 3]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 7, 3})); }, {"larger than the padded input", "5x5", "[2, 3, 5, 5]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}), Tensor(), {2}, {0}, {3}); }, {"7x7 dilated", "5x5"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}), Tensor(), {0}); }, {"stride must be positive", "[0]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}), Tensor(), {2}, "same"); }, {"'same'", "stride 1"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}), zeros({3})); }, {"bias must be (4)", "[3]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({5, 1, 3, 3}), Tensor(), {1}, {0}, {1}, 3); }, {"out_channels 5", "groups=3"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}), Tensor(), {1, 1, 1}); }, {"stride", "[1, 1, 1]"});
  expect_error("conv2d", [&] { conv2d(x, zeros({4, 3, 3, 3}, DType::f64)); }, {"one floating dtype", "f64"});
}

TEST(OpErrors, ConvTranspose2d) {
  const Tensor x = zeros({1, 3, 4, 4});
  expect_error("conv_transpose2d", [&] { conv_transpose2d(x, zeros({2, 4, 3, 3})); }, {"3 channels", "[2, 4, 3, 3]"});
  expect_error("conv_transpose2d", [&] { conv_transpose2d(x, zeros({3, 2, 3, 3}), Tensor(), {2}, {0}, {2}); },
               {"output_padding must be smaller than stride or dilation"});
  expect_error("conv_transpose2d", [&] { conv_transpose2d(x, zeros({3, 2, 1, 1}), Tensor(), {1}, {2}); },
               {"the output would be 0x0"});
}

TEST(OpErrors, Pooling) {
  const Tensor x = zeros({1, 2, 4, 4});
  expect_error("max_pool2d", [&] { max_pool2d(zeros({2, 4, 4}), {2}); }, {"4-D input", "[2, 4, 4]"});
  expect_error("max_pool2d", [&] { max_pool2d(x, {5}); }, {"larger than the padded input", "4x4", "[1, 2, 4, 4]"});
  expect_error("max_pool2d", [&] { max_pool2d(x, {2}, {0}); }, {"stride must be positive"});
  expect_error("max_pool2d", [&] { max_pool2d(x, {2}, {1}, {2}); }, {"at most half the kernel size"});
  expect_error("avg_pool2d", [&] { avg_pool2d(x, {3, 3, 3}); }, {"kernel_size", "[3, 3, 3]"});
  expect_error("adaptive_avg_pool2d", [&] { adaptive_avg_pool2d(x, {0}); }, {"output_size must be positive"});
}

TEST(OpErrors, Norms) {
  expect_error("batch_norm", [] { batch_norm(zeros({2, 3, 4}), zeros({4}), ones({4})); }, {"running_mean", "[4]", "[2, 3, 4]"});
  expect_error("batch_norm", [] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               {"more than 1 value per channel", "[1, 3]"});
  expect_error("batch_norm", [] { batch_norm(zeros({2, 3}), Tensor(), Tensor()); }, {"eval mode"});
  expect_error("layer_norm", [] { layer_norm(zeros({2, 3}), {2}); }, {"normalized_shape [2]", "[2, 3]"});
  expect_error("group_norm", [] { group_norm(zeros({2, 6, 3}), 4); }, {"6 channels", "4 groups"});
}

}  // namespace
