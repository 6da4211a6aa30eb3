# Warnings for weft's own targets. CI sets WEFT_WERROR=ON.
function(weft_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports -Wrestrict inside libstdc++ for ordinary std::string operator+ chains
    # at -O3 (GCC bug 105329, fixed in 13): a false positive in the library, not our code.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(WEFT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
