# FindLibZip: libzip as the imported target libzip::zip, the name libzip's own CMake package gives it. Used by
# nerve's build and installed beside nerveConfig.cmake (the static libnerve.a needs it at link time), as
# FindDNNL.cmake is.
#
# A libzip::zip that already exists is used as it is. Otherwise the header and the library are looked up
# directly: Debian's libzip-config.cmake (libzip-dev 1.7.3) also imports the command-line tools zipcmp, zipmerge
# and ziptool and stops the configure when they are not installed, which libzip-dev does not require.
# Sets LibZip_FOUND, LibZip_VERSION, LibZip_INCLUDE_DIR and LibZip_LIBRARY.
include(FindPackageHandleStandardArgs)

if(TARGET libzip::zip)
  set(LibZip_FOUND TRUE)
  return()
endif()

find_path(LibZip_INCLUDE_DIR zip.h)
find_library(LibZip_LIBRARY NAMES zip)
find_file(_libzip_conf_h zipconf.h HINTS ${LibZip_INCLUDE_DIR} PATH_SUFFIXES x86_64-linux-gnu)
if(_libzip_conf_h)
  file(STRINGS "${_libzip_conf_h}" _line REGEX "^#define LIBZIP_VERSION \"[0-9.]+\"")
  string(REGEX REPLACE "^#define LIBZIP_VERSION \"([0-9.]+)\".*" "\\1" LibZip_VERSION "${_line}")
endif()
unset(_libzip_conf_h CACHE)

find_package_handle_standard_args(LibZip REQUIRED_VARS LibZip_LIBRARY LibZip_INCLUDE_DIR VERSION_VAR LibZip_VERSION)
if(LibZip_FOUND)
  add_library(libzip::zip UNKNOWN IMPORTED)
  set_target_properties(libzip::zip PROPERTIES IMPORTED_LOCATION "${LibZip_LIBRARY}"
                                               INTERFACE_INCLUDE_DIRECTORIES "${LibZip_INCLUDE_DIR}")
endif()
mark_as_advanced(LibZip_INCLUDE_DIR LibZip_LIBRARY)
