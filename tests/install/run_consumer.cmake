# cmake -P script: install, build the consumer against the install, run it; with
# FORBID_LIBS, check with ldd that it does not link those libraries.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${CONSUMER_SRC} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "consumer: 42")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
# FORBID_LIBS: a regex of shared libraries the consumer must not need (ldd).
if(FORBID_LIBS)
  run(ldd ${WORK_DIR}/build/consumer)
  if(last_output MATCHES "${FORBID_LIBS}")
    message(FATAL_ERROR "the consumer links what it does not use (${FORBID_LIBS}):\n${last_output}")
  endif()
  message(STATUS "ldd: none of ${FORBID_LIBS}")
endif()
message(STATUS "consumer built against the installed weft and printed: ${last_output}")
