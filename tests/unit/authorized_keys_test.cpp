#include "sshdctl/accounts/authorized_keys.h"

#include <gtest/gtest.h>

#include "sshdctl/common/error.h"

namespace sshdctl::accounts {
namespace {

// Real keys made with ssh-keygen (the sk- key's blob is built by hand: no FIDO device here).
const std::string kEd25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqW3VfFYFLEy68cY+L7913UyM0GxFtg4vJuv5joGIO+ alice@laptop";
const std::string kEcdsa =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAXtFaNRvHy8KfH5abVxt1vBEAWUwc/"
    "a0tlBzuTRzQ+D4iXNfFymRX32uliL+6avI07XbUpG+3vrAT9PMCiOAlQ= p256";
const std::string kRsa =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQC5RD0NGvuJFQvoV9+BdKnMfGVFa9T/6oF3Pir3w7i+BLxz/"
    "Mk6cQm09YNqcEQG3WE6ZceiokB8Hh3wI36EAcKx4eDcYF0KnLiowgf9vMg851WAP7Ha+"
    "jAtB2RmiDK8qXipWp8eczOMtrI06ZWtQ6SEsCPznDLTktVmIV9HNi7gve37vsVyGKfzGsRxi8u64iECfYKTEnCILhVRV7qyzqOWZ/"
    "QJIUpAxpnqL3hzhpc2LLMt/9O214OfJ4YX+jywzGIcQGkQV1rfNIt6dbs0doLQ9xUF7+18FdHNwoQJ2dC+6n7/"
    "Z3OUhj2iGFwiglHfOQHuqb3LM4jVmvQ9d82x0F0d rsa2048";
const std::string kCert =
    "ssh-ed25519-cert-v01@openssh.com "
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIFNBCQ6RFq8d7+"
    "1R58WXtcS05qWomLtARrV96GaeY7uJAAAAIBqW3VfFYFLEy68cY+L7913UyM0GxFtg4vJuv5joGIO+"
    "AAAAAAAAAAAAAAABAAAABWNlcnQxAAAACQAAAAVhbGljZQAAAAAAAAAA//////////"
    "8AAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1m"
    "b3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDQ6r9F4w"
    "9kF1FTnymhx3Qtq1WTBpmpRcVTzN0PNadZOAAAAFMAAAALc3NoLWVkMjU1MTkAAABApVTkG69w+"
    "J5PsWEMA3Rc69v9Bcvuk6S9NHhhOIPvwPOlAOIusjP5Izqj/BNrGuZ179MS2EeWWB4602zFNKtyCw== alice@laptop";
const std::string kSk =
    "sk-ssh-ed25519@openssh.com "
    "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJTzto1K0d7/9nzAG9cC7w7HJ1MWm16q3PKcQJpnTFYCAAAABHNzaDo= yubikey";

TEST(PublicKeyLine, ParsesTypeBlobAndComment) {
  const auto key = parse_public_key(kEd25519);
  EXPECT_EQ(key.type, "ssh-ed25519");
  EXPECT_EQ(key.comment, "alice@laptop");
  EXPECT_TRUE(key.options.empty());
  EXPECT_EQ(key_fingerprint(key), "SHA256:TmycJgANxy7Be9msS0dsI7vvGVjX1AVTjGclV0nrqdA") << "as ssh-keygen -l says";
}

TEST(PublicKeyLine, ParsesOptionsWithQuotesCommasAndSpaces) {
  const auto key =
      parse_public_key("from=\"10.0.0.0/8,192.0.2.1\",command=\"echo \\\"hi there\\\"\",no-pty " + kEd25519);
  ASSERT_EQ(key.options.size(), 3U);
  EXPECT_EQ(key.options[0], (KeyOption{"from", std::string("10.0.0.0/8,192.0.2.1")}));
  EXPECT_EQ(key.options[1], (KeyOption{"command", std::string("echo \\\"hi there\\\"")}));
  EXPECT_EQ(key.options[2], (KeyOption{"no-pty", std::nullopt}));
  EXPECT_EQ(render_options(key.options), "from=\"10.0.0.0/8,192.0.2.1\",command=\"echo \\\"hi there\\\"\",no-pty");
  EXPECT_EQ(key.type, "ssh-ed25519");
}

TEST(PublicKeyLine, EveryKeyTypeSshdAcceptsPasses) {
  for (const auto& line : {kEd25519, kEcdsa, kRsa, kCert, kSk}) {
    const auto key = parse_public_key(line);
    EXPECT_EQ(key_problem(key), std::nullopt) << line;
    EXPECT_EQ(key_fingerprint(key).rfind("SHA256:", 0), 0U) << line;
  }
  EXPECT_EQ(parse_public_key(kCert).type, "ssh-ed25519-cert-v01@openssh.com");
  EXPECT_EQ(parse_public_key(kSk).type, "sk-ssh-ed25519@openssh.com");
}

TEST(PublicKeyLine, MalformedLinesAreRefused) {
  EXPECT_THROW(parse_public_key(""), Error);
  EXPECT_THROW(parse_public_key("# just a comment"), Error);
  EXPECT_THROW(parse_public_key("ssh-ed25519"), Error);
  EXPECT_THROW(parse_public_key("hello world"), Error);
  EXPECT_THROW(parse_public_key("from=\"unterminated " + kEd25519), Error);
  EXPECT_THROW(parse_public_key("from=unquoted " + kEd25519), Error);
}

TEST(KeyProblem, NamesWhatSshdWouldRefuse) {
  auto key = parse_public_key(kEd25519);
  key.blob[20] = key.blob[20] == 'A' ? 'B' : 'A';
  key.blob.resize(30);
  EXPECT_NE(key_problem(key).value_or("").find("not a valid ssh-ed25519 key"), std::string::npos);
  auto mismatched = parse_public_key(kEd25519);
  mismatched.type = "ssh-rsa";
  EXPECT_NE(key_problem(mismatched).value_or("").find("not a valid ssh-rsa key"), std::string::npos);
  auto dsa = parse_public_key(kEd25519);
  dsa.type = "ssh-dss";
  EXPECT_NE(key_problem(dsa).value_or("").find("ssh-dss"), std::string::npos);
  EXPECT_NE(key_problem(parse_public_key("no-such-option " + kEd25519)).value_or("").find("unknown key option"),
            std::string::npos);
  EXPECT_NE(key_problem(parse_public_key("from " + kEd25519)).value_or("").find("needs a value"), std::string::npos);
  EXPECT_NE(key_problem(parse_public_key("no-pty=\"x\" " + kEd25519)).value_or("").find("takes no value"),
            std::string::npos);
  EXPECT_NE(key_problem(parse_public_key("expiry-time=\"soon\" " + kEd25519)).value_or("").find("YYYYMMDD"),
            std::string::npos);
  EXPECT_EQ(key_problem(parse_public_key("No-Pty,FROM=\"192.0.2.1\" " + kEd25519)), std::nullopt)
      << "sshd reads option names in any case";
}

TEST(AuthorizedKeysFile, ExpandsTokensAndRelativePaths) {
  host::Account alice{"alice", 1001, 1001, "/home/alice", "/bin/bash"};
  EXPECT_EQ(authorized_keys_files({".ssh/authorized_keys", ".ssh/authorized_keys2"}, alice),
            (std::vector<std::string>{"/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys2"}));
  EXPECT_EQ(authorized_keys_files({"/etc/ssh/keys/%u", "%h/.ssh/k_%U", "/srv/100%%/%u"}, alice),
            (std::vector<std::string>{"/etc/ssh/keys/alice", "/home/alice/.ssh/k_1001", "/srv/100%/alice"}));
  EXPECT_TRUE(authorized_keys_files({"none"}, alice).empty());
  EXPECT_THROW(authorized_keys_files({"%x"}, alice), Error);
}

TEST(ExpiryTime, ReadsEveryFormSshdAcceptsAndWritesUtc) {
  EXPECT_EQ(key_expiry(parse_public_key(kEd25519)), std::nullopt);
  EXPECT_EQ(key_expiry(parse_public_key("expiry-time=\"20300102Z\" " + kEd25519)), 1893542400);
  EXPECT_EQ(key_expiry(parse_public_key("expiry-time=\"203001020304Z\" " + kEd25519)), 1893542400 + 3 * 3600 + 4 * 60);
  EXPECT_EQ(key_expiry(parse_public_key("expiry-time=\"20300102030405Z\" " + kEd25519)),
            1893542400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(expiry_value(1893542400 + 3 * 3600 + 4 * 60 + 5), "20300102030405Z");
  EXPECT_THROW(key_expiry(parse_public_key("expiry-time=\"2030\" " + kEd25519)), Error);
}

TEST(ExpiryTime, BeforeOpenSsh87TheValueIsSshdsLocalTime) {
  const std::time_t when = 1893542400 + 3 * 3600 + 4 * 60 + 5;  // 2030-01-02 03:04:05 UTC
  EXPECT_EQ(expiry_value(when, 0), "20300102030405");
  EXPECT_EQ(expiry_value(when, 5 * 3600 + 30 * 60), "20300102083405");
  EXPECT_EQ(expiry_value(when, -8 * 3600), "20300101190405");
  EXPECT_EQ(parse_utc_offset("+0530\n"), 5 * 3600 + 30 * 60);
  EXPECT_EQ(parse_utc_offset("-0800"), -8 * 3600);
  EXPECT_EQ(parse_utc_offset("+0000"), 0);
  EXPECT_EQ(parse_utc_offset("UTC"), std::nullopt);
  EXPECT_EQ(parse_utc_offset("+05:30"), std::nullopt);
  EXPECT_EQ(parse_utc_offset("+9900"), std::nullopt);
  EXPECT_EQ(parse_utc_offset(""), std::nullopt);
}

}  // namespace
}  // namespace sshdctl::accounts
