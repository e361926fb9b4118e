// ImageFolder listing and labels: class lists keep ImageNet indices on a subset of folders, label files override.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fqvit/core/error.h"
#include "fqvit/io/dataset.h"
#include "test_paths.h"

namespace fqvit {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "x";
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::scratch_dir("image_folder");
    touch(root_ + "/data/n02/b.JPEG");
    touch(root_ + "/data/n02/a.png");
    touch(root_ + "/data/n07/c.jpg");
    touch(root_ + "/data/n07/notes.txt");  // not an image: ignored
    std::ofstream(root_ + "/classes.txt") << "0 n01 first class\n1 n02 second\n2 n05 fifth\n3 n07 seventh\n";
    std::ofstream(root_ + "/wnids.txt") << "n00\nn02\nn07\n";
  }
  std::string root_;
};

TEST_F(ImageFolderTest, SortedFoldersGiveIndicesWithoutClassList) {
  const auto folder = ImageFolder::open(root_ + "/data");
  ASSERT_EQ(folder.images().size(), 3u);
  EXPECT_EQ(folder.images()[0].relative, "n02/a.png");
  EXPECT_EQ(folder.images()[0].label, 0);
  EXPECT_EQ(folder.images()[1].relative, "n02/b.JPEG");
  EXPECT_EQ(folder.images()[2].relative, "n07/c.jpg");
  EXPECT_EQ(folder.images()[2].label, 1);
}

TEST_F(ImageFolderTest, ClassListKeepsFullIndices) {
  const auto folder = ImageFolder::open(root_ + "/data", {root_ + "/classes.txt", ""});
  EXPECT_EQ(folder.images()[0].label, 1);
  EXPECT_EQ(folder.images()[2].label, 3);
  const auto by_line = ImageFolder::open(root_ + "/data", {root_ + "/wnids.txt", ""});
  EXPECT_EQ(by_line.images()[0].label, 1);
  EXPECT_EQ(by_line.images()[2].label, 2);
}

TEST_F(ImageFolderTest, LabelFileOverridesAndOrders) {
  std::ofstream(root_ + "/labels.txt") << "n07/c.jpg 42\nn02/a.png 7\n";
  const auto folder = ImageFolder::open(root_ + "/data", {root_ + "/classes.txt", root_ + "/labels.txt"});
  ASSERT_EQ(folder.images().size(), 2u);
  EXPECT_EQ(folder.images()[0].relative, "n07/c.jpg");
  EXPECT_EQ(folder.images()[0].label, 42);
  EXPECT_EQ(folder.images()[1].label, 7);
}

TEST_F(ImageFolderTest, LabelFileNamingMissingFile) {
  std::ofstream(root_ + "/labels.txt") << "n07/c.jpg 42\nn07/gone.jpg 3\n";
  const std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/labels.txt"}); });
  EXPECT_NE(e.find("labels.txt: line 2: found \"n07/gone.jpg\" (no such file"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, FolderMissingFromClassList) {
  std::ofstream(root_ + "/short.txt") << "0 n02\n";
  const std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {root_ + "/short.txt", ""}); });
  EXPECT_NE(e.find("class folder n07"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, EmptyAndMissingFolders) {
  fs::create_directories(root_ + "/empty/n01");
  std::string e = error_of([&] { ImageFolder::open(root_ + "/empty"); });
  EXPECT_NE(e.find("empty: dataset folder: found no images"), std::string::npos) << e;
  e = error_of([&] { ImageFolder::open(root_ + "/nowhere"); });
  EXPECT_NE(e.find("nowhere: dataset folder: found no such directory"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, SelectImagesFollowsListOrder) {
  std::ofstream(root_ + "/order.txt") << "n07/c.jpg\n\nn02/a.png\n";
  const auto folder = ImageFolder::open(root_ + "/data");
  const auto selected = select_images(folder, root_ + "/order.txt");
  ASSERT_EQ(selected.size(), 2u);
  EXPECT_EQ(selected[0].relative, "n07/c.jpg");
  EXPECT_EQ(selected[1].relative, "n02/a.png");
  std::ofstream(root_ + "/bad_order.txt") << "n02/a.png\nn09/z.png\n";
  const std::string e = error_of([&] { select_images(folder, root_ + "/bad_order.txt"); });
  EXPECT_NE(e.find("bad_order.txt: line 2: found \"n09/z.png\""), std::string::npos) << e;
}

TEST(ImageFolderShared, ValSubsetKeepsImageNetIndices) {
  FQVIT_REQUIRE_SHARED(shared);
  const auto folder = ImageFolder::open(shared + "/imagenet/val", {shared + "/imagenet/classes.txt", ""});
  const auto labelled = ImageFolder::open(shared + "/imagenet/val", {"", shared + "/imagenet/val_labels.txt"});
  ASSERT_EQ(folder.images().size(), 650u);
  ASSERT_EQ(labelled.images().size(), 650u);
  for (size_t i = 0; i < 650; ++i) {
    EXPECT_EQ(folder.images()[i].relative, labelled.images()[i].relative);
    EXPECT_EQ(folder.images()[i].label, labelled.images()[i].label) << folder.images()[i].relative;
  }
}

}  // namespace
}  // namespace fqvit
