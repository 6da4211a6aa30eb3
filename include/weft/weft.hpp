// Everything of weft's core in one include.
#pragma once

#include <weft/async.hpp>
#include <weft/cancel.hpp>
#include <weft/combinators.hpp>
#include <weft/error.hpp>
#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/phase_handle.hpp>
#include <weft/pool.hpp>
#include <weft/signal.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>
