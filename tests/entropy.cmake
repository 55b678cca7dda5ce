# Tests of the entropy module (entropy/) and of the offline CDF builder (tools/cdf_build.c).
# tools/CMakeLists.txt includes tools/cdf_build.cmake; until it does, pull it in here.
if(NOT TARGET lic_cdf_build)
  include(${PROJECT_SOURCE_DIR}/tools/cdf_build.cmake)
endif()

lic_add_test(test_entropy_coder
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_entropy_coder.c
  LIBS lic_entropy lic_cdf_build)
lic_add_test(test_entropy_cdf_build
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_entropy_cdf_build.c
  LIBS lic_entropy lic_cdf_build)
lic_add_test(test_entropy_model
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_entropy_model.c
  LIBS lic_entropy)
