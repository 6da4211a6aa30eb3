// db::Listener in a build without PostgreSQL (WEFT_WITH_POSTGRES=OFF): the type exists so
// that programs link; constructing one throws.
#include <weft/db/error.hpp>
#include <weft/db/notify.hpp>

namespace weft::db {

struct Listener::Impl {};

Listener::Listener(Loop&, std::string, std::vector<std::string>, ListenerEvents, ListenerOptions) {
  throw Error(errc::bad_url,
              "LISTEN needs PostgreSQL, and weft was built without it (WEFT_WITH_POSTGRES=OFF)");
}

Listener::~Listener() = default;

void Listener::close() {}

ListenerStats Listener::stats() const { return {}; }

}  // namespace weft::db
