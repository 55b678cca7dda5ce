# Tests of the .licw parser and the lic-ctx1 model builder (codec/licw.c, codec/model.c), white-box
# through the static library, with the .licw writer to build malformed files.
lic_add_test(test_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c LIBS codec_static lic_licw_writer)
