// The console's HTTP client: JSON calls with the party's bearer token, RFC 9457 problems turned
// into readable errors, and a server-sent-events reader built on fetch() (EventSource cannot send
// an Authorization header), which resumes with Last-Event-ID after a dropped connection.

/** An HTTP answer that was not a success; `problem` is the RFC 9457 body when there is one. */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const detail = problem && (problem.detail || problem.title);
    super(detail ? String(detail) : fallback);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || null;
  }

  /** One line per faulty field, as the problem names them. */
  fieldMessages() {
    const errors = (this.problem && this.problem.errors) || [];
    return errors.map((e) => (e.field ? `${e.field}: ${e.message}` : String(e.message)));
  }
}

export class Api {
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
    this.onUnauthorized = null;
  }

  headers(extra = {}) {
    const h = { Accept: "application/json", ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  async request(method, path, body, { allow404 = false } = {}) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.base + path, init);
    } catch (err) {
      throw new ApiError(0, null, `the server cannot be reached (${err.message})`);
    }
    if (res.status === 404 && allow404) return null;
    if (res.status === 204) return null;
    const type = res.headers.get("Content-Type") || "";
    const json = type.includes("json") ? await res.json().catch(() => null) : null;
    if (!res.ok) {
      if (res.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(res.status, json, `${method} ${path} answered ${res.status}`);
    }
    return json;
  }

  get(path, opts) {
    return this.request("GET", path, undefined, opts);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  put(path, body) {
    return this.request("PUT", path, body);
  }
}

/**
 * Parses a text/event-stream incrementally (WHATWG HTML §9.2.6): feed it decoded chunks, it calls
 * onMessage({id, event, data}) for each dispatched event and onRetry(ms) for a retry field.
 */
export class SseParser {
  constructor(onMessage, onRetry = () => {}) {
    this.onMessage = onMessage;
    this.onRetry = onRetry;
    this.buffer = "";
    this.reset();
    this.lastId = null;
  }

  reset() {
    this.data = [];
    this.event = "";
    this.idSeen = false;
  }

  feed(chunk) {
    this.buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) return;
      // A lone \r at the very end may be the first half of \r\n: wait for more text.
      if (m[0] === "\r" && m.index === this.buffer.length - 1) return;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.onMessage({ id: this.lastId, event: this.event || "message", data: this.data.join("\n") });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/**
 * Follows GET /v1/events with the bearer token; reconnects after `retry` ms with Last-Event-ID
 * so no event is lost or repeated. `onStatus` hears "live", "reconnecting" or "stopped".
 */
export class EventStream {
  constructor(api, { lastId = null, onEvent, onStatus = () => {} }) {
    this.api = api;
    this.lastId = lastId;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.retryMs = 1000;
    this.controller = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    this.onStatus("stopped");
  }

  async loop() {
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        await this.once(this.controller.signal);
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ApiError && err.status === 401) {
          this.onStatus("stopped");
          return;
        }
      }
      if (this.stopped) return;
      this.onStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
  }

  async once(signal) {
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.lastId !== null) headers["Last-Event-ID"] = String(this.lastId);
    const res = await fetch(`${this.api.base}/v1/events`, { headers, signal, cache: "no-store" });
    if (!res.ok) {
      const problem = await res.json().catch(() => null);
      if (res.status === 401 && this.api.onUnauthorized) this.api.onUnauthorized();
      throw new ApiError(res.status, problem, `events answered ${res.status}`);
    }
    this.onStatus("live");
    const parser = new SseParser(
      (msg) => {
        if (msg.id !== null) this.lastId = msg.id;
        let data;
        try {
          data = JSON.parse(msg.data);
        } catch {
          return;
        }
        this.onEvent(data, msg);
      },
      (ms) => {
        this.retryMs = Math.max(250, Math.min(ms, 30000));
      },
    );
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  }
}

/** Sends a file to the user's disk from memory. */
export function download(filename, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
