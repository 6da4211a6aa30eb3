// Session ticket keys with rotation (context_state.hpp, TicketKeys).
#include "tls/context_state.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace weft::tls::detail {

void TicketKeys::set_rotation(std::chrono::seconds r) {
  std::lock_guard lock(mu_);
  rotation_ = r;
}

std::uint64_t TicketKeys::rotations() const {
  std::lock_guard lock(mu_);
  return rotations_;
}

void TicketKeys::rotate_if_due() {
  const auto now = std::chrono::steady_clock::now();
  if (count_ > 0 && now - keys_[0].created < rotation_) return;
  Key k{};
  if (RAND_bytes(k.name, sizeof k.name) != 1 || RAND_bytes(k.aes, sizeof k.aes) != 1 ||
      RAND_bytes(k.hmac, sizeof k.hmac) != 1) {
    return;  // keep the old key rather than none
  }
  k.created = now;
  keys_[1] = keys_[0];
  keys_[0] = k;
  count_ = std::min<std::size_t>(count_ + 1, 2);
  ++rotations_;
}

// enc = 1: a new ticket with the current key (1: done, -1: failure).
// enc = 0: the key named `name`: 1 decrypt, 2 decrypt and issue a fresh ticket (an older
// key), 0 unknown key (a full handshake).
int TicketKeys::handle(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                       EVP_MAC_CTX* mac, int enc) {
  std::lock_guard lock(mu_);
  const Key* key = nullptr;
  int result = 1;
  if (enc) {
    rotate_if_due();
    if (count_ == 0 || RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    key = &keys_[0];
    std::memcpy(name, key->name, sizeof key->name);
  } else {
    for (std::size_t i = 0; i < count_ && !key; ++i) {
      if (std::memcmp(name, keys_[i].name, sizeof keys_[i].name) == 0) {
        key = &keys_[i];
        result = i == 0 ? 1 : 2;
      }
    }
    if (!key) return 0;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac),
                                        sizeof key->hmac),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = enc ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv)
                     : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv);
  return ok == 1 ? result : -1;
}

}  // namespace weft::tls::detail
