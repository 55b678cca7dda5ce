# Codec pipeline tests through the public API (white-box build against the static library).
lic_add_test(test_codec SOURCES test_codec.c LIBS codec_static)
lic_add_test(test_container SOURCES test_container.c LIBS codec_static)
# Benchmark of the container's checks against a decode (docs/FORMAT.md §3.4); built, not run by ctest.
add_executable(bench_container bench_container.c)
target_include_directories(bench_container PRIVATE ${LIC_ROOT_INCLUDES})
target_link_libraries(bench_container PRIVATE codec_static)
