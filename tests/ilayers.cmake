# Integer conv layers of the probability path (transforms/ilayers.h).
# lic_transforms picks up transforms/ilayers.c and transforms/cpu/iconv_*.c by glob; until that wiring
# exists the test compiles them itself (transitional: the branch goes dead once lic_transforms has them).
set(_ilayers_extra "")
get_target_property(_xf_srcs lic_transforms SOURCES)
if(NOT "${_xf_srcs}" MATCHES "ilayers\\.c")
  file(GLOB _ilayers_extra ${PROJECT_SOURCE_DIR}/transforms/ilayers.c
       ${PROJECT_SOURCE_DIR}/transforms/cpu/iconv_*.c)
endif()
lic_add_test(test_ilayers SOURCES ${PROJECT_SOURCE_DIR}/tests/test_ilayers.c ${_ilayers_extra}
             LIBS lic_transforms)
