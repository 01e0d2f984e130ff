// Kernels compiled for AVX-512, AVX2 and baseline x86-64, one picked at load time by the CPU (GCC function
// multiversioning). Under ThreadSanitizer there is one version: the loader calls the version resolvers before
// the sanitizer's runtime is up, and its instrumentation of them crashes.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define NERVE_SIMD_CLONES
#define NERVE_SIMD_CLONES_V
#else
/// AVX-512F, AVX2 and baseline versions.
#define NERVE_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/// x86-64-v4 (AVX-512 with BW/DQ/VL), x86-64-v3 (AVX2 + FMA) and baseline versions.
#define NERVE_SIMD_CLONES_V __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
