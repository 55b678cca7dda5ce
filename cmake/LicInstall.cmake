# Installation of libcodec: the shared library, the public headers (include/lic/), a pkg-config file
# (lic.pc) and a CMake package (licConfig.cmake, licConfigVersion.cmake, licTargets.cmake) that
# exports the imported target lic::codec. Included at the end of the top-level CMakeLists.txt, after
# every target exists. The CLIs install themselves from apps/CMakeLists.txt.
#
# Both package files are relocatable: `cmake --install build --prefix DIR` works for any DIR, whatever
# CMAKE_INSTALL_PREFIX was at configure time.

if(TARGET codec)
  include(CMakePackageConfigHelpers)

  set(LIC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lic)
  set(LIC_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

  install(TARGETS codec EXPORT licTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

  # Everything under codec/include/lic/ is public API by definition; internal headers live elsewhere.
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/codec/include/lic
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h")

  # ---- CMake package: find_package(lic CONFIG) -> lic::codec -----------------------------------
  install(EXPORT licTargets
    NAMESPACE lic::
    FILE licTargets.cmake
    DESTINATION ${LIC_CMAKE_DIR})
  configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/licConfig.cmake.in
    ${PROJECT_BINARY_DIR}/licConfig.cmake
    INSTALL_DESTINATION ${LIC_CMAKE_DIR})
  # 0.x releases may break the API at every minor version, so only the same MAJOR.MINOR matches.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/licConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/licConfig.cmake ${PROJECT_BINARY_DIR}/licConfigVersion.cmake
    DESTINATION ${LIC_CMAKE_DIR})

  # ---- pkg-config: lic.pc ------------------------------------------------------------------------
  # The prefix is written relative to the .pc file's own directory (${pcfiledir}, understood by
  # pkg-config and pkgconf), so the file stays right when the install prefix is chosen at install time.
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(LIC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH LIC_PC_UP "/lic-prefix/${LIC_PKGCONFIG_DIR}" "/lic-prefix")
    string(REGEX REPLACE "/$" "" LIC_PC_UP "${LIC_PC_UP}")
    set(LIC_PC_PREFIX "\${pcfiledir}/${LIC_PC_UP}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(LIC_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  else()
    set(LIC_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(LIC_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(LIC_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/lic.pc.in ${PROJECT_BINARY_DIR}/lic.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/lic.pc DESTINATION ${LIC_PKGCONFIG_DIR})
endif()
