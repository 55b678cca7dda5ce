# Integer conv layers of the probability path (transforms/ilayers.h). test_ilayers tests the reference
# kernel against naive sums; test_ilayers_avx2 and test_ilayers_avx512 (the AVX-512 VNNI kernel) also
# that SIMD kernel, bit for bit. One build tests all three; an entry whose kernel the build or the CPU
# lacks exits with LIC_TEST_SKIP (tests/test_support.h), which ctest reports as skipped.
lic_add_test(test_ilayers SOURCES ${PROJECT_SOURCE_DIR}/tests/test_ilayers.c LIBS lic_transforms)
foreach(k avx2 avx512)
  add_test(NAME test_ilayers_${k} COMMAND test_ilayers --kernel ${k} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_ilayers_${k} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
