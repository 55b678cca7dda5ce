# gpu/ (docs/GPU.md): the memory planner and the tiling (emulated on the CPU reference kernels) always;
# with a CUDA device, per-op and whole-model parity against the CPU, an 8000x6000 image under a memory
# budget, and the cross-device bitstream test. Without a device those tests are cmocka skips.
# Needs the static library (internal model layers) and the image reader of apps/.
if(TARGET codec_static AND TARGET lic_imageio)
  lic_add_test(test_gpu SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu.c LIBS codec_static lic_imageio)
  # Seconds without a GPU; the device run (Kodak through both backends) takes longer.
  set_tests_properties(test_gpu PROPERTIES TIMEOUT 900)
endif()
