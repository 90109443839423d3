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

TEST(Files, CopyAtomicCopiesLargeFilesWithMode) {
  auto dir = std::filesystem::temp_directory_path() / ("copy-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string content(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
  const std::string source = (dir / "source").string();
  const std::string target = (dir / "target").string();
  files::write_atomic(source, content, 0644);
  files::copy_atomic(source, target, 0755);
  EXPECT_EQ(files::read_file(target), content);
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_THROW(files::copy_atomic((dir / "missing").string(), target, 0755), std::runtime_error);
  EXPECT_EQ(files::read_file(target), content) << "a failed copy leaves the old file intact";
  std::filesystem::remove_all(dir);
}
