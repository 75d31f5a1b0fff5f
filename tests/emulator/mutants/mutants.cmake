# Mutants of the real kernels, kept as tests that expect their failure: each proves that one kind of
# kernel bug fails the emulated suite instead of passing by luck. The mutation is made at configure
# time from the current kernels/*.cu; when the text it changes is gone, configuring fails, so the
# mutant is updated with the kernel.
#
#   vaead_kernel_mutant(NAME n SOURCE kernels/x.cu FIND text REPLACE text TESTS gtest-filter
#                       EXPECT regex [SANITIZER address|thread] [LIBRARY] TEST_SOURCES tests/...)
# LIBRARY: the tests use the whole library (the engines); the mutated kernel file is linked in
# front of it, so its object replaces the library's (every symbol of that file is defined by it).
# Every mutant of this build (those of another sanitizer are not defined here).
add_custom_target(vaead_mutants)

function(vaead_kernel_mutant)
  cmake_parse_arguments(PARSE_ARGV 0 arg "LIBRARY" "NAME;SOURCE;FIND;REPLACE;TESTS;EXPECT;SANITIZER"
                        "TEST_SOURCES")
  if(arg_SANITIZER AND NOT VAEAD_SANITIZE MATCHES "${arg_SANITIZER}")
    return()  # this build cannot see the bug; the build with that sanitizer runs the mutant
  endif()
  file(READ ${PROJECT_SOURCE_DIR}/${arg_SOURCE} text)
  string(FIND "${text}" "${arg_FIND}" first)
  string(FIND "${text}" "${arg_FIND}" last REVERSE)
  if(first EQUAL -1 OR NOT first EQUAL last)
    message(FATAL_ERROR "mutant ${arg_NAME}: the text to change must appear exactly once in "
                        "${arg_SOURCE}:\n${arg_FIND}")
  endif()
  string(REPLACE "${arg_FIND}" "${arg_REPLACE}" mutated "${text}")
  get_filename_component(file_name ${arg_SOURCE} NAME)
  set(mutated_source ${CMAKE_CURRENT_BINARY_DIR}/mutants/${arg_NAME}/${file_name})
  file(GENERATE OUTPUT ${mutated_source} CONTENT "${mutated}")
  cuda_emu_kernel_sources(${mutated_source})
  set(target vaead_mutant_${arg_NAME})
  list(TRANSFORM arg_TEST_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
  if(arg_LIBRARY)
    add_executable(${target} ${mutated_source} ${arg_TEST_SOURCES})
    target_link_libraries(${target} PRIVATE vaead_core GTest::gtest_main)
  else()
    # The tests compare with the CPU layer ops, which may hand work to the CPU engine's pool.
    add_executable(${target} ${mutated_source} ${arg_TEST_SOURCES}
                             ${PROJECT_SOURCE_DIR}/host/cpu/worker_pool.cpp)
    target_link_libraries(${target} PRIVATE cuda_emu GTest::gtest_main OpenMP::OpenMP_CXX
                                            nlohmann_json::nlohmann_json)
  endif()
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/hostdevice ${PROJECT_SOURCE_DIR}/host
                             ${PROJECT_SOURCE_DIR}/kernels ${PROJECT_SOURCE_DIR}/tests
                             ${PROJECT_SOURCE_DIR}/tests/gpu)
  target_compile_definitions(${target} PRIVATE VAEAD_CUDA_EMULATED=1)
  vaead_target_options(${target})
  add_dependencies(vaead_mutants ${target})
  add_test(NAME Mutant.${arg_NAME} COMMAND ${target} --gtest_filter=${arg_TESTS})
  set_tests_properties(Mutant.${arg_NAME} PROPERTIES PASS_REGULAR_EXPRESSION "${arg_EXPECT}"
                                                     LABELS "mutant")
endfunction()

# A missing barrier: the tile of the next k-step overwrites the one other threads still read.
vaead_kernel_mutant(NAME missing_barrier SANITIZER thread
  SOURCE kernels/dense.cu
  FIND "            acc[i][j] = fmaf(a_values[i], b_values[j], acc[i][j]);\n      }\n      __syncthreads();"
  REPLACE "            acc[i][j] = fmaf(a_values[i], b_values[j], acc[i][j]);\n      }"
  TEST_SOURCES tests/gpu/test_gpu_dense.cpp
  TESTS "GpuDense.ForwardMatchesCpuReference*"
  EXPECT "WARNING: ThreadSanitizer: data race")

# An off-by-one: the A tile reads the row one past the end of x.
vaead_kernel_mutant(NAME off_by_one SANITIZER address
  SOURCE kernels/dense.cu
  FIND "const bool inside = m < m_size && k < k_end;"
  REPLACE "const bool inside = m <= m_size && k < k_end;"
  TEST_SOURCES tests/gpu/test_gpu_dense.cpp
  TESTS "GpuDense.ForwardMatchesCpuReference*"
  EXPECT "ERROR: AddressSanitizer: heap-buffer-overflow")

# A read of unwritten shared memory: the A tile's padding is left as it was. With zeroed (or
# stale) shared memory the padding would often be 0 and the bug would pass; the emulator fills
# shared memory with NaN before every block.
vaead_kernel_mutant(NAME unwritten_shared
  SOURCE kernels/dense.cu
  FIND "a_tile[kk][mm] = inside ? a.template at<kTwoHeads>(m, k) : 0.0f;"
  REPLACE "if (inside) a_tile[kk][mm] = a.template at<kTwoHeads>(m, k);"
  TEST_SOURCES tests/gpu/test_gpu_dense.cpp
  TESTS "GpuDense.ForwardMatchesCpuReference*"
  EXPECT "\\[  FAILED  \\] GpuDense.ForwardMatchesCpuReference")

# The fused step without the barrier between a layer's product and its bias + ReLU pass: threads
# add the bias to outputs other warps have not stored yet (the emulator's NaN-filled shared memory
# and shuffled thread order make the result wrong).
vaead_kernel_mutant(NAME fused_missing_barrier SANITIZER address LIBRARY
  SOURCE kernels/fused_step.cu
  FIND "                                     net.output(layer));\n      __syncthreads();"
  REPLACE "                                     net.output(layer));"
  TEST_SOURCES tests/gpu/test_gpu_fused.cpp
  TESTS "GpuFused.OneStep*"
  EXPECT "\\[  FAILED  \\] GpuFused.OneStep")

# The fused step storing its products' accumulators itself, assuming which lane holds which element
# (sm_80's m16n8 accumulator layout): the emulator draws the layout per run, so the results are wrong.
vaead_kernel_mutant(NAME fused_assumed_layout SANITIZER address LIBRARY
  SOURCE kernels/fused_step.cu
  FIND "    wmma::store_matrix_sync(&out(r0, c0), sum, static_cast<unsigned>(out.ld), wmma::mem_row_major);"
  REPLACE "    const int lane = static_cast<int>(threadIdx.x) % kWarp;\n    for (int e = 0; e < sum.num_elements; ++e)\n      out(r0 + lane / 4 + 8 * ((e / 2) % 2), c0 + 2 * (lane % 4) + e % 2 + 8 * (e / 4)) = sum.x[e];"
  TEST_SOURCES tests/gpu/test_gpu_fused.cpp
  TESTS "GpuFused.OneStep*"
  EXPECT "\\[  FAILED  \\] GpuFused.OneStep")
