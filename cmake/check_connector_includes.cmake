# SPDX-License-Identifier: Apache-2.0
#
# Fails when a connector includes anything but the public API: every `#include "X"` in
# connectors/<name>/*.{c,h} must be "servo/..." (include/servo/), a file of the same folder or,
# for a connector built on another one (opsani_dev on kubernetes), "kubernetes/kube.h": a header
# of a connector listed in SERVO_CONNECTOR_DEPENDENCIES of connectors/CMakeLists.txt (passed
# here as DEPENDENCIES, "opsani_dev:kubernetes,kube_metrics:kubernetes"), and `#include <servo/...>` must name a public header. libcurl (<curl/...>) is refused too: a
# connector makes its requests with the servo's engine, servo/http.h. Run as
#     cmake -DCONNECTORS_DIR=connectors [-DINCLUDE_DIR=include] -P cmake/check_connector_includes.cmake
cmake_policy(SET CMP0057 NEW) # IN_LIST
if(NOT CONNECTORS_DIR)
    message(FATAL_ERROR "usage: cmake -DCONNECTORS_DIR=DIR -P check_connector_includes.cmake")
endif()
if(NOT INCLUDE_DIR)
    set(INCLUDE_DIR ${CONNECTORS_DIR}/../include)
endif()
string(REPLACE "," ";" DEPENDENCIES "${DEPENDENCIES}")
get_filename_component(include_dir ${INCLUDE_DIR} ABSOLUTE)
file(GLOB_RECURSE files ${CONNECTORS_DIR}/*.c ${CONNECTORS_DIR}/*.h)
set(problems 0)
foreach(file ${files})
    get_filename_component(folder ${file} DIRECTORY)
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line ${lines})
        string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*([\"<])([^\">]*)[\">].*" "\\1;\\2" parts "${line}")
        list(GET parts 0 quote)
        list(GET parts 1 header)
        set(allowed TRUE)
        set(close ">")
        if(quote STREQUAL "\"")
            set(close "\"")
        endif()
        if(header MATCHES "^servo/")
            if(NOT EXISTS ${include_dir}/${header} OR header MATCHES "\\.\\.")
                set(allowed FALSE)
            endif()
        elseif(header MATCHES "^curl/")
            set(allowed FALSE)
        elseif(quote STREQUAL "\"" AND header MATCHES "^([a-z_]+)/[^/]+$")
            get_filename_component(own ${folder} NAME)
            string(REGEX REPLACE "/.*" "" other "${header}")
            if(NOT "${own}:${other}" IN_LIST DEPENDENCIES OR NOT EXISTS ${CONNECTORS_DIR}/${header})
                set(allowed FALSE)
            endif()
        elseif(quote STREQUAL "\"")
            if(header MATCHES "/" OR NOT EXISTS ${folder}/${header})
                set(allowed FALSE)
            endif()
        endif()
        if(NOT allowed)
            file(RELATIVE_PATH shown ${CONNECTORS_DIR}/.. ${file})
            message(SEND_ERROR "${shown}: #include ${quote}${header}${close}: a connector may include "
                               "only the public API (\"servo/...\"; HTTP through servo/http.h) and files of "
                               "its own folder (or of a connector it depends on)")
            math(EXPR problems "${problems} + 1")
        endif()
    endforeach()
endforeach()
if(problems GREATER 0)
    message(FATAL_ERROR "${problems} include(s) reach outside the public API")
endif()
