# FindDNNL: oneDNN (libdnnl) as the imported target DNNL::dnnl, the name oneDNN's own CMake package gives it.
# Used by nerve's build and installed beside nerveConfig.cmake, so a project that links the static libnerve.a finds
# oneDNN on its own machine instead of a path baked in at nerve's build time.
#
# A DNNL::dnnl that already exists (the project loaded oneDNN's package itself) is used as it is. Otherwise the
# header and the library are looked up directly (DNNL_ROOT or CMAKE_PREFIX_PATH for other prefixes): Debian's
# dnnl-config.cmake (libdnnl-dev 2.6) calls find_package(OpenCL REQUIRED) for its GPU runtime and stops the
# configure when the OpenCL headers are absent, which libdnnl-dev does not install and the CPU library does not need.
# Sets DNNL_FOUND, DNNL_VERSION, DNNL_INCLUDE_DIR and DNNL_LIBRARY.
include(FindPackageHandleStandardArgs)

if(TARGET DNNL::dnnl)
  set(DNNL_FOUND TRUE)
  return()
endif()

find_path(DNNL_INCLUDE_DIR dnnl.h)
find_library(DNNL_LIBRARY NAMES dnnl)
set(_dnnl_version_h "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
if(DNNL_INCLUDE_DIR AND EXISTS "${_dnnl_version_h}")
  foreach(part MAJOR MINOR PATCH)
    file(STRINGS "${_dnnl_version_h}" _line REGEX "^#define DNNL_VERSION_${part} +[0-9]+")
    string(REGEX REPLACE "^#define DNNL_VERSION_${part} +([0-9]+).*" "\\1" _dnnl_${part} "${_line}")
  endforeach()
  set(DNNL_VERSION "${_dnnl_MAJOR}.${_dnnl_MINOR}.${_dnnl_PATCH}")
endif()
unset(_dnnl_version_h)

find_package_handle_standard_args(DNNL REQUIRED_VARS DNNL_LIBRARY DNNL_INCLUDE_DIR VERSION_VAR DNNL_VERSION)
if(DNNL_FOUND)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
endif()
mark_as_advanced(DNNL_INCLUDE_DIR DNNL_LIBRARY)
