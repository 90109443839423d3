#pragma once
// A JSON Schema (draft-07) validator for the keywords the consul-ecs config
// schemas use: type, enum, pattern, minLength, maxLength, minimum, maximum,
// required, properties, patternProperties, additionalProperties, items,
// uniqueItems. Annotations and unknown keywords (description, title, the stray
// `expose` next to proxy.properties, ...) are ignored, as gojsonschema does.
// Draft-07 assertions it does not implement ($ref, allOf, oneOf, const, ...)
// make the constructor throw, so a future schema cannot be half-checked.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace consulecs::config {

struct ValidationError {
  std::string path;     // dotted JSON path, e.g. "proxy.upstreams[0].localBindPort"; "" is the root
  std::string message;  // the rule broken, e.g. "must be integer, got string"

  // "path: message", with "(root)" standing for the empty path.
  std::string to_string() const;
};

class SchemaValidator {
 public:
  // Throws std::invalid_argument when the schema is malformed, has an invalid
  // regular expression, or uses an assertion keyword listed above as unsupported.
  explicit SchemaValidator(nlohmann::json schema);
  ~SchemaValidator();
  SchemaValidator(SchemaValidator&&) noexcept;
  SchemaValidator& operator=(SchemaValidator&&) noexcept;

  // Every violation, in document order (object keys sorted); empty when valid.
  std::vector<ValidationError> validate(const nlohmann::json& instance) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace consulecs::config
