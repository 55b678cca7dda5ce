# Python tests of the training/export tooling (tests/python: the bit-exact PyTorch mirror of the
# codec, the independent check of the conformance vectors; train/test_*.py: CDF construction, integer
# export). They need Debian's python3-torch, python3-numpy and python3-pil (scripts/setup.sh
# --with-python). LIC_PYTHON_TESTS (default ON) makes configuring fail when they are missing, so that
# CI cannot pass without running them; a developer without PyTorch configures with
# -DLIC_PYTHON_TESTS=OFF and the tests are not registered (said once at configure time).
option(LIC_PYTHON_TESTS "Register the Python (PyTorch mirror) tests; fail to configure if torch is missing" ON)
if(LIC_PYTHON_TESTS)
  set(LIC_PYTHON3 /usr/bin/python3)
  set(LIC_PY_TORCH_RC 1)
  if(EXISTS ${LIC_PYTHON3})
    execute_process(COMMAND ${LIC_PYTHON3} -c "import torch, numpy, PIL"
                    RESULT_VARIABLE LIC_PY_TORCH_RC OUTPUT_QUIET ERROR_VARIABLE LIC_PY_ERR)
  endif()
  if(NOT LIC_PY_TORCH_RC EQUAL 0)
    message(FATAL_ERROR "LIC_PYTHON_TESTS: ${LIC_PYTHON3} cannot import torch, numpy and PIL "
                        "(${LIC_PY_ERR}). Install them with scripts/setup.sh --with-python, or configure "
                        "with -DLIC_PYTHON_TESTS=OFF to leave the Python tests out.")
  endif()
  add_test(NAME python_mirror
           COMMAND ${LIC_PYTHON3} -m unittest discover -s tests/python
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME python_train
           COMMAND ${LIC_PYTHON3} -m unittest discover -s train -p "test_*.py"
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # The Python model classes against the C builders: schedules, exports, coded symbols, and the C
  # round trip of a Python-exported lic-hp1 model (tests/python/arch_check.py).
  if(TARGET test_arch AND TARGET lic-oplist AND TARGET lic-encode)
    add_test(NAME python_arch
             COMMAND ${LIC_PYTHON3} tests/python/arch_check.py $<TARGET_FILE:lic-oplist>
                     $<TARGET_FILE:lic-mkmodel> $<TARGET_FILE:lic-encode> $<TARGET_FILE:test_arch>
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(python_arch PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1")
  endif()
  # train/train.py --arch lic-hp1 for a few steps, exported by train/export.py and coded by the C tools
  # (tests/python/train_arch_check.py).
  if(TARGET lic-encode AND TARGET lic-decode)
    add_test(NAME python_train_arch
             COMMAND ${LIC_PYTHON3} tests/python/train_arch_check.py $<TARGET_FILE:lic-encode>
                     $<TARGET_FILE:lic-decode>
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(python_train_arch PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1")
  endif()
  # One torch thread each: the machine has two cores and ctest may run tests in parallel.
  set_tests_properties(python_mirror python_train PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1")
else()
  message(STATUS "LIC_PYTHON_TESTS=OFF: the Python tests (PyTorch mirror, export) are not registered")
endif()
