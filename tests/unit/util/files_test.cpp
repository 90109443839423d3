#include "util/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

using namespace consulecs;

TEST(Files, WriteAtomicSetsModeAndReplaces) {
  auto dir = std::filesystem::temp_directory_path() / ("files-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "secret").string();
  files::write_atomic(path, "first", 0600);
  files::write_atomic(path, "second", 0600);
  EXPECT_EQ(files::read_file(path), "second");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  std::filesystem::remove_all(dir);
}

TEST(Files, WriteAtomicFailsWithPathInMessage) {
  try {
    files::write_atomic("/nonexistent-dir/file", "x", 0644);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/file"), std::string::npos);
  }
}

TEST(Files, Join) {
  EXPECT_EQ(files::join("/consul/", "x"), "/consul/x");
  EXPECT_EQ(files::join("/consul", "x"), "/consul/x");
}
