# Tests of apps/: the image I/O unit test (needs no libcodec) and the CLI test script (needs the
# lic-encode and lic-decode executables, so only when libcodec is built).
if(TARGET lic_imageio)
  lic_add_test(test_image_io SOURCES ${PROJECT_SOURCE_DIR}/tests/test_image_io.c LIBS lic_imageio)
  # The output files of the CLIs (apps/output.c needs only the exit codes of cli_common.h).
  lic_add_test(test_app_output SOURCES ${PROJECT_SOURCE_DIR}/tests/test_app_output.c
               ${PROJECT_SOURCE_DIR}/apps/output.c)
endif()

# The library calls the CLIs use to refuse an input before work: size checks and the .lic magic.
if(TARGET codec AND EXISTS ${PROJECT_SOURCE_DIR}/testdata/models/tiny.licw)
  lic_add_test(test_size_check SOURCES ${PROJECT_SOURCE_DIR}/tests/test_size_check.c LIBS codec)
endif()

if(TARGET lic-encode AND TARGET lic-decode)
  find_program(LIC_BASH bash)
  if(LIC_BASH)
    # Exit status 77 (no testdata/models/tiny.licw yet) is reported as "skipped", not "passed".
    add_test(NAME cli_test
             COMMAND ${LIC_BASH} ${PROJECT_SOURCE_DIR}/tests/cli/cli_test.sh
                     $<TARGET_FILE:lic-encode> $<TARGET_FILE:lic-decode>
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(cli_test PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endif()

# lic-eval's error handling: output paths checked first, failures named and (--keep-going) recorded.
if(TARGET lic-eval)
  find_program(LIC_BASH bash)
  if(LIC_BASH)
    add_test(NAME eval_errors
             COMMAND ${LIC_BASH} ${PROJECT_SOURCE_DIR}/tests/cli/eval_test.sh $<TARGET_FILE:lic-eval>
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(eval_errors PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  endif()
endif()
