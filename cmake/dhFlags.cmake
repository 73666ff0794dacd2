# Compiler flags shared by libdh targets.
set(DH_C_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wno-overlength-strings)
if(DH_WERROR)
  list(APPEND DH_C_WARNINGS -Werror)
endif()
if(DH_NATIVE)
  add_compile_options(-march=native)
endif()
# DH_SANITIZE=ON (or address): ASan + UBSan; DH_SANITIZE=thread: ThreadSanitizer (libgomp
# is not instrumented: the TSan run covers pthread-only paths, tests/check_index_concurrency.c)
if(DH_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(DH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(DH_FUZZ)
  # libFuzzer builds (clang): the library gets coverage instrumentation too, and skips
  # checksum checks so mutated inputs reach the parsers behind them (libFuzzer's macro)
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
endif()
