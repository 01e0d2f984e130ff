// Grad mode: a thread-local switch; NoGradGuard turns recording off for a scope, EnableGradGuard back on.
#pragma once

namespace nerve {

bool grad_enabled();
void set_grad_enabled(bool on);

/// Disables gradient recording for the current scope.  { NoGradGuard g; y = model(x); }
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Enables gradient recording for the current scope (PyTorch's torch.enable_grad), e.g. inside no_grad code.
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace nerve
