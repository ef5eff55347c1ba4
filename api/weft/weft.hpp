// weft — everything public, in one include.
#pragma once

#include <weft/cancel.hpp>
#include <weft/cancel_scope.hpp>
#include <weft/cancel_token.hpp>
#include <weft/channel.hpp>
#include <weft/config.hpp>
#include <weft/debug.hpp>
#include <weft/error.hpp>
#include <weft/fiber.hpp>
#include <weft/fiber_group.hpp>
#include <weft/fiber_id.hpp>
#include <weft/fs.hpp>
#include <weft/hooks.hpp>
#include <weft/log.hpp>
#include <weft/net.hpp>
#include <weft/offload.hpp>
#include <weft/process.hpp>
#include <weft/runtime.hpp>
#include <weft/runtime_group.hpp>
#include <weft/signal.hpp>
#include <weft/stop_token.hpp>
#include <weft/sync.hpp>
#include <weft/tls.hpp>
#include <weft/unix.hpp>
#include <weft/wait_any.hpp>
