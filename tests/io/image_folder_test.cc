// ImageFolder listing and labels: class lists keep ImageNet indices on a subset of folders, label files override.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
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

// Labels the model cannot have would make the accuracy silently wrong: each is one line naming file, line and value.
TEST_F(ImageFolderTest, LabelsBeyondTheModelsClassesAreRefused) {
  const DatasetOptions four_classes{"", root_ + "/labels.txt", 4};
  std::ofstream(root_ + "/labels.txt") << "n07/c.jpg 3\nn02/a.png 4\n";
  std::string e = error_of([&] { ImageFolder::open(root_ + "/data", four_classes); });
  EXPECT_NE(e.find("labels.txt: line 2: found label 4, expected an index below 4 (the model's num_classes)"),
            std::string::npos) << e;
  std::ofstream(root_ + "/labels.txt") << "n07/c.jpg 99999999\n";
  e = error_of([&] { ImageFolder::open(root_ + "/data", four_classes); });
  EXPECT_NE(e.find("labels.txt: line 1: found label 99999999, expected an index below 4"), std::string::npos) << e;
  // Unknown class count (0): any index is accepted, as before.
  EXPECT_EQ(ImageFolder::open(root_ + "/data", {"", root_ + "/labels.txt"}).images()[0].label, 99999999);
}

TEST_F(ImageFolderTest, ClassListIndexBeyondClassesOrSharedIsRefused) {
  std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {root_ + "/classes.txt", "", 3}); });
  EXPECT_NE(e.find("classes.txt: line 4: found index 3, expected an index below 3 (the model's num_classes)"),
            std::string::npos) << e;
  std::ofstream(root_ + "/shared_index.txt") << "0 n02\n1 n07\n0 n05\n";
  e = error_of([&] { ImageFolder::open(root_ + "/data", {root_ + "/shared_index.txt", ""}); });
  EXPECT_NE(e.find("shared_index.txt: line 3: found index 0 for n05, already given to n02, expected one wnid per "
                   "class index"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, ImageListedTwiceIsRefused) {
  std::ofstream(root_ + "/twice.txt") << "n07/c.jpg 3\nn02/a.png 1\nn07/./c.jpg 3\n";
  std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/twice.txt"}); });
  EXPECT_NE(e.find("twice.txt: line 3: found \"n07/./c.jpg\" a second time (first on line 1), expected each image "
                   "once, with one label"), std::string::npos) << e;
  std::ofstream(root_ + "/two_labels.txt") << "n02/a.png 1\nn02/a.png 2\n";
  e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/two_labels.txt"}); });
  EXPECT_NE(e.find("two_labels.txt: line 2: found \"n02/a.png\" a second time"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, LabelPathsOutsideTheFolderAreRefused) {
  touch(root_ + "/outside.jpg");
  for (const std::string& path : {std::string("../outside.jpg"), std::string("n02/../../outside.jpg"),
                                  root_ + "/outside.jpg"}) {
    std::ofstream(root_ + "/escape.txt") << path << " 1\n";
    const std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/escape.txt"}); });
    EXPECT_NE(e.find("escape.txt: line 1: found \"" + path + "\", expected a path relative to the dataset folder, "
                     "inside it"), std::string::npos) << e;
  }
}

TEST_F(ImageFolderTest, EmptyLabelFileBlamesTheLabelFile) {
  std::ofstream(root_ + "/empty_labels.txt") << "\n  \n";
  const std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/empty_labels.txt"}); });
  EXPECT_NE(e.find("empty_labels.txt: label file: found no lines"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, ListFilesMustBeRegularFiles) {
  fs::create_directories(root_ + "/labels_dir");
  std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", root_ + "/labels_dir"}); });
  EXPECT_NE(e.find("labels_dir: label file: found a directory"), std::string::npos) << e;
  ASSERT_EQ(::mkfifo((root_ + "/classes_fifo").c_str(), 0600), 0);
  e = error_of([&] { ImageFolder::open(root_ + "/data", {root_ + "/classes_fifo", ""}); });  // must not hang
  EXPECT_NE(e.find("classes_fifo: class list: found not a regular file"), std::string::npos) << e;
}

TEST_F(ImageFolderTest, MoreClassFoldersThanClassesNeedsAClassList) {
  const std::string e = error_of([&] { ImageFolder::open(root_ + "/data", {"", "", 1}); });
  EXPECT_NE(e.find("data: class folders: found 2, expected at most 1 (the model's num_classes; with a subset of "
                   "classes pass --class-list"), std::string::npos) << e;
  EXPECT_EQ(ImageFolder::open(root_ + "/data", {"", "", 2}).images().size(), 3u);
}

TEST_F(ImageFolderTest, EntriesThatAreNotImagesAreReported) {
  touch(root_ + "/data/n02/d.webp");
  touch(root_ + "/data/n02/nested/e.jpg");
  fs::create_symlink(root_ + "/nowhere.jpg", root_ + "/data/n07/dangling.jpg");
  const auto folder = ImageFolder::open(root_ + "/data");
  EXPECT_EQ(folder.images().size(), 3u);
  const std::vector<std::string> expected = {"n02/d.webp: not a .jpg .jpeg or .png file",
                                             "n02/nested: nested folder (class folders are read one level deep)",
                                             "n07/dangling.jpg: broken symlink",
                                             "n07/notes.txt: not a .jpg .jpeg or .png file"};
  std::vector<std::string> ignored = folder.ignored();
  std::sort(ignored.begin(), ignored.end());
  EXPECT_EQ(ignored, expected);
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
