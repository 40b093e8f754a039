# SPDX-License-Identifier: Apache-2.0
# The fuzz targets without libFuzzer: each tests/fuzz/fuzz_<name>.c linked with replay.c (a
# main() that feeds files to LLVMFuzzerTestOneInput) as fuzz_<name>_replay, built by the normal
# compiler (gcc) in the normal and the ASan builds. Each is a ctest test (label "fuzz") that
# replays the seed corpus (corpus/<name>/) and the crashes kept in crashes-found/<name>/, so a
# crash that only shows without the fuzzing instrumentation, or only with ASan, is caught by
# every build. scripts/test.sh fuzz also replays what the fuzzing run found through them.
# Included by tests/CMakeLists.txt when SERVO_FUZZ is OFF (tests/fuzz/CMakeLists.txt, which
# builds the libFuzzer targets under the same names, is used otherwise).
set(SERVO_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
file(GLOB SERVO_FUZZ_REPLAY_SOURCES CONFIGURE_DEPENDS ${SERVO_FUZZ_DIR}/fuzz_*.c)
foreach(source ${SERVO_FUZZ_REPLAY_SOURCES})
    get_filename_component(name ${source} NAME_WE)
    add_executable(${name}_replay ${source} ${SERVO_FUZZ_DIR}/replay.c)
    target_link_libraries(${name}_replay PRIVATE servo_core)
    # fuzz_opsani_dev: opsani_dev.h includes "kubernetes/kube.h"
    target_include_directories(${name}_replay PRIVATE ${CMAKE_SOURCE_DIR}/connectors)
    set_target_properties(${name}_replay PROPERTIES
        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
    set(corpora "")
    foreach(dir ${SERVO_FUZZ_DIR}/corpus/${name} ${SERVO_FUZZ_DIR}/crashes-found/${name})
        if(EXISTS ${dir})
            list(APPEND corpora ${dir})
        endif()
    endforeach()
    if(corpora)
        add_test(NAME ${name}_replay COMMAND ${name}_replay ${corpora})
        set_tests_properties(${name}_replay PROPERTIES LABELS fuzz TIMEOUT 300)
    endif()
endforeach()
