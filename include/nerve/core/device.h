// Devices: where a tensor's data lives. `cpu` holds memory; `meta` holds shapes and dtypes only (no memory), so a
// whole model runs for its shapes, parameter counts and summary without allocating, as PyTorch's meta device.
#pragma once
#include <cstdint>
#include <ostream>

namespace nerve {

enum class Device : uint8_t { cpu, meta };

inline constexpr const char* device_name(Device d) { return d == Device::meta ? "meta" : "cpu"; }
inline std::ostream& operator<<(std::ostream& os, Device d) { return os << device_name(d); }

/// The device creation functions (empty, zeros, randn, ...) use when none is given: cpu unless a DeviceGuard
/// says otherwise on this thread.
Device default_device();

/// Sets the default device of this thread for its lifetime (PyTorch's `with torch.device("meta"):`). Ops ignore
/// it: their results live on their inputs' device.
///   { DeviceGuard meta(Device::meta); nn::Linear big(100000, 100000); }  // 40 GB of weights, none allocated
class DeviceGuard {
 public:
  explicit DeviceGuard(Device d);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  Device prev_;
};

}  // namespace nerve
