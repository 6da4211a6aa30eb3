// Certificates for TLS tests, made at test time with the OpenSSL API (never checked-in
// keys that expire): a CA, leaves it signs (DNS names, IP addresses, a validity window
// relative to now), self-signed leaves. ECDSA P-256: quick to make.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft::testing {

struct Pem {
  std::string cert;
  std::string key;
};

class TestCa {
 public:
  explicit TestCa(const std::string& cn = "weft test CA") : key_(new_key()) {
    cert_ = make_cert(cn, {}, key_.get(), nullptr, nullptr, 0, 3600, true);
  }
  std::string cert_pem() const { return to_pem(cert_.get()); }

  // A leaf for `names` (DNS names or IP literals), valid from now+from_s to now+to_s.
  Pem issue(const std::vector<std::string>& names, long from_s = -60, long to_s = 3600,
            const std::string& cn = {}) const {
    auto key = new_key();
    auto cert = make_cert(cn.empty() ? names.front() : cn, names, key.get(), cert_.get(),
                          key_.get(), from_s, to_s, false);
    return {to_pem(cert.get()), key_pem(key.get())};
  }

  // Signed by its own key.
  static Pem self_signed(const std::vector<std::string>& names) {
    auto key = new_key();
    auto cert = make_cert(names.front(), names, key.get(), nullptr, nullptr, -60, 3600, false);
    return {to_pem(cert.get()), key_pem(key.get())};
  }

 private:
  using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

  static KeyPtr new_key() {
    KeyPtr k(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    if (!k) throw std::runtime_error("EVP_EC_gen failed");
    return k;
  }

  static void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  static CertPtr make_cert(const std::string& cn, const std::vector<std::string>& names,
                           EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long from_s,
                           long to_s, bool ca) {
    CertPtr cert(X509_new(), &X509_free);
    static long serial = 1;
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    add_ext(cert.get(), issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    std::string san;
    for (const std::string& n : names) {
      const bool ip = n.find_first_not_of("0123456789.") == std::string::npos ||
                      n.find(':') != std::string::npos;
      san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
    }
    if (!san.empty()) add_ext(cert.get(), issuer, NID_subject_alt_name, san);
    if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
      throw std::runtime_error("X509_sign failed");
    }
    return cert;
  }

  static std::string to_pem(X509* cert) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    return drain(b);
  }
  static std::string key_pem(EVP_PKEY* key) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    return drain(b);
  }
  static std::string drain(BIO* b) {
    char* data = nullptr;
    const long n = BIO_ctrl(b, BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data casts C-style
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
  }

  KeyPtr key_;
  CertPtr cert_{nullptr, &X509_free};
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace weft::testing
