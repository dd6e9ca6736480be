# PackerAssets.cmake: build a packer asset workspace as part of a CMake project.
# Print it with `packer cmake-module > cmake/PackerAssets.cmake`, then in CMakeLists.txt:
#
#   list(APPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_SOURCE_DIR}/cmake)
#   include(PackerAssets)
#   packer_add_assets(game_assets WORKSPACE assets-project)
#   add_dependencies(game game_assets)          # build the assets with the game
#   # ${game_assets_ASSETS_PA} is the path of assets.pa
#
# packer_add_assets(<target> WORKSPACE <dir> [BUILD_DIR <dir>])
#   WORKSPACE  the packer project (holding assets/), relative to the current source dir
#   BUILD_DIR  where assets.pa and its companions go (default: <binary dir>/<target>)
# Sets <target>_ASSETS_PA, <target>_ASSET_TABLE and <target>_BUILD_DIR in the caller's scope,
# and the target properties PACKER_ASSETS_PA and PACKER_BUILD_DIR.
#
# The target runs `packer build` (gen + Ninja) whenever the registry, a declaration, a
# source or an asset directory changes: packer writes the list as a depfile. packer's own
# gating decides what is converted; an unchanged assets.pa keeps its timestamp, so nothing
# that depends on it rebuilds. Works with the Ninja and Makefile generators (CMake >= 3.20).
# PACKER_EXECUTABLE selects the packer binary (default: `packer` on the PATH).

include_guard(GLOBAL)
cmake_minimum_required(VERSION 3.20)

if(NOT PACKER_EXECUTABLE)
  find_program(PACKER_EXECUTABLE packer)
endif()
if(NOT PACKER_EXECUTABLE)
  message(FATAL_ERROR "packer not found: put it on the PATH or set PACKER_EXECUTABLE")
endif()

function(packer_add_assets target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "WORKSPACE;BUILD_DIR" "")
  if(NOT arg_WORKSPACE)
    message(FATAL_ERROR "packer_add_assets(${target}): WORKSPACE <dir> is required")
  endif()
  get_filename_component(ws "${arg_WORKSPACE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT arg_BUILD_DIR)
    set(arg_BUILD_DIR "${target}")
  endif()
  get_filename_component(bd "${arg_BUILD_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  set(outputs "${bd}/assets.pa" "${bd}/asset_table.json" "${bd}/preload.json" "${bd}/asset_table_metadata.json")
  # The command's output is a stamp touched after every run; the artifacts are byproducts.
  # Make has no restat: with assets.pa itself as the output, an unchanged assets.pa (which
  # packer leaves untouched) would look out of date forever. Ninja restats byproducts, so
  # what depends on assets.pa still rebuilds only when its bytes change.
  set(stamp "${bd}/packer.stamp")
  add_custom_command(
    OUTPUT "${stamp}"
    BYPRODUCTS ${outputs}
    COMMAND "${PACKER_EXECUTABLE}" -C "${ws}" build --quiet
            "--build-dir=${bd}" "--ninja-file=${bd}/build.ninja" "--depfile=${bd}/assets.d"
            "--depfile-target=${stamp}"
    COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
    DEPFILE "${bd}/assets.d"
    DEPENDS "${ws}/assets/.prometeu/index.json"
    WORKING_DIRECTORY "${ws}"
    COMMENT "packer: ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS "${stamp}")
  set_target_properties(${target} PROPERTIES PACKER_ASSETS_PA "${bd}/assets.pa" PACKER_BUILD_DIR "${bd}")
  set(${target}_ASSETS_PA "${bd}/assets.pa" PARENT_SCOPE)
  set(${target}_ASSET_TABLE "${bd}/asset_table.json" PARENT_SCOPE)
  set(${target}_BUILD_DIR "${bd}" PARENT_SCOPE)
endfunction()
