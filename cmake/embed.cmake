# Writes OUTPUT, a C file defining `const char NAME[]` with the contents of
# INPUT, so that scripts ship inside the binary. Run with cmake -P.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " bytes "${hex}")
file(WRITE "${OUTPUT}.tmp" "/* Generated from ${INPUT} by cmake/embed.cmake. */\nconst char ${NAME}[] = { ${bytes}0x00 };\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
