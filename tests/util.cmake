# util/, the internal layer of every module: fixed-point helpers, hash, logger, allocator wrapper.
lic_add_test(test_util SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_util.c LIBS lic_util)
