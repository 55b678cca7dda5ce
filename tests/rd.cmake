# Rate-distortion of the shipped default model on testdata/photos against tests/rd_reference.txt:
# bpp and PSNR rise with q and stay within the margins stated in tests/test_rd.c. When the default
# model changes, regenerate the reference with `build/bin/test_rd --write tests/rd_reference.txt`.
if(TARGET lic_imageio)
  lic_add_test(test_rd SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rd.c LIBS codec_static lic_imageio)
  set_tests_properties(test_rd PROPERTIES TIMEOUT 300)
endif()
