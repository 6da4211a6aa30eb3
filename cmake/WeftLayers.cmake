# One static library per layer (docs/STYLE.md "Layers"): weft::core, weft::net, weft::fs,
# weft::http, weft::db, weft::observe, each linking only the layers below it, so a program
# links what it uses (an HTTP-only program links neither SQLite nor libpq).
# weft_add_layer(<name> [DEPENDS <targets>...]) creates weft_<name> (alias weft::<name>);
# the folder's CMakeLists adds its sources with target_sources(weft_<name> PRIVATE ...).
function(weft_add_layer name)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(target weft_${name})
  add_library(${target} STATIC)
  add_library(weft::${name} ALIAS ${target})
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target}
    PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS})
  weft_set_warnings(${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY WEFT_LAYER_TARGETS ${target})
endfunction()
