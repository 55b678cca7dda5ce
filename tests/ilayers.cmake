# Integer conv layers of the probability path (transforms/ilayers.h).
lic_add_test(test_ilayers SOURCES ${PROJECT_SOURCE_DIR}/tests/test_ilayers.c LIBS lic_transforms)
