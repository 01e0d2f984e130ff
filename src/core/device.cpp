// The thread's default device for creation functions (see nerve/core/device.h).
#include "nerve/core/device.h"

namespace nerve {

namespace {
thread_local Device t_default = Device::cpu;
}

Device default_device() { return t_default; }
DeviceGuard::DeviceGuard(Device d) : prev_(t_default) { t_default = d; }
DeviceGuard::~DeviceGuard() { t_default = prev_; }

}  // namespace nerve
