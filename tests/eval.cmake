# Tests of apps/metrics (PSNR, MS-SSIM used by lic-eval); needs neither libcodec nor image files.
if(TARGET lic_metrics)
  lic_add_test(test_metrics SOURCES ${PROJECT_SOURCE_DIR}/tests/test_metrics.c LIBS lic_metrics)
endif()

# lic-eval end to end: an RGB and a gray image, two qualities, one timed repetition (the repeated
# encode). It exits non-zero if a decoder's hashes differ from its encoder's or the repeated encode
# changes bytes. It uses the untrained tiny model, so its bpp and PSNR are not checked here; the
# rate-distortion of the shipped model is checked by test_rd (tests/rd.cmake).
if(TARGET lic-eval AND EXISTS ${PROJECT_SOURCE_DIR}/testdata/models/tiny.licw)
  add_test(NAME eval_smoke
           COMMAND lic-eval testdata/images/768x512.png testdata/images/gray_17x33.png --q 20,80 --time 1
                   --model testdata/models/tiny.licw --json ${CMAKE_CURRENT_BINARY_DIR}/eval_smoke.json
                   --csv ${CMAKE_CURRENT_BINARY_DIR}/eval_smoke.csv
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(eval_smoke PROPERTIES TIMEOUT 60)
endif()
