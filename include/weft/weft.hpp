// Every layer of weft in one include, for programs that link weft::weft: the core, net,
// fs, http (server, router, middleware, static files, cors, access_log, rate_limit, forms,
// cookies), ws (WebSocket server and client), db and observe. JSON bodies are the optional
// <weft/http/json.hpp> (weft::http_json); the core alone is <weft/core.hpp>.
#pragma once

#include <weft/core.hpp>

#include <weft/fs.hpp>

#include <weft/net/address.hpp>
#include <weft/net/dns.hpp>
#include <weft/net/tcp.hpp>
#include <weft/tls/context.hpp>
#include <weft/tls/stream.hpp>

#include <weft/http/access_log.hpp>
#include <weft/http/client.hpp>
#include <weft/http/compression.hpp>
#include <weft/http/cors.hpp>
#include <weft/http/form.hpp>
#include <weft/http/http_error.hpp>
#include <weft/http/middleware.hpp>
#include <weft/http/rate_limit.hpp>
#include <weft/http/server.hpp>
#include <weft/http/static_files.hpp>
#include <weft/http/uri.hpp>

#include <weft/ws/app.hpp>
#include <weft/ws/client.hpp>

#include <weft/db/database.hpp>
#include <weft/db/migrate.hpp>

#include <weft/observe/mount.hpp>
#include <weft/observe/watchdog.hpp>
