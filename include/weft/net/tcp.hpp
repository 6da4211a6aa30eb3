// weft's networking layer in one include: addresses, listeners and streams (TCP and
// Unix-domain sockets share one API; see stream.hpp and listener.hpp).
#pragma once

#include <weft/net/address.hpp>
#include <weft/net/connect.hpp>
#include <weft/net/dns.hpp>
#include <weft/net/listener.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/stream.hpp>
