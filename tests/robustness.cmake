# Robustness tests (docs/SECURITY.md): allocation failures and the allocator hook, the bit-flip and
# truncation sweep over real bitstreams, and many threads sharing one model. The fuzz targets and
# their replays are in tests/fuzz.cmake.
if(TARGET codec_static)
  lic_add_test(test_alloc_fail SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_alloc_fail.c LIBS codec_static)
  lic_add_test(test_sweep SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sweep.c LIBS codec_static)
  lic_add_test(test_threads SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_threads.c LIBS codec_static)
  set_tests_properties(test_alloc_fail test_sweep test_threads PROPERTIES TIMEOUT 600)
endif()
