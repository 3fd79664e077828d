// The connection to the chat server: the official socket.io client
// (vendor/socket.io.esm.min.js, see vendor/README.md), configured for a
// patient's browser.
//
// - A WebSocket first, as before; where a proxy refuses WebSockets the library
//   falls back to HTTP long-polling at once (tryAllTransports). If connecting
//   times out (a proxy that holds the upgrade instead of refusing it), later
//   attempts start with long-polling and upgrade only if that works.
// - The library reconnects after a lost connection (1 s doubling to 30 s, +-25%)
//   and detects a silent server from its pings. It does not retry when the
//   server itself refuses or ends the connection (e.g. too many connections
//   from one address): retryLater() does that here, with the same back-off.
// - Nothing is queued by the library: emit() refuses while disconnected, and
//   the conversation (main.js) queues the patient's messages itself until the
//   server confirms the session again.

import { io } from '../vendor/socket.io.esm.min.js';

var MIN_DELAY_MS = 1000;
var MAX_DELAY_MS = 30000;
var JITTER = 0.25;

// handlers: connect(), disconnect(wasConnectedBefore), event(name, data)
export function openConnection(serverUrl, socketPath, handlers) {
  var socket = io(serverUrl, {
    path: socketPath,
    autoConnect: false,
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    reconnectionDelay: MIN_DELAY_MS,
    reconnectionDelayMax: MAX_DELAY_MS,
    randomizationFactor: JITTER
  });
  var started = false;
  var everConnected = false; // "Reconnecting…" rather than "Connecting…"
  var refusals = 0;
  var retryTimer = null;

  function retryLater() {
    if (retryTimer) {
      return;
    }
    var delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * Math.pow(2, refusals)) *
      (1 - JITTER + Math.random() * 2 * JITTER);
    refusals = Math.min(refusals + 1, 5);
    retryTimer = setTimeout(function () {
      retryTimer = null;
      socket.connect();
    }, delay);
  }

  socket.on('connect', function () {
    everConnected = true;
    refusals = 0;
    handlers.connect();
  });
  socket.on('disconnect', function () {
    handlers.disconnect(everConnected);
    if (!socket.active) { // the server ended it: the library will not reconnect
      retryLater();
    }
  });
  socket.on('connect_error', function (error) {
    if (error && error.message === 'timeout') {
      socket.io.opts.transports = ['polling', 'websocket'];
    }
    handlers.disconnect(everConnected);
    if (!socket.active) { // refused by the server, not a network error
      retryLater();
    }
  });
  socket.onAny(function (name, data) {
    handlers.event(name, data);
  });

  return {
    start: function () {
      if (!started) {
        started = true;
        socket.connect();
      }
    },
    isStarted: function () {
      return started;
    },
    isConnected: function () {
      return socket.connected;
    },
    // false (nothing sent) unless connected
    emit: function (event, data) {
      if (!socket.connected) {
        return false;
      }
      socket.emit(event, data);
      return true;
    },
    // The browser is back online: try now rather than at the next back-off step.
    retryNow: function () {
      if (started && !socket.connected) {
        clearTimeout(retryTimer);
        retryTimer = null;
        refusals = 0;
        socket.disconnect();
        socket.connect();
      }
    }
  };
}
