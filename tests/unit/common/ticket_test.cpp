// SPDX-License-Identifier: Apache-2.0
// Piece tickets: what a daemon accepts, and each way a requester might try to get past it.
#include <gtest/gtest.h>

#include <string>

#include "damselfly/common/hex.hpp"
#include "damselfly/common/ticket_memo.hpp"
#include "damselfly/common/ticket_signer.hpp"
#include "damselfly/common/ticket_verifier.hpp"

namespace damselfly {
namespace {

const std::string task(64, 'a');
const std::string other_task(64, 'b');
constexpr std::int64_t now = 1'800'000'000;

ticket_verifier verifier_of(const ticket_signer& s) {
  auto v = ticket_verifier::from_public_key(s.public_key());
  EXPECT_TRUE(v.has_value());
  return std::move(*v);
}

TEST(Hex, RoundTripsAndRefusesWhatIsNotLowercaseHex) {
  std::string bytes("\x00\x7f\x80\xff", 4);
  EXPECT_EQ(to_hex(bytes.data(), bytes.size()), "007f80ff");
  EXPECT_EQ(from_hex("007f80ff"), bytes);
  EXPECT_FALSE(from_hex("0"));
  EXPECT_FALSE(from_hex("0G"));
  EXPECT_FALSE(from_hex("AB"));
  EXPECT_EQ(from_hex(""), std::string());
}

TEST(Ticket, TheSameSecretGivesTheSameKeyAndAnotherSecretAnother) {
  ticket_signer a("secret one"), again("secret one"), b("secret two");
  EXPECT_EQ(a.public_key().size(), 64u);
  EXPECT_EQ(a.public_key(), again.public_key());
  EXPECT_NE(a.public_key(), b.public_key());
}

TEST(Ticket, AnIssuedTicketOpensItsTaskForItsPeerUntilItExpires) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto t = s.issue(task, "peer-1", now + 600);
  EXPECT_EQ(v.check(t, task, "peer-1", now), ticket_check::ok);
  EXPECT_EQ(v.check(t, task, "peer-1", now + 600), ticket_check::ok);
  // Clocks a little apart still agree; further apart, it is over.
  EXPECT_EQ(v.check(t, task, "peer-1", now + 600 + ticket_clock_skew), ticket_check::ok);
  EXPECT_EQ(v.check(t, task, "peer-1", now + 601 + ticket_clock_skew), ticket_check::expired);
}

TEST(Ticket, APeerCannotUseItsTicketForAnotherTaskOrLendItToAnotherPeer) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto t = s.issue(task, "peer-1", now + 600);
  EXPECT_EQ(v.check(t, other_task, "peer-1", now), ticket_check::forged);
  EXPECT_EQ(v.check(t, task, "peer-2", now), ticket_check::forged);
  EXPECT_EQ(v.check(t, task, "", now), ticket_check::forged);
}

TEST(Ticket, ExtendingTheExpiryBreaksTheSignature) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto t = s.issue(task, "peer-1", now - 3600);
  EXPECT_EQ(v.check(t, task, "peer-1", now), ticket_check::expired);
  auto dot = t.find('.');
  auto stretched = std::to_string(now + 3600) + t.substr(dot);
  EXPECT_EQ(v.check(stretched, task, "peer-1", now), ticket_check::forged);
}

TEST(Ticket, AnotherSupernodesTicketIsRefused) {
  ticket_signer ours("ours"), theirs("theirs");
  auto v = verifier_of(ours);
  EXPECT_EQ(v.check(theirs.issue(task, "peer-1", now + 600), task, "peer-1", now),
            ticket_check::forged);
}

TEST(Ticket, AFlippedSignatureBitIsRefused) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto t = s.issue(task, "peer-1", now + 600);
  t.back() = t.back() == '0' ? '1' : '0';
  EXPECT_EQ(v.check(t, task, "peer-1", now), ticket_check::forged);
}

TEST(Ticket, TextThatIsNoTicketIsMalformedNotACrash) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto good = s.issue(task, "peer-1", now + 600);
  auto sig = good.substr(good.find('.'));
  EXPECT_EQ(v.check("", task, "peer-1", now), ticket_check::missing);
  for (std::string bad : {std::string("."), std::string("123"), "123." + std::string(127, 'a'),
                          "123." + std::string(129, 'a'), "-5" + sig, "+5" + sig, "0x10" + sig,
                          "99999999999999999999" + sig, "12a" + sig, sig, "0" + good,
                          "123." + std::string(128, 'A'), "123." + std::string(128, 'g')})
    EXPECT_EQ(v.check(bad, task, "peer-1", now), ticket_check::malformed) << bad;
}

TEST(Ticket, AKeyMustBeSixtyFourHexCharacters) {
  EXPECT_FALSE(ticket_verifier::from_public_key(""));
  EXPECT_FALSE(ticket_verifier::from_public_key(std::string(62, 'a')));
  EXPECT_FALSE(ticket_verifier::from_public_key(std::string(64, 'z')));
  EXPECT_FALSE(ticket_verifier::from_public_key(std::string(66, 'a')));
  EXPECT_TRUE(ticket_verifier::from_public_key(ticket_signer("x").public_key()));
}

}  // namespace

TEST(SignedDigest, ASignedDigestVouchesForThatPieceOfThatTaskAndVersionOnly) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  const std::string sha(64, 'c');
  auto signed_digest = s.sign_digest(task, "v1", 7, sha);
  EXPECT_EQ(v.check_digest(signed_digest, task, "v1", 7), sha);
  // Moved to another piece, task or version, it vouches for nothing.
  EXPECT_FALSE(v.check_digest(signed_digest, task, "v1", 8));
  EXPECT_FALSE(v.check_digest(signed_digest, other_task, "v1", 7));
  EXPECT_FALSE(v.check_digest(signed_digest, task, "v2", 7));
  // Another supernode's signature is none.
  ticket_signer other("other secret");
  EXPECT_FALSE(verifier_of(other).check_digest(signed_digest, task, "v1", 7));
}

TEST(SignedDigest, AttackAPeerSwappingInTheDigestOfItsOwnBytesIsCaught) {
  // A peer serving a bad piece sends the signature it was given with the
  // SHA-256 of what it sends instead: the signature no longer matches.
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto good = s.sign_digest(task, "v1", 0, std::string(64, 'c'));
  auto forged = s.sign_digest(task, "v1", 0, std::string(64, 'd')).substr(0, 45) + good.substr(45);
  EXPECT_FALSE(v.check_digest(forged, task, "v1", 0));
  // One bit of the signature flipped.
  auto flipped = good;
  flipped[50] = flipped[50] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(v.check_digest(flipped, task, "v1", 0));
}

TEST(SignedDigest, TextThatIsNoSignedDigestIsRefusedNotACrash) {
  ticket_signer s("secret");
  auto v = verifier_of(s);
  auto good = s.sign_digest(task, "v1", 0, std::string(64, 'c'));
  for (const std::string& bad :
       {std::string(), std::string("."), good.substr(1), good + "=", std::string(133, '.'),
        good.substr(0, 44) + "!" + good.substr(45), std::string(133, '\0')})
    EXPECT_FALSE(v.check_digest(bad, task, "v1", 0)) << bad;
  EXPECT_THROW(s.sign_digest(task, "v1", 0, "not hex"), std::invalid_argument);
}

TEST(TicketMemo, ARememberedTicketStillExpiresAndOpensNothingElse) {
  ticket_signer s("secret"), other("other secret");
  ticket_memo memo;
  auto t = s.issue(task, "peer-1", now + 600);
  EXPECT_EQ(memo.check(s.public_key(), t, task, "peer-1", now), ticket_check::ok);
  EXPECT_EQ(memo.remembered(), 1u);
  EXPECT_EQ(memo.check(s.public_key(), t, task, "peer-1", now + 1), ticket_check::ok);
  EXPECT_EQ(memo.remembered(), 1u);
  // Its expiry is checked on every request, remembered or not.
  EXPECT_EQ(memo.check(s.public_key(), t, task, "peer-1", now + 601 + ticket_clock_skew),
            ticket_check::expired);
  // Not lent to another peer or task, nor good under another supernode's key.
  EXPECT_EQ(memo.check(s.public_key(), t, task, "peer-2", now), ticket_check::forged);
  EXPECT_EQ(memo.check(s.public_key(), t, other_task, "peer-1", now), ticket_check::forged);
  EXPECT_EQ(memo.check(other.public_key(), t, task, "peer-1", now), ticket_check::forged);
  EXPECT_EQ(memo.check("not a key", t, task, "peer-1", now), std::nullopt);
  EXPECT_EQ(memo.remembered(), 1u);
}

TEST(TicketMemo, AttackPartsShiftedBetweenHeadersDoNotMatchARememberedTicket) {
  // peer-1's ticket was remembered. A requester moves bytes between the
  // peer and ticket headers so that the parts joined would read the same:
  // each part is kept with its length, and the signature is checked.
  ticket_signer s("secret");
  ticket_memo memo;
  auto t = s.issue(task, "peer-1", now + 600);
  ASSERT_EQ(memo.check(s.public_key(), t, task, "peer-1", now), ticket_check::ok);
  EXPECT_EQ(memo.check(s.public_key(), "1" + t, task, "peer-", now), ticket_check::forged);
  EXPECT_EQ(memo.check(s.public_key(), t.substr(1), task, "peer-1" + t.substr(0, 1), now),
            ticket_check::forged);
  EXPECT_EQ(memo.check(s.public_key(), "", task, "peer-1", now), ticket_check::missing);
}

TEST(TicketMemo, HoldsABoundedNumberOfTickets) {
  ticket_signer s("secret");
  ticket_memo memo;
  for (std::size_t i = 0; i <= ticket_memo::most_tickets; ++i) {
    auto peer = "peer-" + std::to_string(i);
    ASSERT_EQ(memo.check(s.public_key(), s.issue(task, peer, now + 600), task, peer, now),
              ticket_check::ok);
  }
  EXPECT_LE(memo.remembered(), ticket_memo::most_tickets);
  EXPECT_GE(memo.remembered(), 1u);
}

}  // namespace damselfly
