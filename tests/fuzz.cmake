# Fuzz targets (tests/fuzz/fuzz_*.c). Each target is built twice:
#   fuzz_replay_<name>  always, with any compiler: the target plus tests/fuzz/replay_main.c, a plain
#                       program that ctest runs over the seed corpus tests/fuzz/corpus/<name>/, the
#                       crash regressions testdata/corrupt/<name>/ and the repository's own test files;
#   fuzz_<name>         with -DLIC_FUZZ=ON (clang and -DLIC_SANITIZE=ON required): a libFuzzer binary.
#                       scripts/fuzz.sh runs them; docs/SECURITY.md says how.
# In a LIC_FUZZ build every library object is compiled with -fsanitize=fuzzer-no-link (coverage and
# comparison tracing), so use a dedicated build directory for it (build-fuzz).

set(LIC_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(LIC_FUZZ_CORRUPT ${PROJECT_SOURCE_DIR}/testdata/corrupt)

set(LIC_FUZZ_ENABLED OFF)
if(LIC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LIC_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang")
  endif()
  if(NOT LIC_SANITIZE)
    message(FATAL_ERROR "LIC_FUZZ needs -DLIC_SANITIZE=ON: fuzzing without ASan/UBSan misses most bugs")
  endif()
  set(LIC_FUZZ_ENABLED ON)
  foreach(t lic_util lic_codec_core lic_entropy lic_transforms lic_gpu lic_imageio)
    if(TARGET ${t})
      # C sources only: the CUDA sources of lic_gpu go through nvcc and its host compiler.
      set_property(TARGET ${t} APPEND PROPERTY COMPILE_OPTIONS $<$<COMPILE_LANGUAGE:C>:-fsanitize=fuzzer-no-link>)
    endif()
  endforeach()
endif()

# lic_fuzz_target(name LIBS libs... [SEEDS extra seed files or directories...])
function(lic_fuzz_target name)
  cmake_parse_arguments(F "" "" "LIBS;SEEDS" ${ARGN})
  set(src ${LIC_FUZZ_DIR}/fuzz_${name}.c)
  set(defs LIC_FUZZ_TINY_MODEL="${PROJECT_SOURCE_DIR}/testdata/models/tiny.licw"
           LIC_FUZZ_TINY_DECONV_MODEL="${PROJECT_SOURCE_DIR}/testdata/models/tiny_deconv.licw")

  add_executable(fuzz_replay_${name} ${src} ${LIC_FUZZ_DIR}/replay_main.c)
  target_include_directories(fuzz_replay_${name} PRIVATE ${LIC_ROOT_INCLUDES})
  target_compile_definitions(fuzz_replay_${name} PRIVATE ${defs})
  target_link_libraries(fuzz_replay_${name} PRIVATE ${F_LIBS} Threads::Threads ${LIC_LIBM})
  add_test(NAME fuzz_replay_${name}
           COMMAND fuzz_replay_${name} ${LIC_FUZZ_DIR}/corpus/${name} ${LIC_FUZZ_CORRUPT}/${name} ${F_SEEDS}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(fuzz_replay_${name} PROPERTIES TIMEOUT 300 LABELS fuzz)

  if(LIC_FUZZ_ENABLED)
    add_executable(fuzz_${name} ${src})
    target_include_directories(fuzz_${name} PRIVATE ${LIC_ROOT_INCLUDES})
    target_compile_definitions(fuzz_${name} PRIVATE ${defs})
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS} Threads::Threads ${LIC_LIBM})
  endif()
endfunction()

if(TARGET codec_static)
  lic_fuzz_target(decode LIBS codec_static SEEDS ${PROJECT_SOURCE_DIR}/testdata/bitstreams)
  lic_fuzz_target(container LIBS codec_static SEEDS ${PROJECT_SOURCE_DIR}/testdata/bitstreams)
  lic_fuzz_target(model LIBS codec_static SEEDS ${PROJECT_SOURCE_DIR}/testdata/models)
  lic_fuzz_target(roundtrip LIBS codec_static)
endif()
if(TARGET lic_entropy)
  lic_fuzz_target(entropy LIBS lic_entropy)
endif()
if(TARGET lic_imageio)
  lic_fuzz_target(imageio LIBS lic_imageio SEEDS ${PROJECT_SOURCE_DIR}/testdata/images)
endif()
