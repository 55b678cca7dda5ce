# Robustness tests (docs/SECURITY.md): allocation failures and the allocator hook, the bit-flip and
# truncation sweep over real bitstreams, and many threads sharing one model. The fuzz targets and
# their replays are in tests/fuzz.cmake.
if(TARGET codec_static)
  lic_add_test(test_alloc_fail SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_alloc_fail.c LIBS codec_static)
  lic_add_test(test_sweep SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sweep.c LIBS codec_static)
  lic_add_test(test_threads SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_threads.c LIBS codec_static)
  set_tests_properties(test_alloc_fail test_sweep test_threads PROPERTIES TIMEOUT 600)
endif()
# The batch API: batch == single, per-item errors, the memory cap of the whole batch, allocation
# failures (tests/test_batch.c). Runs threads: scripts/test_sanitize.sh also runs it under TSan.
if(TARGET codec_static AND EXISTS ${PROJECT_SOURCE_DIR}/testdata/models/tiny.licw)
  lic_add_test(test_batch SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_batch.c LIBS codec_static)
  set_tests_properties(test_batch PROPERTIES TIMEOUT 600)
endif()
