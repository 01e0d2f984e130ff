// How a descriptor's parameter list (P0(), P1(a, default_a), P2(a, default_a, b, default_b) in
// unary_ops.def) becomes a declaration, a definition, an argument list, a binding and a registry entry: each
// macro pastes its prefix onto P0/P1/P2, so `NERVE_PARAM_DECL(P1(slope, 0.01))` is `, double slope = 0.01`.
#pragma once

#define NERVE_PARAM_DECL(params) NERVE_PARAM_DECL_##params
#define NERVE_PARAM_DECL_P0()
#define NERVE_PARAM_DECL_P1(a, da) , double a = da
#define NERVE_PARAM_DECL_P2(a, da, b, db) , double a = da, double b = db

#define NERVE_PARAM_DEF(params) NERVE_PARAM_DEF_##params
#define NERVE_PARAM_DEF_P0()
#define NERVE_PARAM_DEF_P1(a, da) , double a
#define NERVE_PARAM_DEF_P2(a, da, b, db) , double a, double b

/// The names, for a braced list: {a, b}.
#define NERVE_PARAM_ARGS(params) NERVE_PARAM_ARGS_##params
#define NERVE_PARAM_ARGS_P0()
#define NERVE_PARAM_ARGS_P1(a, da) a
#define NERVE_PARAM_ARGS_P2(a, da, b, db) a, b

/// {name, default} pairs, for a braced list.
#define NERVE_PARAM_INFO(params) NERVE_PARAM_INFO_##params
#define NERVE_PARAM_INFO_P0()
#define NERVE_PARAM_INFO_P1(a, da) {#a, da}
#define NERVE_PARAM_INFO_P2(a, da, b, db) {#a, da}, {#b, db}

/// Local constants of type T named as the parameters, read from `p` (an array of the values in order).
#define NERVE_BIND(T, params) \
  using NerveParamT [[maybe_unused]] = T; \
  NERVE_BIND_##params
#define NERVE_BIND_P0()
#define NERVE_BIND_P1(a, da) [[maybe_unused]] const NerveParamT a = static_cast<NerveParamT>(p[0]);
#define NERVE_BIND_P2(a, da, b, db)                                     \
  [[maybe_unused]] const NerveParamT a = static_cast<NerveParamT>(p[0]); \
  [[maybe_unused]] const NerveParamT b = static_cast<NerveParamT>(p[1]);

/// The number of parameters.
#define NERVE_PARAM_COUNT(params) NERVE_PARAM_COUNT_##params
#define NERVE_PARAM_COUNT_P0() 0
#define NERVE_PARAM_COUNT_P1(a, da) 1
#define NERVE_PARAM_COUNT_P2(a, da, b, db) 2
