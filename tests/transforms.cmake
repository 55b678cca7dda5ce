# Float layers of transforms/: reference vs fast kernels, thread determinism, validation.
lic_add_test(test_layers SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_layers.c LIBS lic_transforms)
