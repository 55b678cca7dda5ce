# Build-hygiene tests, run by ctest like the module tests:
#   layering    tests/check_layering.sh: forbidden #include edges, `../` includes, duplicate basenames
#   layering_selftest  the same script on a generated tree with planted violations: the check can fail
#   headers_c99 the public-header compile test of tests/headers.cmake (rebuilds that target; a no-op
#               when the build is up to date, so it only reports what the build already checked)
#   install     tests/install/run.sh: cmake --install into a temporary prefix, then an out-of-tree
#               program built with pkg-config and with find_package(lic CONFIG) against it

add_test(NAME layering
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/check_layering.sh ${PROJECT_SOURCE_DIR})

add_test(NAME layering_selftest
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/check_layering.sh --self-test)

add_test(NAME headers_c99
  COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target lic_headers_c99)

# Not under sanitizers: an out-of-tree program linking an ASan-instrumented libcodec would need the
# ASan runtime preloaded, which tests the sanitizer setup rather than the install.
if(TARGET codec AND NOT LIC_SANITIZE)
  add_test(NAME install
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/run.sh ${CMAKE_BINARY_DIR}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
