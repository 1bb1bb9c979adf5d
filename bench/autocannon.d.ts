// The part of autocannon's programmatic API the HTTP benchmark uses (the package ships no
// types, and @types/autocannon describes an older major version).

declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    pipelining?: number;
    method?: string;
    headers?: Record<string, string>;
    /** Seconds before a request counts as timed out. */
    timeout?: number;
    /** Requests per second over all connections (default: as fast as answered). */
    overallRate?: number;
  }

  interface Stats {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p99: number;
  }

  interface Result {
    requests: Stats & { sent: number };
    latency: Stats;
    /** Seconds. */
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
  }

  /** Without a callback the returned tracker is also a promise of the result. */
  interface Instance extends EventEmitter, PromiseLike<Result> {
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
    /** Ends the run early; the result then covers the time so far. */
    stop(): void;
  }

  function autocannon(options: Options): Instance;
  export default autocannon;
}
