// Preloaded into every node program in the sandbox (`NODE_OPTIONS=--require <this file>`, see
// src/sandbox/bwrap.ts). Node 20 and 22 ignore HTTPS_PROXY in `fetch` and in the http/https
// modules, and the sandbox has no route out but the proxy: without this, a program that works on
// the host fails inside with EAI_AGAIN. With it, programs work unchanged:
//   - fetch (Node's bundled undici, and any npm undici that has not set its own dispatcher) goes
//     through undici's EnvHttpProxyAgent, loaded on the first request so a program that never
//     fetches pays nothing;
//   - http.globalAgent forwards plain requests to the proxy (absolute-form request line), and
//     https.globalAgent opens a CONNECT tunnel through it, then TLS to the origin.
// Hosts in NO_PROXY (the sandbox sets its own loopback) are reached directly. Plain CommonJS with
// no imports from the project, like the init: it runs before every program.
"use strict";

const UNDICI = "/etc/airlock/node/undici";

function proxyUrl(env, secure) {
  const raw = secure
    ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
    : (env.HTTP_PROXY ?? env.http_proxy);
  if (!raw) return null;
  try {
    const url = new URL(raw);
    return url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

/** NO_PROXY as curl reads it: `*`, or names that match themselves and their subdomains. */
function bypassesProxy(env, host) {
  const list = (env.NO_PROXY ?? env.no_proxy ?? "").split(/[\s,]+/).filter(Boolean);
  const name = String(host)
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
  return list.some((entry) => {
    if (entry === "*") return true;
    const bare = entry
      .replace(/^\[|\]$/g, "")
      .replace(/^\*?\./, "")
      .toLowerCase();
    return name === bare || name.endsWith(`.${bare}`);
  });
}

function installFetchDispatcher() {
  let agent;
  const real = () => {
    // Plain http:// is forwarded (absolute-form request line), as curl does, not tunnelled: the
    // proxy decides such requests at L7 and serves policy.local that way.
    agent ??= new (require(UNDICI).EnvHttpProxyAgent)({ proxyTunnel: false });
    return agent;
  };
  const dispatcher = {
    dispatch: (options, handler) => real().dispatch(options, handler),
    close: (...args) => real().close(...args),
    destroy: (...args) => real().destroy(...args),
  };
  // The keys undici (bundled or from npm) reads its global dispatcher from; writable, so a
  // program that sets its own dispatcher still can.
  for (const key of ["undici.globalDispatcher.1", "undici.globalDispatcher.2"]) {
    Object.defineProperty(globalThis, Symbol.for(key), {
      value: dispatcher,
      writable: true,
      enumerable: false,
      configurable: false,
    });
  }
}

function installCoreAgents(env) {
  const http = require("node:http");
  const https = require("node:https");
  const tls = require("node:tls");
  const net = require("node:net");
  const plain = proxyUrl(env, false);
  const secure = proxyUrl(env, true);

  if (plain) {
    class ForwardAgent extends http.Agent {
      addRequest(req, options) {
        if (bypassesProxy(env, options.host ?? "localhost")) return super.addRequest(req, options);
        const host = net.isIPv6(options.host) ? `[${options.host}]` : options.host;
        const port = Number(options.port) || 80;
        req.path = `http://${host}${port === 80 ? "" : `:${port}`}${req.path}`;
        // A request line stored before the agent saw it (array headers, Expect) is rewritten.
        if (req._header) {
          req._header = null;
          req._implicitHeader();
        }
        return super.addRequest(req, {
          ...options,
          host: plain.hostname,
          hostname: plain.hostname,
          port: Number(plain.port) || 80,
        });
      }
    }
    http.globalAgent = new ForwardAgent({ keepAlive: true });
  }

  if (secure) {
    class TunnelAgent extends https.Agent {
      createConnection(options, callback) {
        const origin = options.host ?? "localhost";
        if (bypassesProxy(env, origin)) return super.createConnection(options, callback);
        const target = `${net.isIPv6(origin) ? `[${origin}]` : origin}:${Number(options.port) || 443}`;
        const request = http.request({
          host: secure.hostname,
          port: Number(secure.port) || 80,
          method: "CONNECT",
          path: target,
          headers: { host: target },
          agent: false,
        });
        request.once("connect", (response, socket, head) => {
          if (response.statusCode === 200) {
            if (head.length > 0) socket.unshift(head);
            const servername = options.servername ?? (net.isIP(origin) ? undefined : origin);
            callback(null, tls.connect({ ...options, socket, servername }));
            return;
          }
          // The proxy's answer (Airlock's structured 403) becomes the error the program sees.
          const chunks = [head];
          socket.on("data", (chunk) => chunks.push(chunk));
          socket.once("close", () => {
            const body = Buffer.concat(chunks).toString("utf8").slice(0, 16_384);
            const error = new Error(
              `the proxy refused CONNECT ${target}: ${response.statusCode} ${response.statusMessage}${body ? `\n${body}` : ""}`,
            );
            error.code = "ERR_PROXY_TUNNEL";
            error.statusCode = response.statusCode;
            error.body = body;
            callback(error);
          });
          socket.once("error", () => {});
          setTimeout(() => socket.destroy(), 5_000).unref();
        });
        request.once("error", (error) => callback(error));
        request.end();
        return undefined;
      }
    }
    https.globalAgent = new TunnelAgent({ keepAlive: true });
  }
}

if (proxyUrl(process.env, true) || proxyUrl(process.env, false)) {
  installFetchDispatcher();
  installCoreAgents(process.env);
}
