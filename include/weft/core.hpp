// Everything of weft's core in one include (the loop, timers, the pool, tasks,
// cancellation, combinators): what a program that links only weft::core may include.
#pragma once

#include <weft/async.hpp>
#include <weft/cancel.hpp>
#include <weft/combinators.hpp>
#include <weft/error.hpp>
#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/loop_thread.hpp>
#include <weft/on_loop.hpp>
#include <weft/phase_handle.hpp>
#include <weft/pool.hpp>
#include <weft/signal.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>
