// A thread-safe table of named factories (observers by name, quantizer readers by kind): one implementation for
// every registry that users extend at run time.
#pragma once

#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fqvit {

template <typename Factory>
class NamedRegistry {
 public:
  NamedRegistry(std::initializer_list<std::pair<const std::string, Factory>> builtins) : entries_(builtins) {}

  // Adds `name`, or replaces the factory it had.
  void add(const std::string& name, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[name] = std::move(factory);
  }
  // The factory of `name`, or an empty one when it is unknown.
  Factory find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(name);
    return it == entries_.end() ? Factory{} : it->second;
  }
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.first);
    return out;
  }
  // "a, b, c": the accepted values for an error message.
  std::string joined_names() const {
    std::string out;
    for (const std::string& n : names()) out += (out.empty() ? n : ", " + n);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Factory> entries_;
};

}  // namespace fqvit
