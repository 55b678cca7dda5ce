# Public-header self-containment test (built with the tests, so a failure breaks the build): for each
# codec/include/lic/*.h, a generated translation unit that includes only that header — twice, to check
# its include guard — compiled as strict C99 with nothing but codec/include on the include path. This
# is what a user of an installed lic gets, so the public headers must stay C99 and self-contained.
# ctest re-checks it through the `headers_c99` test (tests/build.cmake).

file(GLOB LIC_PUBLIC_HEADERS RELATIVE ${PROJECT_SOURCE_DIR}/codec/include
  CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/codec/include/lic/*.h)

set(lic_header_tus "")
foreach(h ${LIC_PUBLIC_HEADERS})
  string(MAKE_C_IDENTIFIER ${h} id)
  set(tu ${CMAKE_CURRENT_BINARY_DIR}/headers_c99/${id}.c)
  # file(GENERATE) rewrites only on change, so reconfiguring does not recompile these.
  # The typedef keeps a macro-only header (version.h) from being an empty TU, which -pedantic rejects.
  file(GENERATE OUTPUT ${tu} CONTENT "#include <${h}>\n#include <${h}>\ntypedef int lic_header_tu_not_empty;\n")
  list(APPEND lic_header_tus ${tu})
endforeach()

add_library(lic_headers_c99 OBJECT ${lic_header_tus})
# Only the public include dir: a header that reaches into the source tree fails here.
target_include_directories(lic_headers_c99 PRIVATE ${PROJECT_SOURCE_DIR}/codec/include)
set_target_properties(lic_headers_c99 PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(lic_headers_c99 PRIVATE -Wall -Wextra -Werror -pedantic)
