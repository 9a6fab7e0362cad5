# CUDA backend (included by the root CMakeLists.txt when -DOVIS_CUDA=ON).
# cudart is linked statically; cuBLAS/cuBLASLt are NOT linked: cuda/cublaslt_loader.cpp dlopens them
# at run time (DESIGN.md decision 8). Only the cublasLt.h header is needed here, for types and enums.
if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  find_program(OVIS_NVCC_IN_PATH nvcc)
  if(NOT OVIS_NVCC_IN_PATH)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
endif()
# OVIS_CUDA_ARCHS (root CMakeLists) is the one knob; it also feeds CUDA's compiler checks.
set(CMAKE_CUDA_ARCHITECTURES ${OVIS_CUDA_ARCHS})
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# cublasLt.h: the toolkit's include dir when it has one, else the pip wheel nvidia-cublas (nvidia/cu13/include).
set(OVIS_CUBLAS_INCLUDE "" CACHE PATH "Folder holding cublasLt.h (auto-detected when empty)")
if(NOT OVIS_CUBLAS_INCLUDE)
  find_path(OVIS_CUBLAS_INCLUDE_FOUND cublasLt.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_CACHE)
  if(OVIS_CUBLAS_INCLUDE_FOUND)
    set(OVIS_CUBLAS_INCLUDE ${OVIS_CUBLAS_INCLUDE_FOUND})
  else()
    find_package(Python3 COMPONENTS Interpreter QUIET)
    if(Python3_Interpreter_FOUND)
      execute_process(
        COMMAND ${Python3_EXECUTABLE} -c
          "import os, nvidia; print(next(os.path.join(p, d, 'include') for p in nvidia.__path__ for d in ('cu13', 'cublas') if os.path.exists(os.path.join(p, d, 'include', 'cublasLt.h'))))"
        OUTPUT_VARIABLE OVIS_CUBLAS_INCLUDE_PY OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE OVIS_PY_RC)
      if(OVIS_PY_RC EQUAL 0 AND EXISTS "${OVIS_CUBLAS_INCLUDE_PY}/cublasLt.h")
        set(OVIS_CUBLAS_INCLUDE ${OVIS_CUBLAS_INCLUDE_PY})
      endif()
    endif()
  endif()
endif()
if(NOT OVIS_CUBLAS_INCLUDE OR NOT EXISTS "${OVIS_CUBLAS_INCLUDE}/cublasLt.h")
  message(FATAL_ERROR "cublasLt.h not found. Run `bash scripts/ensure-cublas.sh` (pip installs nvidia-cublas) "
                      "or pass -DOVIS_CUBLAS_INCLUDE=<folder with cublasLt.h>.")
endif()
message(STATUS "ovis: CUDA archs ${OVIS_CUDA_ARCHS}, cublasLt.h from ${OVIS_CUBLAS_INCLUDE}")

file(GLOB OVIS_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cuda/*.cu ${CMAKE_SOURCE_DIR}/cuda/*.cpp)
target_sources(ovis_core PRIVATE ${OVIS_CUDA_SOURCES})
target_include_directories(ovis_core PUBLIC ${CMAKE_SOURCE_DIR}/cuda ${OVIS_CUBLAS_INCLUDE})
string(REPLACE ";" "," OVIS_CUDA_ARCH_LIST "${OVIS_CUDA_ARCHS}")
target_compile_definitions(ovis_core PUBLIC OVIS_WITH_CUDA PRIVATE OVIS_CUDA_ARCH_LIST="${OVIS_CUDA_ARCH_LIST}")
target_compile_options(ovis_core PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr -Xcompiler=-fno-math-errno>)
# ovis_core was created before CUDA was enabled: its CUDA properties must be set explicitly.
set_target_properties(ovis_core PROPERTIES CUDA_ARCHITECTURES "${OVIS_CUDA_ARCHS}" CUDA_STANDARD 17
                                           CUDA_STANDARD_REQUIRED ON CUDA_RUNTIME_LIBRARY Static)
target_link_libraries(ovis_core PUBLIC CUDA::cudart_static ${CMAKE_DL_LIBS})
# The arch list this build has code for, reported by cudaInfo() (doctor, the arch refusal); on one file
# only, so that changing it does not rebuild the kernels twice.
string(REPLACE ";" "," OVIS_CUDA_ARCHS_CSV "${OVIS_CUDA_ARCHS}")
set_source_files_properties(${CMAKE_SOURCE_DIR}/cuda/cuda_info.cpp PROPERTIES
                            COMPILE_DEFINITIONS "OVIS_CUDA_ARCHS_BUILT=\"${OVIS_CUDA_ARCHS_CSV}\"")

if(OVIS_TESTS)
  enable_testing()
  # cpp/tests/cuda/*.cpp (ops vs CPU, golden parity, their runner) plus the test-only golden readers.
  file(GLOB OVIS_CUDA_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cpp/tests/cuda/*.cpp)
  if(OVIS_CUDA_TEST_SOURCES)
    add_executable(ovis_cuda_tests ${OVIS_CUDA_TEST_SOURCES}
                   ${CMAKE_SOURCE_DIR}/cpp/tests/golden_plan.cpp ${CMAKE_SOURCE_DIR}/cpp/tests/golden_cases.cpp
                   ${CMAKE_SOURCE_DIR}/cpp/tests/safetensors_reader.cpp ${CMAKE_SOURCE_DIR}/cpp/tests/gguf_reader.cpp)
    target_link_libraries(ovis_cuda_tests PRIVATE ovis_core)
    add_test(NAME ovis_cuda_tests COMMAND ovis_cuda_tests)
  endif()
endif()

if(OVIS_BENCH AND EXISTS ${CMAKE_SOURCE_DIR}/bench/cuda/bench_gpu.cpp)
  add_executable(ovis_bench_gpu ${CMAKE_SOURCE_DIR}/bench/cuda/bench_gpu.cpp ${CMAKE_SOURCE_DIR}/bench/cuda/cost_model.cpp)
  target_link_libraries(ovis_bench_gpu PRIVATE ovis_core)
endif()
