# Tests of the .licw parser and the lic-ctx1 model builder (codec/licw.c, codec/model.c). They are
# compiled into the test directly (white-box, no dependency on the rest of libcodec) and need the
# integer-layer and CDF-table validators of lic_transforms / lic_entropy, and the .licw writer.
lic_add_test(test_model
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c
          ${PROJECT_SOURCE_DIR}/codec/licw.c ${PROJECT_SOURCE_DIR}/codec/model.c
  LIBS lic_entropy lic_transforms lic_licw_writer)
