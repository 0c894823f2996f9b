// Preload (node --require ./force-loopback.cjs ...) that forces servers calling
// app.listen(PORT) / server.listen(PORT) without a host (server-everything, the TS SDK example
// servers) onto 127.0.0.1 instead of all interfaces. Explicit hosts and unix sockets are kept.
'use strict';
const net = require('net');
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...a) {
  if (a.length && typeof a[0] === 'object' && a[0] && !a[0].host && a[0].path === undefined && a[0].fd === undefined && !a[0]._handle && !a[0].handle) {
    a[0] = { ...a[0], host: '127.0.0.1' };
  } else if (a.length && /^\d+$/.test(String(a[0])) && typeof a[1] !== 'string') {
    a.splice(1, 0, '127.0.0.1');
  } else if (a.length === 0 || typeof a[0] === 'function') {
    a.unshift(0, '127.0.0.1'); // listen() / listen(cb): random port, loopback
  }
  return orig.apply(this, a);
};
