# lic-bench-conv: timings of the float layers, C reference vs fast path (not installed, not a test).
# Included from tools/CMakeLists.txt; paths are relative to this file so any includer works.
add_executable(lic-bench-conv ${CMAKE_CURRENT_LIST_DIR}/bench_conv.c)
target_include_directories(lic-bench-conv PRIVATE ${LIC_ROOT_INCLUDES})
target_link_libraries(lic-bench-conv PRIVATE lic_transforms Threads::Threads ${LIC_LIBM})
