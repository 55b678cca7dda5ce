# Codec pipeline tests through the public API (white-box build against the static library).
lic_add_test(test_codec SOURCES test_codec.c LIBS codec_static)
lic_add_test(test_container SOURCES test_container.c LIBS codec_static)
# The model reference count (lic_model_retain/lic_model_release), seen through a counting allocator.
lic_add_test(test_model_refs SOURCES test_model_refs.c LIBS codec_static)
# Benchmark of the container's checks against a decode (docs/FORMAT.md §3.4); built, not run by ctest.
add_executable(bench_container bench_container.c)
target_include_directories(bench_container PRIVATE ${LIC_ROOT_INCLUDES})
target_link_libraries(bench_container PRIVATE codec_static)

# The second architecture, lic-hp1, from a tiny untrained model that lic-mkmodel writes here.
if(TARGET lic-mkmodel)
  set(LIC_HP1_MODEL ${CMAKE_CURRENT_BINARY_DIR}/tiny_hp1.licw)
  add_custom_command(OUTPUT ${LIC_HP1_MODEL}
    COMMAND lic-mkmodel --preset tiny --arch lic-hp1 -o ${LIC_HP1_MODEL}
    DEPENDS lic-mkmodel VERBATIM)
  add_custom_target(lic_hp1_model ALL DEPENDS ${LIC_HP1_MODEL})
  add_executable(test_arch test_arch.c)
  target_include_directories(test_arch PRIVATE ${LIC_ROOT_INCLUDES} ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(test_arch PRIVATE codec_static ${CMOCKA_LIBRARY} Threads::Threads ${LIC_LIBM})
  add_dependencies(test_arch lic_hp1_model)
  add_test(NAME test_arch COMMAND test_arch ${LIC_HP1_MODEL} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
# Tiled transforms equal whole ones and bound the working memory (codec/tiles.h); besides the tiny and
# shipped models, a tiny one whose g_s upsamples with transposed convs (--gs-up 0) and lic-hp1.
if(EXISTS ${PROJECT_SOURCE_DIR}/testdata/models/tiny.licw AND TARGET lic-mkmodel)
  set(LIC_TCONV_MODEL ${CMAKE_CURRENT_BINARY_DIR}/tiny_tconv.licw)
  add_custom_command(OUTPUT ${LIC_TCONV_MODEL}
    COMMAND lic-mkmodel --preset tiny --gs-up 0 -o ${LIC_TCONV_MODEL}
    DEPENDS lic-mkmodel VERBATIM)
  add_custom_target(lic_tconv_model ALL DEPENDS ${LIC_TCONV_MODEL})
  add_executable(test_tiles test_tiles.c)
  target_include_directories(test_tiles PRIVATE ${LIC_ROOT_INCLUDES} ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(test_tiles PRIVATE codec_static ${CMOCKA_LIBRARY} Threads::Threads ${LIC_LIBM})
  add_dependencies(test_tiles lic_tconv_model lic_hp1_model)
  add_test(NAME test_tiles COMMAND test_tiles ${LIC_TCONV_MODEL} ${LIC_HP1_MODEL}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
# Entropy coding by tile of the latent (codec/entropy_tiles.h): round trips, thread independence,
# damaged tiles, memory; with the tiny lic-hp1 model as well where lic-mkmodel is built.
add_executable(test_entropy_tiles test_entropy_tiles.c)
target_include_directories(test_entropy_tiles PRIVATE ${LIC_ROOT_INCLUDES} ${CMOCKA_INCLUDE_DIR})
target_link_libraries(test_entropy_tiles PRIVATE codec_static ${CMOCKA_LIBRARY} Threads::Threads ${LIC_LIBM})
if(TARGET lic_hp1_model)
  add_dependencies(test_entropy_tiles lic_hp1_model)
endif()
add_test(NAME test_entropy_tiles COMMAND test_entropy_tiles ${LIC_HP1_MODEL} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
