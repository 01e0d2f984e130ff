// The restricted unpickler of PyTorch checkpoints: a stack machine over the opcodes a state dict needs
// (https://github.com/python/cpython/blob/main/Lib/pickletools.py documents each one). It builds plain values;
// the only callables are OrderedDict() and the two tensor rebuild functions, interpreted here, never run.
#include "io/pickle.h"

#include <bit>
#include <cstring>
#include <unordered_map>

#include "nerve/core/error.h"

namespace nerve::io::detail {

namespace {

constexpr int kMaxDepth = 64;  // a state dict nests a few levels; deeper is hostile

struct StorageName {
  const char* name;
  DType dtype;
};
constexpr StorageName kStorages[] = {
    {"torch.FloatStorage", DType::f32}, {"torch.DoubleStorage", DType::f64}, {"torch.HalfStorage", DType::f16},
    {"torch.BFloat16Storage", DType::bf16}, {"torch.LongStorage", DType::i64}, {"torch.IntStorage", DType::i32},
    {"torch.CharStorage", DType::i8}, {"torch.ByteStorage", DType::u8}, {"torch.BoolStorage", DType::b8}};
// storages torch writes whose element type nerve has no dtype for: refused with a message saying so
constexpr const char* kUnsupportedStorages[] = {"torch.ShortStorage", "torch.ComplexFloatStorage",
                                                "torch.ComplexDoubleStorage", "torch.QInt8Storage",
                                                "torch.QUInt8Storage", "torch.QInt32Storage", "torch.QUInt4x2Storage"};

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

bool is_storage_class(const std::string& g) {
  for (const auto& s : kStorages)
    if (g == s.name) return true;
  return false;
}

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 'c': return "GLOBAL";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 'P': return "PERSID";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'd': return "DICT";
    case 'l': return "LIST";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 0x82: return "EXT1";
    case 0x8b: return "LONG4";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
  }
}

class Machine {
 public:
  Machine(std::span<const uint8_t> b, const std::string& name, const PersistentLoad& pl)
      : b_(b), name_(name), persistent_load_(pl) {}

  PRef run() {
    for (;;) {
      op_pos_ = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                // PROTO n
        case 0x95: bytes(8); break;            // FRAME len (protocol 4): framing only
        case '.': return stop();               // STOP
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case 'N': push(make(PValue::Kind::none)); break;
        case 0x88: push(make_int(PValue::Kind::boolean, 1)); break;  // NEWTRUE
        case 0x89: push(make_int(PValue::Kind::boolean, 0)); break;  // NEWFALSE
        case 'K': push(make_int(PValue::Kind::integer, u8())); break;  // BININT1
        case 'M': push(make_int(PValue::Kind::integer, le(2))); break;  // BININT2
        case 'J': push(make_int(PValue::Kind::integer, static_cast<int32_t>(le(4)))); break;  // BININT
        case 0x8a: push(make_int(PValue::Kind::integer, long1())); break;  // LONG1
        case 'G': push_float(); break;                                     // BINFLOAT
        case 'X': push_string(le(4)); break;                               // BINUNICODE
        case 0x8c: push_string(u8()); break;                               // SHORT_BINUNICODE
        case ')': push(make(PValue::Kind::tuple)); break;                  // EMPTY_TUPLE
        case ']': push(make(PValue::Kind::list)); break;                   // EMPTY_LIST
        case '}': push(make(PValue::Kind::dict)); break;                   // EMPTY_DICT
        case 't': push(container(PValue::Kind::tuple, pop_mark())); break;  // TUPLE
        case 0x85: push(container(PValue::Kind::tuple, pop_n(1))); break;  // TUPLE1
        case 0x86: push(container(PValue::Kind::tuple, pop_n(2))); break;  // TUPLE2
        case 0x87: push(container(PValue::Kind::tuple, pop_n(3))); break;  // TUPLE3
        case 'a': add_items(pop_n(1), PValue::Kind::list, "APPEND"); break;
        case 'e': add_items(pop_mark(), PValue::Kind::list, "APPENDS"); break;
        case 's': add_items(pop_n(2), PValue::Kind::dict, "SETITEM"); break;
        case 'u': add_items(pop_mark(), PValue::Kind::dict, "SETITEMS"); break;
        case 'q': memo_put(u8()); break;        // BINPUT
        case 'r': memo_put(le(4)); break;       // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        case 'h': memo_get(u8()); break;        // BINGET
        case 'j': memo_get(le(4)); break;       // LONG_BINGET
        case 'c': {  // GLOBAL module\nname\n
          std::string module = line();
          global(module, line());
          break;
        }
        case 0x93: stack_global(); break;       // STACK_GLOBAL
        case 'Q': persid(); break;              // BINPERSID
        case 'R': reduce(); break;              // REDUCE
        case 'b': build(); break;               // BUILD
        default:
          fail("pickle opcode ", opcode_name(op), " (0x", hex(op), ") is not allowed in a state dict");
      }
    }
  }

 private:
  template <class... A>
  [[noreturn]] void fail(const A&... a) {
    ::nerve::detail::throw_error(::nerve::detail::str_cat(name_, ": ", a..., " (at byte ", op_pos_, ")"));
  }
  static std::string hex(uint8_t v) {
    const char* d = "0123456789abcdef";
    return {d[v >> 4], d[v & 15]};
  }

  // --- reading the opcode stream
  const uint8_t* bytes(uint64_t n) {
    if (n > b_.size() - pos_) fail("truncated: the opcode needs ", n, " more bytes, ", b_.size() - pos_, " left");
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return *bytes(1); }
  uint64_t le(int n) {
    const uint8_t* p = bytes(n);
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | p[k];
    return v;
  }
  int64_t long1() {
    const int n = u8();
    if (n > 8) fail("LONG1 of ", n, " bytes does not fit 64 bits");
    if (n == 0) return 0;
    uint64_t v = le(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t start = pos_;
    while (pos_ < b_.size() && b_[pos_] != '\n') ++pos_;
    if (pos_ >= b_.size()) fail("truncated: GLOBAL without its newline");
    std::string s(reinterpret_cast<const char*>(b_.data()) + start, pos_ - start);
    ++pos_;
    return s;
  }

  // --- values and the stack
  static PRef make(PValue::Kind k) {
    auto v = std::make_shared<PValue>();
    v->kind = k;
    return v;
  }
  static PRef make_int(PValue::Kind k, int64_t i) {
    PRef v = make(k);
    v->i = i;
    return v;
  }
  void push(PRef v) { stack_.push_back(std::move(v)); }
  PRef pop() {
    if (stack_.size() == (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    PRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<PRef> pop_n(size_t n) {
    std::vector<PRef> out(n);
    for (size_t k = n; k-- > 0;) out[k] = pop();
    return out;
  }
  std::vector<PRef> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PRef> out(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                          std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return out;
  }
  PRef& top() {
    if (stack_.size() == (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  // Inserting a value into a container freezes it; a frozen container never changes, so no cycle can form and
  // depths are final.
  void adopt(PValue& parent, const PRef& child) {
    if (child.get() == &parent) fail("a container cannot contain itself");
    child->frozen = true;
    if (child->depth + 1 > kMaxDepth) fail("values nest deeper than ", kMaxDepth, " levels");
    parent.depth = std::max(parent.depth, child->depth + 1);
    parent.items.push_back(child);
  }
  PRef container(PValue::Kind k, const std::vector<PRef>& items) {
    PRef v = make(k);
    for (const PRef& c : items) adopt(*v, c);
    v->frozen = true;  // tuples are immutable
    return v;
  }
  void add_items(const std::vector<PRef>& items, PValue::Kind want, const char* op) {
    PRef target = top();
    if (target->kind != want) fail(op, " on a value that is not a ", want == PValue::Kind::list ? "list" : "dict");
    if (target->frozen) fail(op, " on a container already stored elsewhere");
    if (want == PValue::Kind::dict && items.size() % 2) fail(op, " with an odd number of keys and values");
    for (const PRef& c : items) adopt(*target, c);
  }
  void push_string(uint64_t n) {
    const uint8_t* p = bytes(n);
    PRef v = make(PValue::Kind::string);
    v->s.assign(reinterpret_cast<const char*>(p), n);
    push(v);
  }
  void push_float() {
    uint64_t bits = 0;
    const uint8_t* p = bytes(8);
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];  // big-endian
    PRef v = make(PValue::Kind::floating);
    v->f = std::bit_cast<double>(bits);
    push(v);
  }
  void memo_put(uint64_t idx) {
    if (memo_.size() > b_.size()) fail("memo larger than the pickle");
    memo_[idx] = top();
  }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry ", idx, " was never stored");
    push(it->second);
  }

  // --- the allowed globals and calls
  void global(const std::string& module, const std::string& name) {
    const std::string g = module + "." + name;
    for (const char* u : kUnsupportedStorages)
      if (g == u) fail("class '", g, "': nerve has no dtype for its elements");
    if (g != kOrderedDict && g != kRebuildTensor && g != kRebuildParameter && !is_storage_class(g))
      fail("class '", g, "' is not allowed (a state dict holds only ", kOrderedDict, ", ", kRebuildTensor, ", ",
           kRebuildParameter, " and torch storage types)");
    PRef v = make(PValue::Kind::global);
    v->s = g;
    push(v);
  }
  void stack_global() {
    PRef name = pop(), module = pop();
    if (module->kind != PValue::Kind::string || name->kind != PValue::Kind::string)
      fail("STACK_GLOBAL needs two strings");
    global(module->s, name->s);
  }
  void persid() {
    PRef pid = pop();
    push(persistent_load_(*pid));
  }
  void reduce() {
    PRef args = pop(), fn = pop();
    if (fn->kind != PValue::Kind::global) fail("REDUCE of a value that is not a class or function");
    if (args->kind != PValue::Kind::tuple) fail("REDUCE of ", fn->s, " without an argument tuple");
    const auto& a = args->items;
    if (fn->s == kOrderedDict) {
      if (!a.empty()) fail(kOrderedDict, " with arguments");
      push(make(PValue::Kind::dict));
    } else if (fn->s == kRebuildTensor) {
      push(rebuild_tensor(a));
    } else if (fn->s == kRebuildParameter) {  // (data, requires_grad, backward_hooks)
      if (a.size() != 3 || a[0]->kind != PValue::Kind::tensor) fail(kRebuildParameter, " expects (tensor, bool, hooks)");
      push(a[0]);
    } else {
      fail("calling ", fn->s, " is not allowed");
    }
  }
  int64_t int_arg(const PRef& v, const char* what) {
    if (v->kind != PValue::Kind::integer) fail(kRebuildTensor, ": ", what, " is not an integer");
    return v->i;
  }
  Shape ints(const PRef& v, const char* what) {
    if (v->kind != PValue::Kind::tuple) fail(kRebuildTensor, ": ", what, " is not a tuple");
    Shape s;
    for (const PRef& x : v->items) {
      s.push_back(int_arg(x, what));
      if (s.back() < 0) fail(kRebuildTensor, ": negative entry ", s.back(), " in ", what);
    }
    return s;
  }
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  PRef rebuild_tensor(const std::vector<PRef>& a) {
    if (a.size() != 6 && a.size() != 7) fail(kRebuildTensor, " expects 6 or 7 arguments, got ", a.size());
    if (a[0]->kind != PValue::Kind::storage) fail(kRebuildTensor, ": the first argument is not a storage");
    auto t = std::make_shared<LazyTensor>();
    t->storage = a[0]->storage;
    t->offset = int_arg(a[1], "storage_offset");
    t->shape = ints(a[2], "size");
    t->strides = ints(a[3], "stride");
    if (t->offset < 0) fail(kRebuildTensor, ": negative storage_offset ", t->offset);
    if (t->shape.size() != t->strides.size())
      fail(kRebuildTensor, ": size ", to_string(t->shape), " and stride ", to_string(t->strides), " differ in length");
    if (a[5]->kind != PValue::Kind::dict || !a[5]->items.empty()) fail(kRebuildTensor, ": backward hooks are not allowed");
    // the view must lie inside the storage: offset + sum((size - 1) * stride) < numel, all without overflow
    uint64_t n = 1, last = static_cast<uint64_t>(t->offset);
    bool overflow = false;
    for (size_t d = 0; d < t->shape.size(); ++d) {
      uint64_t k = static_cast<uint64_t>(t->shape[d]), span = 0;
      overflow |= __builtin_mul_overflow(n, k, &n);
      if (k > 0) {
        overflow |= __builtin_mul_overflow(k - 1, static_cast<uint64_t>(t->strides[d]), &span);
        overflow |= __builtin_add_overflow(last, span, &last);
      }
    }
    if (overflow || n > uint64_t{INT64_MAX} || last > uint64_t{INT64_MAX})
      fail(kRebuildTensor, ": size ", to_string(t->shape), " with stride ", to_string(t->strides), " overflows");
    if (n > 0 && last >= static_cast<uint64_t>(t->storage->numel))
      fail(kRebuildTensor, ": a view of size ", to_string(t->shape), ", stride ", to_string(t->strides), ", offset ",
           t->offset, " reaches element ", last, " of storage '", t->storage->key, "', which has ", t->storage->numel);
    PRef v = make(PValue::Kind::tensor);
    v->tensor = t;
    return v;
  }
  void build() {  // obj.__setstate__(state): only an OrderedDict's attributes (torch's _metadata), dropped
    PRef state = pop();
    if (top()->kind != PValue::Kind::dict) fail("BUILD on a value that is not an OrderedDict");
  }
  PRef stop() {
    if (!marks_.empty() || stack_.size() != 1) fail("STOP with ", stack_.size(), " values and ", marks_.size(),
                                                    " marks on the stack, expected one value");
    return stack_.back();
  }

  std::span<const uint8_t> b_;
  const std::string& name_;
  const PersistentLoad& persistent_load_;
  size_t pos_ = 0, op_pos_ = 0;
  std::vector<PRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PRef> memo_;
};

}  // namespace

DType storage_dtype(const std::string& global, const std::string& name) {
  for (const auto& s : kStorages)
    if (global == s.name) return s.dtype;
  ::nerve::detail::throw_error(::nerve::detail::str_cat(name, ": '", global, "' is not a storage type"));
}

PRef unpickle(std::span<const uint8_t> bytes, const std::string& name, const PersistentLoad& persistent_load) {
  return Machine(bytes, name, persistent_load).run();
}

}  // namespace nerve::io::detail
