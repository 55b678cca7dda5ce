# Float layers of transforms/: hand-computed reference cases, fast vs reference kernels, thread
# determinism, validation. test_layers runs the reference kernels; test_layers_avx2 and
# test_layers_avx512 also that kernel table (skipped, via LIC_TEST_SKIP, where the build or CPU lacks it).
lic_add_test(test_layers SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_layers.c LIBS lic_transforms)
foreach(k avx2 avx512)
  add_test(NAME test_layers_${k} COMMAND test_layers --kernel ${k} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_layers_${k} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
