# gpu/ (docs/GPU.md). test_gpu_int: the integer kernels of the probability path (gpu/int_kernels.h) in
# their host emulation against the CPU kernels, always; test_gpu_int_device: the same on CUDA device 0
# (skipped without one). test_gpu: the memory planner and the tiling (emulated on the CPU reference
# kernels), device queries and backend selection without a device; always runs. test_gpu_device:
# per-op and whole-model parity against the CPU, an 8000x6000 image under a memory budget and the
# cross-device bitstream test; without a CUDA device it exits with LIC_TEST_SKIP (tests/test_support.h)
# and ctest reports it as skipped. Needs the static library (internal model layers) and the image
# reader of apps/.
if(TARGET codec_static AND TARGET lic_imageio)
  lic_add_test(test_gpu SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu.c LIBS codec_static lic_imageio)
  add_test(NAME test_gpu_device COMMAND test_gpu --device WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Seconds without a GPU; the device run (Kodak through both backends) takes longer.
  set_tests_properties(test_gpu_device PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
  # The op-list plan is checked on the second architecture too (codec.cmake writes its model).
  if(DEFINED LIC_HP1_MODEL)
    add_dependencies(test_gpu lic_hp1_model)
    set_tests_properties(test_gpu PROPERTIES ENVIRONMENT "LIC_TEST_HP1_MODEL=${LIC_HP1_MODEL}")
  endif()
  lic_add_test(test_gpu_int SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu_int.c LIBS codec_static lic_imageio)
  add_test(NAME test_gpu_int_device COMMAND test_gpu_int --device WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_gpu_int_device PROPERTIES SKIP_RETURN_CODE 77)
endif()
