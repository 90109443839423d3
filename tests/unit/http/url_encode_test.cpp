#include <gtest/gtest.h>

#include "http/client.h"

using consulecs::http::url_encode;

TEST(UrlEncode, KeepsOnlyUnreservedAndRequested) {
  EXPECT_EQ(url_encode("aZ09-_.~"), "aZ09-_.~");
  EXPECT_EQ(url_encode("a b/c:d"), "a%20b%2Fc%3Ad");
  EXPECT_EQ(url_encode("arn:aws:ecs:us-east-1:1:cluster/x", ":/"), "arn:aws:ecs:us-east-1:1:cluster/x");
  EXPECT_EQ(url_encode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(url_encode(""), "");
}
