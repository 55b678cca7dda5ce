# lic_cdf_build: offline CDF construction (tools/cdf_build.h) for the model generator and the tests.
# Included from tools/CMakeLists.txt; paths are relative to this file so any includer works.
add_library(lic_cdf_build STATIC ${CMAKE_CURRENT_LIST_DIR}/cdf_build.c)
target_include_directories(lic_cdf_build PUBLIC ${LIC_ROOT_INCLUDES})
if(LIC_LIBM)
  target_link_libraries(lic_cdf_build PUBLIC ${LIC_LIBM})
endif()
