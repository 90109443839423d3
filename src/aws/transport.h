#pragma once
// How the aws code sends HTTP requests; tests substitute their own.
#include <functional>

#include "http/client.h"

namespace consulecs::aws {

using Transport = std::function<http::Response(const http::Request&)>;

// Sends each request with a fresh http::Client (these calls are rare, and a
// Client must not be shared between threads).
Transport default_transport();

}  // namespace consulecs::aws
