#pragma once
#include <sys/types.h>
#include <string>
#include <string_view>

namespace consulecs::files {

// Writes `content` to a temporary file next to `path` with `mode`, fsyncs it
// and renames it over `path`, so readers see the old file or the new one,
// never a partial one. Throws std::runtime_error naming the path and errno.
void write_atomic(const std::string& path, std::string_view content, mode_t mode);

// Copies `source` to `destination` atomically (same guarantees as above).
void copy_atomic(const std::string& source, const std::string& destination, mode_t mode);

std::string read_file(const std::string& path);

// Path of the running executable (/proc/self/exe).
std::string self_executable();

std::string join(const std::string& dir, const std::string& name);

}  // namespace consulecs::files
