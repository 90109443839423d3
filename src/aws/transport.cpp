#include "aws/transport.h"

namespace consulecs::aws {

Transport default_transport() {
  return [](const http::Request& request) {
    http::Client client;
    return client.send(request);
  };
}

}  // namespace consulecs::aws
