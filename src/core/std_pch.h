// The standard headers most of nerve's sources include, precompiled once for the layers that share one set of
// compiler flags (CMake option NERVE_PCH, see CMakeLists.txt): parsing them took ~2 s of every translation unit.
// Standard headers only, so a source still has to include the nerve headers it uses (the layer check reads those).
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
