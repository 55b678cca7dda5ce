# Python tests of the training/export tooling (tests/python: the bit-exact PyTorch mirror of the
# codec; train/test_*.py: CDF construction, integer export). They need Debian's python3-torch, which
# is optional: the tests are registered only when `/usr/bin/python3 -c "import torch"` works at
# configure time.
set(LIC_PYTHON3 /usr/bin/python3)
if(EXISTS ${LIC_PYTHON3})
  execute_process(COMMAND ${LIC_PYTHON3} -c "import torch, numpy"
                  RESULT_VARIABLE LIC_PY_TORCH_RC OUTPUT_QUIET ERROR_QUIET)
else()
  set(LIC_PY_TORCH_RC 1)
endif()
if(LIC_PY_TORCH_RC EQUAL 0)
  add_test(NAME python_mirror
           COMMAND ${LIC_PYTHON3} -m unittest discover -s tests/python
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME python_train
           COMMAND ${LIC_PYTHON3} -m unittest discover -s train -p "test_*.py"
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # One torch thread each: the machine has two cores and ctest may run tests in parallel.
  set_tests_properties(python_mirror python_train PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1")
else()
  message(STATUS "python3 with torch not found: Python tests not registered")
endif()
