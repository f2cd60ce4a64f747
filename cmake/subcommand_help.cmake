# SPDX-License-Identifier: Apache-2.0
# Writes a help2man include file with the --help of each subcommand of a program.
# cmake -DPROGRAM=path -DCOMMANDS="daemon;preheat" -DOUTPUT=file -P subcommand_help.cmake
get_filename_component(name ${PROGRAM} NAME)
set(text "[COMMANDS]\n")
foreach(command ${COMMANDS})
  execute_process(COMMAND ${PROGRAM} ${command} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} ${command} --help failed (${rc})")
  endif()
  # Preformatted roff: backslashes escaped, no line read as a request.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(APPEND text ".SS \"${name} ${command}\"\n.nf\n${help}.fi\n")
endforeach()
file(WRITE ${OUTPUT} "${text}")
