# Cross-compiling for linux/arm64 (aarch64) on an amd64 Debian machine with
# Debian's cross toolchain (crossbuild-essential-arm64) and its multiarch
# :arm64 -dev packages (/usr/lib/aarch64-linux-gnu). Programs built here run
# under qemu-user-static: CMake uses it for try_run and for
# gtest_discover_tests / ctest (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_AR aarch64-linux-gnu-gcc-ar CACHE FILEPATH "")
set(CMAKE_RANLIB aarch64-linux-gnu-gcc-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Headers and config files of arch-independent packages (nlohmann-json,
# CLI11) live under /usr; libraries only in the arm64 multiarch folder or the
# cross sysroot, never the build machine's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)
# No -L <sysroot>: the multiarch libc6:arm64 (pulled in by the :arm64 -dev
# packages) puts the arm64 loader at /lib/ld-linux-aarch64.so.1, where the
# dynamically linked unit tests look for it; and under -L qemu's path
# redirection hung every unit test that runs an HTTP server in-process.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
